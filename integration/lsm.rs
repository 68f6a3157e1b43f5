//! Linux security modules, seen from inside real containers: on an AppArmor host every container
//! carries a profile (ours, `hardened-default`, for a config that names none; Docker's
//! `docker-default` through Docker) and the profile denies mounts and writes to /proc/sys even
//! to a process that holds CAP_SYS_ADMIN; on a host without AppArmor the same containers run,
//! and `features`, `check` and the audit log say AppArmor was not applied.
//!
//! The same tests run on both kinds of host (here: no LSM; the QEMU guest of scripts/guest.sh:
//! AppArmor): each asks the host which kind it is and requires what that kind must give.
//!
//! Run as root: `cargo test --release --test lsm` (the Docker test needs the private daemons of
//! scripts/daemons.sh).

mod common;

use std::path::Path;
use std::process::Command;

use common::{docker, image, run, unique, DockerContainer, Out, Sandbox};

/// What the container's process reads as its own LSM label (AppArmor's interface first, then
/// the legacy one); `none` when neither answers (a host without an LSM that has labels).
const LABEL: &str = "cat /proc/self/attr/apparmor/current 2>/dev/null || cat /proc/self/attr/current 2>/dev/null || echo none";

/// A mount and a write to a kernel tunable of the container's own IPC namespace, each printed
/// as allowed or denied.
const PROBES: &str = "if mount -t tmpfs probe /home 2>/dev/null; then echo MOUNT=allowed; else echo MOUNT=denied; fi; \
if echo 4096 > /proc/sys/kernel/shmmni 2>/dev/null; then echo SYSCTL=allowed; else echo SYSCTL=denied; fi";

/// AppArmor is on, as the test sees it: the kernel parameter is Y and its securityfs is there.
fn apparmor_host() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'))
        && Path::new("/sys/kernel/security/apparmor").is_dir()
}

/// The process that printed `LABEL` ran under `profile`, enforced, on an AppArmor host; on a
/// host without AppArmor it had no label.
fn assert_label(out: &Out, profile: &str) {
    if apparmor_host() {
        assert!(
            out.stdout.contains(&format!("{profile} (enforce)")),
            "the process does not run under {profile}: {out:?}"
        );
    } else {
        assert_eq!(
            out.stdout.trim(),
            "none",
            "a host without AppArmor gave a label: {out:?}"
        );
    }
}

/// A policy file in the sandbox: the built-in defaults with `body`, the sandbox's audit log.
fn policy(sb: &Sandbox, name: &str, body: &str) {
    let text = format!(
        "audit_log = {:?}\n{body}",
        sb.audit_log().display().to_string()
    );
    std::fs::write(sb.policy(name), text).expect("write policy");
}

/// `hardened run` of `bundle` under the sandbox policy `name`.
fn run_bundle(sb: &Sandbox, name: &str, bundle: &Path) -> Out {
    let id = unique("lsm");
    run(sb
        .hardened_with(name)
        .args(["run", "-b"])
        .arg(bundle)
        .arg(&id))
}

/// The audit log's last decision (a `create`, `run` or `exec` record; the hints `delete`
/// writes after it are not decisions), parsed.
fn last_audit_record(sb: &Sandbox) -> serde_json::Value {
    let log = std::fs::read_to_string(sb.audit_log()).expect("read the audit log");
    log.lines()
        .rev()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON audit record"))
        .find(|r| r["command"] != "delete")
        .expect("an audit record")
}

#[test]
fn a_plain_bundle_carries_the_default_profile_or_says_none_was_applied() {
    let sb = Sandbox::new();
    policy(&sb, "defaults", "");
    let bundle = sb.bundle("label", &["sh", "-c", LABEL]);
    let out = run_bundle(&sb, "defaults", &bundle);
    assert!(out.ok(), "the container did not run: {out:?}");
    let record = last_audit_record(&sb);
    let check = run(sb
        .hardened_with("defaults")
        .args(["check", "--json"])
        .arg(&bundle));
    let check: serde_json::Value = serde_json::from_str(&check.stdout).expect("check --json");
    let features = run(sb.hardened_with("defaults").arg("features"));
    let features: serde_json::Value =
        serde_json::from_str(&features.stdout).expect("features JSON");
    if apparmor_host() {
        assert!(
            out.stdout.contains("hardened-default (enforce)"),
            "the container does not run under hardened-default: {out:?}"
        );
        assert_eq!(record["apparmor"], "hardened-default", "{record}");
        assert_eq!(check["apparmor"], "hardened-default", "{check}");
        assert_eq!(features["linux"]["apparmor"]["enabled"], true);
        // Loaded once, by the first create: the kernel lists it.
        let profiles = std::fs::read_to_string("/sys/kernel/security/apparmor/profiles")
            .expect("read the loaded profiles");
        assert!(profiles.lines().any(|l| l == "hardened-default (enforce)"));
    } else {
        assert_eq!(
            out.stdout.trim(),
            "none",
            "a host without AppArmor gave a label: {out:?}"
        );
        assert_eq!(record["apparmor"], "not available on this host", "{record}");
        assert_eq!(check["apparmor"], "not available on this host", "{check}");
        assert_eq!(features["linux"]["apparmor"]["enabled"], false);
        assert_eq!(
            features["annotations"]["io.hardened.apparmor"],
            "not available on this host"
        );
    }
}

/// A config that names a profile keeps it on an AppArmor host; on a host without AppArmor it is
/// left out (libcontainer would refuse the config) and the container runs.
#[test]
fn a_profile_the_config_names_is_applied_or_left_out() {
    let sb = Sandbox::new();
    policy(&sb, "defaults", "");
    let bundle = sb.bundle("named", &["sh", "-c", LABEL]);
    sb.edit_config(&bundle, r#".process.apparmorProfile = "hardened-default""#);
    let out = run_bundle(&sb, "defaults", &bundle);
    assert!(out.ok(), "the container did not run: {out:?}");
    if apparmor_host() {
        assert!(out.stdout.contains("hardened-default (enforce)"), "{out:?}");
    } else {
        assert_eq!(out.stdout.trim(), "none", "{out:?}");
        let record = last_audit_record(&sb);
        let left_out = record["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .any(|c| {
                c["rule"] == "lsm" && c["what"].as_str().is_some_and(|w| w.contains("left out"))
            });
        assert!(left_out, "{record}");
    }
}

/// A profile the config names that the kernel does not have: on an AppArmor host the create
/// fails with a message that names it and the fix, and leaves nothing behind.
#[test]
fn a_profile_that_is_not_loaded_is_a_clear_error() {
    if !apparmor_host() {
        // Nothing to load on this host: the name is left out (the test above).
        return;
    }
    let sb = Sandbox::new();
    policy(&sb, "defaults", "");
    let bundle = sb.bundle("missing", &["true"]);
    sb.edit_config(
        &bundle,
        r#".process.apparmorProfile = "no-such-profile-hardened-test""#,
    );
    let out = run_bundle(&sb, "defaults", &bundle);
    assert!(!out.ok(), "{out:?}");
    assert!(
        out.stderr.contains("no-such-profile-hardened-test")
            && out.stderr.contains("apparmor_parser -r"),
        "{out:?}"
    );
    let left = std::fs::read_dir(sb.root())
        .map(|d| {
            d.flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(left, 0, "a failed create left state behind");
}

/// The profile, not the capability, stops the mount and the sysctl write: a container whose
/// policy lets it keep CAP_SYS_ADMIN, without a seccomp filter and with a writable /proc/sys,
/// can do both when it is unconfined (the control) and neither under hardened-default.
#[test]
fn mounts_and_proc_sys_writes_are_denied_by_the_profile_even_with_cap_sys_admin() {
    let sb = Sandbox::new();
    // Every other wall open: the capability, no seccomp filter, no read-only /proc/sys (the
    // config looks made by Docker, whose explicit opt-outs the policy allows).
    let open = "[defaults]\nallow_capabilities = [\"SYS_ADMIN\"]\nallow_unconfined_seccomp = true\nallow_unconfined_systempaths = true\nallow_unconfined_lsm = true\n";
    policy(&sb, "open", open);
    let make = |name: &str, apparmor: Option<&str>| {
        let bundle = sb.bundle(name, &["sh", "-c", &format!("{LABEL}; {PROBES}")]);
        let caps = r#"["CAP_SYS_ADMIN"]"#;
        sb.edit_config(
            &bundle,
            &format!(
                r#".process.capabilities = {{"bounding": {caps}, "effective": {caps}, "permitted": {caps}}}
                | del(.linux.seccomp) | .linux.maskedPaths = [] | .linux.readonlyPaths = []
                | .hooks.prestart = [{{"path": "/bin/true", "args": ["libnetwork-setkey"]}}]"#
            ),
        );
        if let Some(p) = apparmor {
            sb.edit_config(&bundle, &format!(".process.apparmorProfile = {p:?}"));
        }
        bundle
    };
    // The control: unconfined, the capability does it.
    let control = run_bundle(&sb, "open", &make("control", Some("unconfined")));
    assert!(control.ok(), "{control:?}");
    assert!(
        control.stdout.contains("MOUNT=allowed") && control.stdout.contains("SYSCTL=allowed"),
        "without AppArmor the capability should allow both: {control:?}"
    );
    let confined = run_bundle(&sb, "open", &make("confined", None));
    assert!(confined.ok(), "{confined:?}");
    if apparmor_host() {
        assert!(
            confined.stdout.contains("hardened-default (enforce)"),
            "{confined:?}"
        );
        assert!(
            confined.stdout.contains("MOUNT=denied") && confined.stdout.contains("SYSCTL=denied"),
            "hardened-default let a mount or a /proc/sys write through: {confined:?}"
        );
    } else {
        // No AppArmor: nothing but the capability decides, as in the control.
        assert!(confined.stdout.contains("MOUNT=allowed"), "{confined:?}");
        assert_eq!(
            last_audit_record(&sb)["apparmor"],
            "not available on this host"
        );
    }
}

/// Through Docker: dockerd names docker-default on an AppArmor host, and the container carries
/// it; without AppArmor the container runs.
#[test]
fn docker_containers_carry_docker_default() {
    common::require_root();
    let image = image();
    let name = unique("hd-lsm");
    let _guard = DockerContainer(name.clone());
    let out = run(docker()
        .args([
            "run",
            "--rm",
            "--runtime=hardened",
            "--network",
            "none",
            "--name",
            &name,
        ])
        .arg(&image)
        .args(["sh", "-c", LABEL]));
    assert!(out.ok(), "docker run: {out:?}");
    assert_label(&out, "docker-default");
}

/// `exec` into a container that got the default profile, of a process (`--process`, as
/// containerd sends it) that names none: the process gets the container's profile.
#[test]
fn an_exec_runs_under_its_containers_profile() {
    let sb = Sandbox::new();
    policy(&sb, "defaults", "");
    let bundle = sb.bundle("execd", &["sleep", "60"]);
    let id = unique("lsm-exec");
    let null = || std::process::Stdio::null();
    let created = sb
        .hardened_with("defaults")
        .args(["create", "-b"])
        .arg(&bundle)
        .arg(&id)
        .stdin(null())
        .stdout(null())
        .stderr(null())
        .status()
        .expect("create");
    assert!(created.success(), "create {id}");
    let start = run(sb.hardened_with("defaults").args(["start", &id]));
    assert!(start.ok(), "{start:?}");
    let process = sb.dir.path().join("process.json");
    let doc = serde_json::json!({
        "args": ["sh", "-c", LABEL],
        "cwd": "/",
        "env": ["PATH=/bin:/usr/bin"],
        "user": {"uid": 0, "gid": 0},
    });
    std::fs::write(&process, doc.to_string()).expect("write process.json");
    let exec = run(sb
        .hardened_with("defaults")
        .arg("exec")
        .arg("--process")
        .arg(&process)
        .arg(&id));
    let _ = Command::new(common::hardened_bin())
        .arg("--root")
        .arg(sb.root())
        .args(["delete", "--force", &id])
        .status();
    assert!(exec.ok(), "{exec:?}");
    assert_label(&exec, "hardened-default");
}
