//! The hardening policy through real Docker, seen from inside the containers.
//!
//! The private daemon (scripts/daemons.sh) registers the runtime five times:
//! `hardened` (built-in defaults), `hardened-allow` (a policy that allows the refused flags
//! below, except privileged mode and `-v /:/host`), `hardened-audit` (audit mode),
//! `hardened-permissive` and `hardened-web` (allows NET_BIND_SERVICE). Every audit log is
//! under `$HARDENED_TEST_DAEMON_DIR/audit/`.

mod common;

use std::path::PathBuf;

use common::{docker, docker_run_cmd, image, run, test_env, unique, DockerContainer};

fn daemon_dir() -> PathBuf {
    PathBuf::from(test_env("HARDENED_TEST_DAEMON_DIR"))
}

/// `docker run --runtime=RUNTIME --network none --name (removed after) [flags] IMAGE sh -c SCRIPT`
fn docker_run(runtime: &str, flags: &[&str], script: &str) -> common::Out {
    let name = unique("pol");
    let _guard = DockerContainer(name.clone());
    run(docker_run_cmd(runtime)
        .args(["--name", &name])
        .args(flags)
        .arg(image())
        .args(["sh", "-c", script]))
}

fn status_field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(str::trim)
        .unwrap_or_else(|| panic!("{key} missing in:\n{status}"))
}

#[test]
fn defaults_seen_from_inside_a_container_started_with_no_flags() {
    let script = r#"
cat /proc/self/status
echo "---"
if touch /probe 2>/dev/null; then echo root=writable; else echo root=readonly; fi
if echo x > /tmp/f; then echo tmp=writable; else echo tmp=readonly; fi
cp /bin/busybox /tmp/bb && if /tmp/bb true 2>/dev/null; then echo tmp=exec; else echo tmp=noexec; fi
for f in /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max; do [ -r $f ] && echo pids=$(cat $f) && break; done
echo kcore=$(wc -c < /proc/kcore 2>/dev/null || echo absent)
echo timer_list=$(wc -c < /proc/timer_list)
echo keys=$(wc -c < /proc/keys)
if { echo 1 > /proc/sys/kernel/ns_last_pid; } 2>/dev/null; then echo procsys=writable; else echo procsys=readonly; fi
if { echo 1 > /sys/kernel/profiling; } 2>/dev/null; then echo sys=writable; else echo sys=readonly; fi
"#;
    let out = docker_run("hardened", &[], script);
    assert!(out.ok(), "{out:?}");
    let s = &out.stdout;
    // /proc/kcore is absent on some kernels (this machine's); where present it is masked.
    assert!(
        s.lines().any(|l| l == "kcore=0" || l == "kcore=absent"),
        "{s}"
    );
    for key in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status_field(s, key), "0000000000000000", "{key}\n{s}");
    }
    assert_eq!(status_field(s, "NoNewPrivs"), "1");
    assert_eq!(status_field(s, "Seccomp"), "2");
    for want in [
        "root=readonly",
        "tmp=writable",
        "tmp=noexec",
        "pids=1024",
        "timer_list=0",
        "keys=0",
        "procsys=readonly",
        "sys=readonly",
    ] {
        assert!(s.lines().any(|l| l == want), "{want} not in\n{s}");
    }
}

#[test]
fn fork_bomb_is_stopped_by_the_pids_limit() {
    // A subshell forks 200 background sleeps against a limit of 64 (busybox sh exits when a
    // fork fails); the count uses shell builtins only (no fork is left to run `ls`).
    let script = r#"
( i=0; while [ $i -lt 200 ]; do sleep 30 & i=$((i+1)); done ) 2>/dev/null
set -- /proc/[0-9]*
echo running=$#
"#;
    let out = docker_run("hardened", &["--pids-limit", "64"], script);
    let running: usize = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("running="))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count: {out:?}"));
    assert!(
        running <= 64,
        "{running} processes despite pids.max 64: {out:?}"
    );
    assert!(
        running >= 32,
        "the limit, not something else, stopped the forks: {out:?}"
    );
}

#[test]
fn ptrace_of_a_sibling_is_denied() {
    let out = docker_run("hardened", &[], "sleep 60 & ptrace-probe $!; echo rc=$?");
    assert!(
        out.stdout.contains("ptrace: Operation not permitted"),
        "{out:?}"
    );
    assert!(out.stdout.contains("rc=1"), "{out:?}");
    // The probe works where ptrace is allowed (so the test can fail).
    let out = docker_run(
        "hardened-allow",
        &[
            "--cap-add",
            "SYS_PTRACE",
            "--security-opt",
            "seccomp=unconfined",
        ],
        "sleep 60 & ptrace-probe $!; echo rc=$?",
    );
    assert!(out.stdout.contains("ptrace: ok"), "{out:?}");
}

fn runtime_state_dirs(id: &str) -> Vec<PathBuf> {
    let root = daemon_dir().join("exec/runtime-runc/moby");
    [root.join(id), root.join(".bundles").join(id)]
        .into_iter()
        .filter(|p| p.exists())
        .collect()
}

fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    ["pids", "memory", "cpu", "devices", "freezer"]
        .iter()
        .map(|c| PathBuf::from(format!("/sys/fs/cgroup/{c}/docker/{id}")))
        .chain(std::iter::once(PathBuf::from(format!(
            "/sys/fs/cgroup/system.slice/docker-{id}.scope"
        ))))
        .filter(|p| p.exists())
        .collect()
}

/// The refusal cases: docker flags, the rule that refuses them, and whether the `allow` policy
/// lets them through.
const REFUSED: &[(&[&str], &str, bool)] = &[
    (&["--privileged"], "privileged", false),
    (&["--cap-add", "SYS_ADMIN"], "capabilities", true),
    (&["--cap-add", "ALL"], "privileged", false),
    (&["--pid", "host"], "host-namespaces", true),
    (&["--ipc", "host"], "host-namespaces", true),
    (&["--uts", "host"], "host-namespaces", true),
    (&["--network", "host"], "host-namespaces", false),
    (&["-v", "/:/host"], "sensitive-mounts", false),
    (
        &["-v", "/var/run/docker.sock:/var/run/docker.sock"],
        "sensitive-mounts",
        false,
    ),
    (&["-v", "/etc:/x:ro"], "sensitive-mounts", true),
    (&["--device", "/dev/vda"], "devices", true),
    (&["--security-opt", "seccomp=unconfined"], "seccomp", true),
    (
        &["--security-opt", "systempaths=unconfined"],
        "kernel-paths",
        true,
    ),
];

#[test]
fn each_refused_flag_fails_with_the_policy_message_and_leaves_nothing() {
    for (flags, rule, _) in REFUSED {
        let name = unique("refused");
        let _guard = DockerContainer(name.clone());
        let mounts_before = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        // `--network host` replaces the default `--network none`.
        let net: &[&str] = if flags.contains(&"--network") {
            &[]
        } else {
            &["--network", "none"]
        };
        let out = run(docker()
            .args(["run", "--name", &name, "--runtime", "hardened"])
            .args(net)
            .args(*flags)
            .arg(image())
            .arg("true"));
        assert!(!out.ok(), "{flags:?} ran: {out:?}");
        assert!(
            out.stderr.contains("refused by the hardened policy")
                && out.stderr.contains(&format!("[rule {rule}]"))
                && out.stderr.contains("to allow it, set"),
            "{flags:?}: {out:?}"
        );
        let id = run(docker().args(["inspect", "-f", "{{.Id}}", &name]))
            .stdout
            .trim()
            .to_string();
        assert!(!id.is_empty());
        assert!(
            runtime_state_dirs(&id).is_empty(),
            "{flags:?}: state left: {:?}",
            runtime_state_dirs(&id)
        );
        assert!(
            cgroup_dirs(&id).is_empty(),
            "{flags:?}: cgroups left: {:?}",
            cgroup_dirs(&id)
        );
        let mounts_after = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let leaked: Vec<&str> = mounts_after
            .lines()
            .filter(|l| l.contains(&id) && !mounts_before.contains(l))
            .collect();
        assert!(leaked.is_empty(), "{flags:?}: mounts left: {leaked:?}");
    }
}

#[test]
fn a_runtime_whose_policy_allows_it_runs_the_same_config() {
    for (flags, _, allowed) in REFUSED.iter().filter(|c| c.2) {
        let out = docker_run("hardened-allow", flags, "true");
        assert!(out.ok(), "{flags:?} (allowed: {allowed}): {out:?}");
    }
    // The allowed capability is really there, and nothing else.
    let out = docker_run(
        "hardened-allow",
        &["--cap-add", "SYS_ADMIN"],
        "grep CapEff /proc/self/status",
    );
    assert!(out.stdout.contains("0000000000200000"), "{out:?}");
}

#[test]
fn audit_mode_runs_what_enforce_refuses_and_logs_it() {
    let out = docker_run(
        "hardened-audit",
        &["--cap-add", "SYS_ADMIN"],
        "grep -E 'CapEff|NoNewPrivs' /proc/self/status; touch /x 2>/dev/null && echo rw || echo ro",
    );
    assert!(out.ok(), "{out:?}");
    assert!(
        out.stdout.contains("0000000000200000"),
        "SYS_ADMIN kept: {out:?}"
    );
    assert!(
        out.stdout.contains("NoNewPrivs:\t1"),
        "still hardened: {out:?}"
    );
    assert!(out.stdout.contains("ro"), "still read-only: {out:?}");
    let log = std::fs::read_to_string(daemon_dir().join("audit/audit.log")).expect("audit log");
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("allowed-in-audit-mode"))
        .unwrap_or_else(|| panic!("no would-refuse line in\n{log}"));
    let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
    assert_eq!(v["mode"], "audit");
    assert!(v["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["rule"] == "capabilities"));
    assert!(v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["rule"] == "readonly-rootfs"));
}

#[test]
fn every_decision_is_in_the_audit_log() {
    let name = unique("audited");
    let _g = DockerContainer(name.clone());
    let out = run(docker_run_cmd("hardened")
        .args(["--name", &name])
        .args(["-e", "DB_PASSWORD=hunter2", "-e", "PLAIN=1"])
        .arg(image())
        .arg("true"));
    assert!(out.ok(), "{out:?}");
    let id = run(docker().args(["inspect", "-f", "{{.Id}}", &name]))
        .stdout
        .trim()
        .to_string();
    let log = std::fs::read_to_string(daemon_dir().join("audit/default.log")).expect("audit log");
    let line = log
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("{id} not in\n{log}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["decision"], "allowed");
    assert_eq!(v["command"], "create");
    assert!(v["time"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(v["bundle"].as_str().is_some_and(|b| b.contains(&id)));
    let warn = v["warnings"].to_string();
    assert!(
        warn.contains("DB_PASSWORD") && !warn.contains("hunter2") && !warn.contains("PLAIN"),
        "{warn}"
    );
}

#[test]
fn docker_exec_gets_the_container_treatment_and_privileged_exec_is_refused() {
    let name = unique("exec");
    let _g = DockerContainer(name.clone());
    let out = run(docker_run_cmd("hardened")
        .args(["-d", "--name", &name])
        .arg(image())
        .args(["sleep", "300"]));
    assert!(out.ok(), "{out:?}");
    let out = run(docker().args(["exec", &name, "cat", "/proc/self/status"]));
    assert!(out.ok(), "{out:?}");
    assert_eq!(status_field(&out.stdout, "CapEff"), "0000000000000000");
    assert_eq!(status_field(&out.stdout, "NoNewPrivs"), "1");
    assert_eq!(status_field(&out.stdout, "Seccomp"), "2");
    let out = run(docker().args(["exec", "--privileged", &name, "true"]));
    assert!(!out.ok(), "{out:?}");
    // docker exec prints the runtime's error on stdout.
    let msg = format!("{}{}", out.stdout, out.stderr);
    assert!(
        msg.contains("refused by the hardened policy") && msg.contains("privileged exec"),
        "{out:?}"
    );
}

#[test]
fn an_operator_runtime_keeps_the_capability_it_allows() {
    let out = docker_run(
        "hardened-web",
        &["--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"],
        "grep CapEff /proc/self/status",
    );
    assert!(out.stdout.contains("0000000000000400"), "{out:?}");
    // Docker's other default capabilities are still dropped.
    let out = docker_run("hardened-web", &[], "grep CapEff /proc/self/status");
    assert!(out.stdout.contains("0000000000000400"), "{out:?}");
}

#[test]
fn permissive_mode_runs_the_config_as_is() {
    let out = docker_run(
        "hardened-permissive",
        &[],
        "grep CapEff /proc/self/status; touch /x && echo rw",
    );
    assert!(out.ok(), "{out:?}");
    assert!(
        out.stdout.contains("00000000a80425fb"),
        "Docker's 14 capabilities: {out:?}"
    );
    assert!(out.stdout.contains("rw"), "{out:?}");
}
