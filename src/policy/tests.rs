//! Unit and property tests of `policy::evaluate` on configs captured from Docker 20.10
//! (`testdata/docker-*.json`: what dockerd sends for `docker run` with the flag in the name;
//! the seccomp rule lists are trimmed).

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Capability, LinuxNamespaceType, Process, Spec};
use proptest::prelude::*;

use super::rules::capabilities::{name, requested};
use super::*;

fn fixture(name: &str) -> Spec {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/policy/testdata")
        .join(format!("docker-{name}.json"));
    Spec::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// As the pipeline calls it: with a host ID range allocated for a new user namespace.
fn eval_with(policy: &Policy, spec: &Spec) -> Verdict {
    let facts = Facts::with_test_range(spec, HostFacts::default());
    evaluate(
        policy,
        &Input {
            spec,
            container_id: "71430d4d7bd0",
            facts: &facts,
            systemd_cgroup: false,
        },
    )
}

/// A policy file's text, parsed as `load` does.
fn policy(toml: &str) -> Policy {
    load::parse(toml, Path::new("/p.toml")).unwrap()
}

/// `spec` with the annotation that names the policy profile `profile`.
fn with_profile(mut spec: Spec, profile: &str) -> Spec {
    spec.set_annotations(Some(
        [(PROFILE_ANNOTATION.to_string(), profile.to_string())].into(),
    ));
    spec
}

fn eval(spec: &Spec) -> Verdict {
    eval_with(&Policy::default(), spec)
}

fn refused_rules(v: &Verdict) -> BTreeSet<&'static str> {
    v.refusals.iter().map(|r| r.rule.as_str()).collect()
}

fn caps_of(spec: &Spec) -> HashSet<Capability> {
    requested(spec.process().as_ref())
}

#[test]
fn docker_default_runs_hardened() {
    let v = eval(&fixture("default"));
    assert!(v.refusals.is_empty(), "{:?}", v.refusals);
    let s = &v.hardened;
    let caps = s
        .process()
        .as_ref()
        .unwrap()
        .capabilities()
        .clone()
        .unwrap();
    for set in [
        caps.bounding(),
        caps.effective(),
        caps.inheritable(),
        caps.permitted(),
        caps.ambient(),
    ] {
        assert!(set.as_ref().is_none_or(|s| s.is_empty()), "{set:?}");
    }
    assert_eq!(
        s.process().as_ref().unwrap().no_new_privileges(),
        Some(true)
    );
    assert_eq!(s.root().as_ref().unwrap().readonly(), Some(true));
    let dests: Vec<PathBuf> = s
        .mounts()
        .iter()
        .flatten()
        .map(|m| m.destination().clone())
        .collect();
    assert!(dests.contains(&PathBuf::from("/tmp")) && dests.contains(&PathBuf::from("/run")));
    assert_eq!(pids_limit(s), 1024);
    let linux = s.linux().as_ref().unwrap();
    assert!(linux.seccomp().is_some());
    let masked = linux.masked_paths().clone().unwrap();
    assert!(masked.iter().any(|p| p == "/proc/kcore"));
    let ro = linux.readonly_paths().clone().unwrap();
    assert!(ro.iter().any(|p| p == "/proc/sys"));
    // Docker's own mounts stay.
    for d in [
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/hostname",
        "/dev/shm",
        "/dev/mqueue",
    ] {
        assert!(dests.contains(&PathBuf::from(d)), "{d} missing");
    }
}

#[test]
fn each_docker_flag_is_refused_by_its_rule() {
    let cases: &[(&str, &[&str])] = &[
        ("privileged", &["privileged"]),
        ("cap-all", &["privileged"]),
        ("cap-sys-admin", &["capabilities"]),
        ("pid-host", &["host-namespaces"]),
        ("uts-host", &["host-namespaces"]),
        ("ipc-host", &["host-namespaces", "sensitive-mounts"]),
        ("vol-root", &["sensitive-mounts"]),
        ("vol-sock", &["sensitive-mounts"]),
        ("vol-etc", &["sensitive-mounts"]),
        ("device-vda", &["devices"]),
        ("seccomp-unconfined", &["seccomp"]),
        ("systempaths", &["kernel-paths"]),
    ];
    for (name, rules) in cases {
        let v = eval(&fixture(name));
        let want: BTreeSet<&str> = rules.iter().copied().collect();
        assert_eq!(refused_rules(&v), want, "{name}: {:?}", v.refusals);
        assert!(!v.allowed(), "{name}");
        for r in &v.refusals {
            assert!(
                r.allow.contains("policy.toml"),
                "{name}: the message names the policy file: {}",
                r.allow
            );
        }
    }
}

#[test]
fn engine_defaults_that_pass() {
    for name in [
        "default",
        "cap-net-bind",
        "named-volume",
        "nnp",
        "readonly",
        "secrets",
        "tmpfs-tmp",
    ] {
        let v = eval(&fixture(name));
        assert!(v.refusals.is_empty(), "{name}: {:?}", v.refusals);
    }
}

#[test]
fn host_network_namespace_by_path_is_refused() {
    let spec = fixture("net-host");
    let path = PathBuf::from("/tmp/hd/exec/netns/default");
    let mut host = HostFacts::default();
    host.host_namespace_paths.insert(path);
    let facts = Facts::with_test_range(&spec, host);
    let v = evaluate(
        &Policy::default(),
        &Input {
            spec: &spec,
            container_id: "x",
            facts: &facts,
            systemd_cgroup: false,
        },
    );
    assert_eq!(refused_rules(&v), BTreeSet::from(["host-namespaces"]));
    assert!(v.refusals[0].what.contains("network"));
}

#[test]
fn refusal_names_the_key_that_allows_it() {
    let v = eval(&fixture("cap-sys-admin"));
    assert!(v.refusals[0].what.contains("CAP_SYS_ADMIN"));
    assert!(v.refusals[0]
        .allow
        .contains("allow_capabilities = [\"SYS_ADMIN\"]"));
    let pol = policy("[profiles.admin]\nallow_capabilities = [\"SYS_ADMIN\"]\n");
    // The same config with the profile annotation runs, keeping SYS_ADMIN only.
    let spec = with_profile(fixture("cap-sys-admin"), "admin");
    let v = eval_with(&pol, &spec);
    assert!(v.refusals.is_empty(), "{:?}", v.refusals);
    assert_eq!(v.profile.as_deref(), Some("admin"));
    assert_eq!(caps_of(&v.hardened), HashSet::from([Capability::SysAdmin]));
}

#[test]
fn allowed_capability_is_kept_only_when_asked_for() {
    let pol = policy("[defaults]\nallow_capabilities = [\"NET_BIND_SERVICE\", \"SYS_TIME\"]\n");
    let v = eval_with(&pol, &fixture("cap-net-bind"));
    assert_eq!(
        caps_of(&v.hardened),
        HashSet::from([Capability::NetBindService])
    );
    let v = eval_with(&pol, &fixture("default"));
    assert_eq!(
        caps_of(&v.hardened),
        HashSet::from([Capability::NetBindService])
    );
}

#[test]
fn unknown_profile_is_refused() {
    let spec = with_profile(fixture("default"), "nope");
    let v = eval(&spec);
    assert_eq!(refused_rules(&v), BTreeSet::from(["profile"]));
}

#[test]
fn audit_mode_hardens_but_runs_what_enforce_refuses() {
    let pol = Policy {
        mode: Mode::Audit,
        ..Policy::default()
    };
    let v = eval_with(&pol, &fixture("cap-sys-admin"));
    assert!(v.allowed());
    assert_eq!(refused_rules(&v), BTreeSet::from(["capabilities"]));
    // SYS_ADMIN is kept (it runs as asked), the rest is still dropped and hardened.
    assert_eq!(caps_of(&v.hardened), HashSet::from([Capability::SysAdmin]));
    assert_eq!(v.hardened.root().as_ref().unwrap().readonly(), Some(true));
}

#[test]
fn permissive_mode_changes_nothing() {
    let pol = Policy {
        mode: Mode::Permissive,
        ..Policy::default()
    };
    let spec = fixture("privileged");
    let v = eval_with(&pol, &spec);
    assert!(v.allowed() && v.changes.is_empty() && v.refusals.is_empty());
    assert_eq!(v.hardened, spec);
}

#[test]
fn secrets_warn_by_default_and_refuse_when_asked() {
    let v = eval(&fixture("secrets"));
    assert!(v.refusals.is_empty());
    assert_eq!(v.warnings.len(), 1);
    let w = &v.warnings[0].what;
    assert!(w.contains("DB_PASSWORD") && w.contains("API_TOKEN"), "{w}");
    assert!(!w.contains("=x"), "values are never shown: {w}");
    let pol = policy("[defaults]\nsecrets_in_env = \"refuse\"\n");
    let v = eval_with(&pol, &fixture("secrets"));
    assert_eq!(refused_rules(&v), BTreeSet::from(["secrets-env"]));
}

#[test]
fn pids_limit_is_set_and_lowered() {
    let v = eval(&with_pids_limit(fixture("default"), 100_000));
    assert_eq!(pids_limit(&v.hardened), 4096);
    let spec2 = with_pids_limit(v.hardened.clone(), 50);
    assert_eq!(
        pids_limit(&eval(&spec2).hardened),
        50,
        "a lower limit is kept"
    );
}

/// The pids limit of `spec` (which must have one).
fn pids_limit(spec: &Spec) -> i64 {
    spec.linux()
        .as_ref()
        .unwrap()
        .resources()
        .as_ref()
        .unwrap()
        .pids()
        .as_ref()
        .unwrap()
        .limit()
}

/// `spec` with its pids limit set to `limit`.
fn with_pids_limit(mut spec: Spec, limit: i64) -> Spec {
    let mut linux = spec.linux().clone().unwrap();
    let mut res = linux.resources().clone().unwrap_or_default();
    let mut pids = oci_spec::runtime::LinuxPids::default();
    pids.set_limit(limit);
    res.set_pids(Some(pids));
    linux.set_resources(Some(res));
    spec.set_linux(Some(linux));
    spec
}

fn docker_exec_process(caps: &[&str]) -> Process {
    let json = serde_json::json!({
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "cwd": "/",
        "env": ["PATH=/bin"],
        "capabilities": {
            "bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps
        }
    });
    serde_json::from_value(json).unwrap()
}

#[test]
fn exec_gets_the_containers_treatment() {
    let container = eval(&fixture("default")).hardened;
    // docker exec sends the container's configured (engine default) capabilities.
    let defaults: Vec<String> = rules::capabilities::ENGINE_DEFAULTS
        .iter()
        .map(name)
        .collect();
    let d: Vec<&str> = defaults.iter().map(String::as_str).collect();
    let v = evaluate_exec(&Policy::default(), &container, &docker_exec_process(&d));
    assert!(v.refusals.is_empty(), "{:?}", v.refusals);
    assert!(requested(Some(&v.hardened)).is_empty());
    assert_eq!(v.hardened.no_new_privileges(), Some(true));
}

fn refused_exec(v: &Verdict<Process>) -> BTreeSet<&'static str> {
    v.refusals.iter().map(|r| r.rule.as_str()).collect()
}

#[test]
fn lsm_unconfined_is_refused() {
    let mut spec = fixture("default");
    let mut p = spec.process().clone().unwrap();
    p.set_apparmor_profile(Some("unconfined".into()));
    spec.set_process(Some(p));
    assert_eq!(refused_rules(&eval(&spec)), BTreeSet::from(["lsm"]));
    let mut p = spec.process().clone().unwrap();
    p.set_apparmor_profile(None);
    p.set_selinux_label(Some("system_u:system_r:spc_t:s0".into()));
    spec.set_process(Some(p));
    assert_eq!(refused_rules(&eval(&spec)), BTreeSet::from(["lsm"]));
}

#[test]
fn exec_asking_for_more_is_refused() {
    let container = eval(&fixture("default")).hardened;
    let all: Vec<String> = rules::capabilities::all_known().iter().map(name).collect();
    let a: Vec<&str> = all.iter().map(String::as_str).collect();
    let v = evaluate_exec(&Policy::default(), &container, &docker_exec_process(&a));
    assert!(!v.allowed());
    assert_eq!(
        refused_exec(&v),
        BTreeSet::from(["privileged"]),
        "docker exec --privileged"
    );
    // One dangerous capability.
    let v = evaluate_exec(
        &Policy::default(),
        &container,
        &docker_exec_process(&["CAP_SYS_ADMIN"]),
    );
    assert!(
        v.refusals.iter().any(|r| r.rule == "capabilities"),
        "{:?}",
        v.refusals
    );
    // An allowed capability the container does not have is refused for exec too.
    let pol = policy("[defaults]\nallow_capabilities = [\"NET_ADMIN\"]\n");
    let v = evaluate_exec(&pol, &container, &docker_exec_process(&["CAP_NET_ADMIN"]));
    assert!(
        v.refusals
            .iter()
            .any(|r| r.what.contains("its container does not have")),
        "{:?}",
        v.refusals
    );
}

#[test]
fn hardened_spec_evaluates_to_itself() {
    for name in [
        "default",
        "cap-net-bind",
        "named-volume",
        "readonly",
        "tmpfs-tmp",
        "nnp",
        "secrets",
    ] {
        let once = eval(&fixture(name));
        let twice = eval(&once.hardened);
        assert!(twice.changes.is_empty(), "{name}: {:?}", twice.changes);
        assert_eq!(twice.hardened, once.hardened, "{name}");
    }
}

#[test]
fn namespaces_joined_by_path_are_not_the_hosts() {
    // A Kubernetes app container joins its pod sandbox's namespaces by path.
    let mut spec = fixture("default");
    let mut linux = spec.linux().clone().unwrap();
    let ns: Vec<_> = linux
        .namespaces()
        .clone()
        .unwrap()
        .into_iter()
        .map(|mut n| {
            if n.typ() == LinuxNamespaceType::Network {
                n.set_path(Some(PathBuf::from("/proc/4242/ns/net")));
            }
            n
        })
        .collect();
    linux.set_namespaces(Some(ns));
    spec.set_linux(Some(linux));
    assert!(eval(&spec).refusals.is_empty());
}

// ---- properties ----

fn cap_pool() -> Vec<Capability> {
    rules::capabilities::all_known()
}

prop_compose! {
    fn arb_spec()(
        caps in proptest::collection::vec(0usize..41, 0..12),
        readonly in proptest::option::of(any::<bool>()),
        nnp in proptest::option::of(any::<bool>()),
        pids in proptest::option::of(-1i64..10_000),
        drop_ns in proptest::collection::vec(0usize..5, 0..3),
        with_seccomp in any::<bool>(),
        mounts in proptest::collection::vec(0usize..6, 0..3),
    ) -> Spec {
        let mut spec = fixture("default");
        let pool = cap_pool();
        let chosen: HashSet<Capability> = caps.iter().filter_map(|i| pool.get(*i % pool.len()).copied()).collect();
        let mut p = spec.process().clone().unwrap();
        let mut c = p.capabilities().clone().unwrap();
        c.set_bounding(Some(chosen.clone())).set_effective(Some(chosen.clone())).set_permitted(Some(chosen.clone())).set_inheritable(Some(chosen.clone())).set_ambient(Some(HashSet::new()));
        p.set_capabilities(Some(c));
        p.set_no_new_privileges(nnp);
        spec.set_process(Some(p));
        let mut root = spec.root().clone().unwrap();
        root.set_readonly(readonly);
        spec.set_root(Some(root));
        let mut linux = spec.linux().clone().unwrap();
        let mut res = linux.resources().clone().unwrap_or_default();
        res.set_pids(pids.map(|l| { let mut x = oci_spec::runtime::LinuxPids::default(); x.set_limit(l); x }));
        linux.set_resources(Some(res));
        let types = [LinuxNamespaceType::Pid, LinuxNamespaceType::Network, LinuxNamespaceType::Ipc, LinuxNamespaceType::Uts, LinuxNamespaceType::Mount];
        let ns: Vec<_> = linux.namespaces().clone().unwrap().into_iter().filter(|n| !drop_ns.iter().any(|d| types[*d] == n.typ())).collect();
        linux.set_namespaces(Some(ns));
        if !with_seccomp { linux.set_seccomp(None); }
        spec.set_linux(Some(linux));
        let sources = ["/", "/tmp/data", "/etc", "/var", "/home/x", "/var/run/docker.sock"];
        let mut ms = spec.mounts().clone().unwrap();
        for m in mounts {
            ms.push(oci_spec::runtime::MountBuilder::default().destination(format!("/m{m}")).typ("bind").source(sources[m]).options(vec!["rbind".to_string()]).build().unwrap());
        }
        spec.set_mounts(Some(ms));
        spec
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The verdict is never weaker than the input, on any axis, and a hardened spec evaluates
    /// to itself.
    #[test]
    fn verdict_never_weaker_and_idempotent(spec in arb_spec()) {
        let v = eval(&spec);
        let out = &v.hardened;
        // capabilities: a subset of what was asked
        prop_assert!(caps_of(out).is_subset(&caps_of(&spec)));
        if v.refusals.is_empty() {
            prop_assert!(caps_of(out).is_empty());
            prop_assert_eq!(out.process().as_ref().unwrap().no_new_privileges(), Some(true));
            prop_assert_eq!(out.root().as_ref().unwrap().readonly(), Some(true));
            let limit = out.linux().as_ref().unwrap().resources().as_ref().unwrap().pids().as_ref().unwrap().limit();
            prop_assert!(limit > 0 && limit <= 4096);
            if let Some(l) = spec.linux().as_ref().unwrap().resources().as_ref().and_then(|r| r.pids().as_ref()).map(|p| p.limit()) {
                if l > 0 { prop_assert!(limit <= l); }
            }
            prop_assert!(out.linux().as_ref().unwrap().seccomp().is_some());
            let again = eval(out);
            prop_assert!(again.changes.is_empty(), "{:?}", again.changes);
            prop_assert!(again.refusals.is_empty());
        }
        // masked paths only grow
        let before: HashSet<String> = spec.linux().as_ref().unwrap().masked_paths().clone().unwrap_or_default().into_iter().collect();
        let after: HashSet<String> = out.linux().as_ref().unwrap().masked_paths().clone().unwrap_or_default().into_iter().collect();
        prop_assert!(before.is_subset(&after));
        // mounts only grow (scratch tmpfs), none removed
        prop_assert!(out.mounts().as_ref().unwrap().len() >= spec.mounts().as_ref().unwrap().len());
    }
}

fn eval_userns(policy: &Policy, spec: &Spec) -> Verdict {
    eval_with(policy, spec)
}

#[test]
fn a_user_namespace_is_added_with_the_allocated_range() {
    let v = eval_userns(&Policy::default(), &fixture("default"));
    assert!(v.refusals.is_empty(), "{:?}", v.refusals);
    let linux = v.hardened.linux().as_ref().unwrap();
    let ns = linux.namespaces().as_ref().unwrap();
    assert!(ns.iter().any(|n| n.typ() == LinuxNamespaceType::User));
    let m = &linux.uid_mappings().as_ref().unwrap()[0];
    assert_eq!(
        (m.container_id(), m.host_id(), m.size()),
        (0, 1_000_000_000, 65536)
    );
    assert_eq!(
        linux.gid_mappings().as_ref().unwrap()[0].host_id(),
        1_000_000_000
    );
    // Docker's "every group may ping" becomes the groups that exist in the namespace.
    assert_eq!(
        linux.sysctl().as_ref().unwrap()["net.ipv4.ping_group_range"],
        "0 65535"
    );
    // Evaluating the hardened spec again changes nothing (it has a user namespace now).
    assert!(eval(&v.hardened).changes.is_empty());
}

#[test]
fn an_engine_user_namespace_is_honoured_but_host_root_in_it_is_refused() {
    let mut spec = fixture("default");
    let mut linux = spec.linux().clone().unwrap();
    let mut ns = linux.namespaces().clone().unwrap();
    let mut user = oci_spec::runtime::LinuxNamespace::default();
    user.set_typ(LinuxNamespaceType::User);
    ns.push(user);
    linux.set_namespaces(Some(ns));
    let map = |host: u32| {
        oci_spec::runtime::LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(host)
            .size(65536u32)
            .build()
            .unwrap()
    };
    linux.set_uid_mappings(Some(vec![map(200_000)]));
    linux.set_gid_mappings(Some(vec![map(200_000)]));
    spec.set_linux(Some(linux.clone()));
    let v = eval_userns(&Policy::default(), &spec);
    assert!(v.refusals.is_empty(), "{:?}", v.refusals);
    assert_eq!(
        v.hardened
            .linux()
            .as_ref()
            .unwrap()
            .uid_mappings()
            .as_ref()
            .unwrap()[0]
            .host_id(),
        200_000
    );
    linux.set_uid_mappings(Some(vec![map(0)]));
    spec.set_linux(Some(linux));
    let v = eval_userns(&Policy::default(), &spec);
    assert_eq!(refused_rules(&v), BTreeSet::from(["user-namespace"]));
    assert!(v.refusals[0].allow.contains("allow_host_root_mapping"));
}

#[test]
fn a_profile_can_turn_the_user_namespace_off() {
    let pol = policy("[profiles.legacy]\nuser_namespace = false\n");
    let spec = with_profile(fixture("default"), "legacy");
    let v = eval_with(&pol, &spec);
    assert!(v.refusals.is_empty());
    let facts = crate::facts::SpecFacts::of(&v.hardened, &HostFacts::default());
    assert!(facts.user_namespace.is_none());
}

#[test]
fn an_unreadable_policy_file_names_the_os_error_once_and_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.toml");
    let err = anyhow::Error::from(load::load_file(&missing).expect_err("missing file"));
    let text = format!("{err:#}");
    assert_eq!(text.matches("os error 2").count(), 1, "{text}");
    assert!(text.contains("--policy"), "{text}");
    // A file given as an argument (policy validate FILE) is not chosen with --policy.
    let err = load::load_argument(&missing).expect_err("missing file");
    let text = err.to_string();
    assert_eq!(text.matches("os error 2").count(), 1, "{text}");
    assert!(!text.contains("--policy"), "{text}");
}

#[test]
fn a_privileged_pod_without_every_capability_is_still_privileged_mode() {
    // containerd's CRI grants a privileged pod the host's bounding set, which may lack some
    // capabilities; it always grants every device.
    let mut spec = fixture("privileged");
    let mut process = spec.process().clone().expect("process");
    let mut caps = process.capabilities().clone().expect("capabilities");
    let without = |s: &Option<HashSet<Capability>>| {
        s.clone().map(|mut s| {
            s.remove(&Capability::SysResource);
            s
        })
    };
    caps.set_bounding(without(caps.bounding()));
    caps.set_effective(without(caps.effective()));
    caps.set_permitted(without(caps.permitted()));
    caps.set_inheritable(without(caps.inheritable()));
    caps.set_ambient(without(caps.ambient()));
    process.set_capabilities(Some(caps));
    spec.set_process(Some(process));
    assert!(refused_rules(&eval(&spec)).contains("privileged"));

    // Every device alone, or CAP_SYS_ADMIN alone, is not privileged mode (other rules judge it).
    let mut devices_only = fixture("device-vda");
    assert!(!crate::facts::is_privileged(&devices_only));
    let sys_admin_only = fixture("cap-sys-admin");
    assert!(!crate::facts::is_privileged(&sys_admin_only));
    if let Some(mut linux) = devices_only.linux().clone() {
        linux.set_resources(spec.linux().as_ref().and_then(|l| l.resources().clone()));
        devices_only.set_linux(Some(linux));
    }
    assert!(!crate::facts::is_privileged(&devices_only));
}

fn with_cgroups_path(spec: &Spec, path: &str) -> Spec {
    let mut spec = spec.clone();
    let mut linux = spec.linux().clone().unwrap_or_default();
    linux.set_cgroups_path(Some(path.into()));
    spec.set_linux(Some(linux));
    spec
}

#[test]
fn a_root_cgroup_is_refused_in_every_mode_and_profile() {
    let base = fixture("default");
    for mode in [Mode::Enforce, Mode::Audit, Mode::Permissive] {
        for path in ["/", "//", "/..", "a/../..", ""] {
            let mut policy = Policy {
                mode,
                ..Policy::default()
            };
            // Even a profile that allows everything cannot switch it off.
            policy.defaults.allow_privileged = true;
            let v = eval_with(&policy, &with_cgroups_path(&base, path));
            assert!(!v.allowed(), "{mode:?} {path:?} allowed");
            assert!(
                refused_rules(&v).contains("cgroup-path"),
                "{mode:?} {path:?}: {:?}",
                v.refusals
            );
            let r = v
                .refusals
                .iter()
                .find(|r| r.rule == "cgroup-path")
                .expect("refusal");
            assert!(r.in_every_mode);
            let msg = crate::pipeline::refusal_message(&v.refusals);
            assert!(msg.contains("[rule cgroup-path]"), "{msg}");
        }
    }
    // Docker's own cgroupsPath passes.
    let v = eval_with(&Policy::default(), &base);
    assert!(
        !refused_rules(&v).contains("cgroup-path"),
        "{:?}",
        v.refusals
    );
}

#[test]
fn allowed_cgroup_parents_confine_the_path_and_name_the_key() {
    let policy = Policy {
        allowed_cgroup_parents: vec!["/kubepods".into()],
        ..Policy::default()
    };
    let v = eval_with(
        &policy,
        &with_cgroups_path(&fixture("default"), "/docker/abc"),
    );
    assert!(!v.allowed());
    let r = v
        .refusals
        .iter()
        .find(|r| r.rule == "cgroup-path")
        .expect("refusal");
    assert!(r.allow.contains("allowed_cgroup_parents"), "{}", r.allow);
    let v = eval_with(
        &policy,
        &with_cgroups_path(&fixture("default"), "/kubepods/besteffort/pod1/abc"),
    );
    assert!(
        !refused_rules(&v).contains("cgroup-path"),
        "{:?}",
        v.refusals
    );
}

#[test]
fn learn_mode_keeps_dockers_capabilities_and_a_writable_root_and_still_refuses() {
    let learn = Policy {
        mode: Mode::Learn,
        ..Policy::default()
    };
    let v = eval_with(&learn, &fixture("default"));
    assert!(v.allowed(), "{:?}", v.refusals);
    let caps = caps_of(&v.hardened);
    for cap in [Capability::Chown, Capability::Setuid, Capability::NetRaw] {
        assert!(caps.contains(&cap), "{cap:?} kept in learn mode: {caps:?}");
    }
    assert!(!caps.contains(&Capability::SysAdmin));
    assert_ne!(v.hardened.root().as_ref().unwrap().readonly(), Some(true));
    let p = v.hardened.process().as_ref().unwrap();
    assert_eq!(p.no_new_privileges(), Some(true), "no_new_privs stays");
    let linux = v.hardened.linux().as_ref().unwrap();
    assert!(linux.seccomp().is_some(), "seccomp stays");
    assert!(
        linux
            .namespaces()
            .iter()
            .flatten()
            .any(|n| n.typ() == LinuxNamespaceType::User),
        "the user namespace stays"
    );
    assert!(v.warnings.iter().any(|w| w.what.starts_with("learn mode")));
    // The same config in enforce mode loses them.
    assert!(caps_of(&eval(&fixture("default")).hardened).is_empty());
    // Learn mode is not audit mode: what enforce refuses, it refuses.
    for name in ["cap-sys-admin", "privileged", "pid-host"] {
        let v = eval_with(&learn, &fixture(name));
        assert!(!v.allowed(), "{name} refused in learn mode");
    }
}

#[test]
fn learn_mode_refuses_what_is_outside_dockers_set_and_keeps_the_rest_of_enforce() {
    let learn = Policy {
        mode: Mode::Learn,
        ..Policy::default()
    };
    // NET_ADMIN is not in Docker's default set: refused as in enforce.
    let mut spec = fixture("default");
    let mut p = spec.process().clone().unwrap();
    let mut c = p.capabilities().clone().unwrap();
    let mut bounding = c.bounding().clone().unwrap_or_default();
    bounding.insert(Capability::NetAdmin);
    c.set_bounding(Some(bounding));
    p.set_capabilities(Some(c));
    spec.set_process(Some(p));
    let v = eval_with(&learn, &spec);
    assert!(!v.allowed(), "NET_ADMIN refused in learn mode");
    assert_eq!(refused_rules(&v), BTreeSet::from(["capabilities"]));
    assert_eq!(crate::audit::decision(v.mode, !v.allowed()), "refused");
    // What the rules allow beyond Docker's set is kept too.
    let pol = policy("mode = \"learn\"\n[defaults]\nallow_capabilities = [\"NET_ADMIN\"]\n");
    let v = eval_with(&pol, &spec);
    assert!(v.allowed(), "{:?}", v.refusals);
    assert!(caps_of(&v.hardened).contains(&Capability::NetAdmin));
    assert!(caps_of(&v.hardened).contains(&Capability::Chown));
    // The pids limit, masked paths and scratch mounts stay.
    let linux = v.hardened.linux().as_ref().unwrap();
    assert!(linux.resources().as_ref().unwrap().pids().is_some());
    assert!(linux
        .masked_paths()
        .iter()
        .flatten()
        .any(|m| m == "/proc/kcore"));
    assert!(v
        .hardened
        .mounts()
        .iter()
        .flatten()
        .any(|m| m.destination() == Path::new("/tmp") && m.typ().as_deref() == Some("tmpfs")));
    // Only learn mode warns about itself.
    assert!(!eval(&fixture("default"))
        .warnings
        .iter()
        .any(|w| w.rule == RuleId::Mode));
}

#[test]
fn learn_mode_exec_keeps_what_the_container_got() {
    let learn = policy("mode = \"learn\"\n");
    let container = eval_with(&learn, &fixture("default")).hardened;
    let v = evaluate_exec(&learn, &container, &docker_exec_process(&["CAP_CHOWN"]));
    assert!(v.allowed(), "{:?}", v.refusals);
    assert_eq!(v.mode, Mode::Learn);
    // The same exec in enforce mode: the container has no CHOWN, so it is dropped.
    let enforce = Policy::default();
    let container = eval(&fixture("default")).hardened;
    let v = evaluate_exec(&enforce, &container, &docker_exec_process(&["CAP_CHOWN"]));
    assert!(
        v.hardened
            .capabilities()
            .as_ref()
            .and_then(|c| c.bounding().clone())
            .is_none_or(|b| !b.contains(&Capability::Chown)),
        "{:?}",
        v.hardened.capabilities()
    );
}

#[test]
fn learn_mode_through_the_pipeline_shows_the_mode() {
    let learn = policy("mode = \"learn\"\n");
    let root = tempfile::tempdir().expect("tempdir");
    let spec = fixture("default");
    let req = crate::pipeline::Request {
        id: "learn-check",
        bundle: None,
        root: root.path(),
        systemd_cgroup: false,
    };
    let plan =
        crate::pipeline::plan(&learn, &spec, &req, crate::pipeline::Effects::DryRun).expect("plan");
    assert_eq!(plan.verdict.mode, Mode::Learn);
    assert!(plan
        .verdict
        .warnings
        .iter()
        .any(|w| w.rule == RuleId::Mode && w.what.contains("writable root")));
    assert_eq!(
        serde_json::to_value(plan.verdict.mode).unwrap(),
        serde_json::json!("learn")
    );
    assert_eq!(
        crate::commands::policy::summary(&learn),
        "version 1, learn mode, 0 profile(s)"
    );
}

/// A policy in a temp dir naming `seccomp_profile = "app.json"` in [defaults], with that file.
fn policy_with_seccomp(profile_json: &str) -> (tempfile::TempDir, Policy) {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("app.json"), profile_json).expect("write");
    let file = d.path().join("policy.toml");
    let pol = load::parse("[defaults]\nseccomp_profile = \"app.json\"\n", &file).expect("loads");
    (d, pol)
}

#[test]
fn seccomp_profile_replaces_the_callers_with_the_baseline_merged_in() {
    let (d, pol) = policy_with_seccomp(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read","write","ptrace"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    // Docker's config brings Docker's profile: it is replaced.
    let v = eval_with(&pol, &fixture("default"));
    assert!(v.allowed(), "{:?}", v.refusals);
    let sc = v
        .hardened
        .linux()
        .as_ref()
        .unwrap()
        .seccomp()
        .clone()
        .unwrap();
    let allowed: BTreeSet<String> = sc
        .syscalls()
        .iter()
        .flatten()
        .filter(|r| r.action() == oci_spec::runtime::LinuxSeccompAction::ScmpActAllow)
        .flat_map(|r| r.names().clone())
        .collect();
    assert!(allowed.contains("read") && allowed.contains("write"));
    assert!(
        !allowed.contains("ptrace"),
        "the baseline keeps ptrace denied"
    );
    assert!(
        !allowed.contains("openat"),
        "Docker's profile is gone: {allowed:?}"
    );
    let file = d.path().join("app.json");
    assert!(
        v.changes
            .iter()
            .any(|c| c.rule == RuleId::Seccomp && c.what.contains(&file.display().to_string())),
        "{:?}",
        v.changes
    );
    // Evaluating the hardened spec again changes nothing more.
    let again = eval_with(&pol, &v.hardened);
    assert!(
        !again.changes.iter().any(|c| c.rule == RuleId::Seccomp),
        "{:?}",
        again.changes
    );
    // An unconfined profile in the policy is refused like a caller's.
    let (_d, pol) = policy_with_seccomp(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
    let v = eval_with(&pol, &fixture("default"));
    assert_eq!(refused_rules(&v), BTreeSet::from(["seccomp"]));
}

#[test]
fn a_malformed_seccomp_profile_is_a_load_error_naming_policy_key_and_file() {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("bad.json"), r#"{"syscalls":"no"}"#).expect("write");
    let file = d.path().join("policy.toml");
    let err = load::parse("[profiles.x]\nseccomp_profile = \"bad.json\"\n", &file)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&file.display().to_string())
            && err.contains("[profiles.x]")
            && err.contains("seccomp_profile")
            && err.contains("bad.json")
            && err.contains("not an OCI linux.seccomp object"),
        "{err}"
    );
}

#[test]
fn builtin_profiles_exist_only_when_enabled() {
    let spec = with_profile(fixture("default"), "drop-to-user");
    // Not enabled: the annotation names a profile that does not exist, and the refusal says
    // which key enables it.
    let v = eval(&spec);
    assert_eq!(refused_rules(&v), BTreeSet::from(["profile"]));
    assert!(
        v.refusals[0]
            .allow
            .contains("builtin_profiles = [\"drop-to-user\"]"),
        "{:?}",
        v.refusals
    );
    let pol = policy("builtin_profiles = [\"drop-to-user\", \"chown-and-drop\"]\n");
    let v = eval_with(&pol, &spec);
    assert!(v.allowed(), "{:?}", v.refusals);
    let caps = caps_of(&v.hardened);
    assert_eq!(
        caps,
        HashSet::from([Capability::Setuid, Capability::Setgid]),
        "drop-to-user keeps SETUID and SETGID only"
    );
    assert_eq!(v.hardened.root().as_ref().unwrap().readonly(), Some(true));
    let v = eval_with(&pol, &with_profile(fixture("default"), "chown-and-drop"));
    assert_eq!(
        caps_of(&v.hardened),
        HashSet::from([
            Capability::Chown,
            Capability::DacOverride,
            Capability::Fowner,
            Capability::Setuid,
            Capability::Setgid
        ])
    );
    // Still refused: what the profile does not allow.
    let v = eval_with(
        &pol,
        &with_profile(fixture("cap-sys-admin"), "drop-to-user"),
    );
    assert!(!v.allowed());
}
