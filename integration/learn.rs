//! Learn mode and hints (docs/learn.md), through real containers: what a program was denied is
//! in the audit log with the key that allows it, and a profile learned from one run lets the
//! same program run with the user namespace, no_new_privs and the read-only root kept, while a
//! probe it did not need still fails.
//!
//! Run as root: `cargo test --release --test learn`. Needs a kernel with the trace events
//! `capability:cap_capable` (Linux 6.14 or later), `raw_syscalls:sys_enter` and `sched:*`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{run, Out, Sandbox};

/// Docker's default capability set, as a config asks for it.
const DOCKER_CAPS: &str = r#"["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER","CAP_MKNOD","CAP_NET_RAW","CAP_SETGID","CAP_SETUID","CAP_SETFCAP","CAP_SETPCAP","CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_KILL","CAP_AUDIT_WRITE"]"#;

/// A busybox bundle running `script`, whose config asks for Docker's default capabilities.
fn bundle(sb: &Sandbox, name: &str, script: &str) -> PathBuf {
    let b = sb.bundle(name, &["sh", "-c", script]);
    let caps = format!(
        ".process.capabilities = {{bounding: {DOCKER_CAPS}, effective: {DOCKER_CAPS}, permitted: {DOCKER_CAPS}}}"
    );
    sb.edit_config(&b, &caps);
    b
}

/// Write the sandbox's policy `name`: `top` (top-level keys), the sandbox's audit log, then
/// `tables`.
fn write_policy(sb: &Sandbox, name: &str, top: &str, tables: &str) -> PathBuf {
    let path = sb.policy(name);
    let text = format!(
        "{top}\naudit_log = {:?}\n{tables}\n",
        sb.audit_log().display().to_string()
    );
    fs::write(&path, text).expect("write policy");
    path
}

fn run_container(sb: &Sandbox, policy: &str, bundle: &Path, id: &str) -> Out {
    run(sb
        .hardened_with(policy)
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(id))
}

fn audit_records(sb: &Sandbox) -> Vec<serde_json::Value> {
    fs::read_to_string(sb.audit_log())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn hints_of(sb: &Sandbox, id: &str) -> Vec<serde_json::Value> {
    audit_records(sb)
        .into_iter()
        .filter(|r| r["id"] == id && r["decision"] == "hint")
        .map(|r| r["hint"].clone())
        .collect()
}

#[test]
fn a_denied_capability_is_a_hint_naming_the_key_and_explain_says_it() {
    let sb = Sandbox::new();
    let b = bundle(
        &sb,
        "chowner",
        "mkdir -p /tmp/vol && chown 33:33 /tmp/vol; echo done",
    );
    let out = run_container(&sb, "enforce", &b, "chowner");
    assert!(out.ok(), "{out:?}");
    assert!(
        out.stderr.contains("Operation not permitted"),
        "chown fails under the defaults: {out:?}"
    );
    let hints = hints_of(&sb, "chowner");
    assert_eq!(hints.len(), 1, "one hint, for CHOWN: {hints:?}");
    assert_eq!(hints[0]["denied"], "CHOWN", "{hints:?}");
    assert!(
        hints[0]["allow"]
            .as_str()
            .unwrap_or("")
            .contains("allow_capabilities = [\"CHOWN\"]"),
        "the hint names the key: {hints:?}"
    );
    assert!(
        hints[0]["processes"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p == "chown")),
        "the hint names the program: {hints:?}"
    );

    let explained = run(sb.hardened_with("enforce").args(["explain", "chowner"]));
    assert!(explained.ok(), "{explained:?}");
    assert!(
        explained.stdout.contains("CAP_CHOWN was denied")
            && explained.stdout.contains("to allow it: allow_capabilities"),
        "{explained:?}"
    );
    let last = run(sb
        .hardened_with("enforce")
        .args(["explain", "--last", "--json"]));
    assert!(
        last.ok() && last.stdout.contains("\"denied\":\"CHOWN\""),
        "{last:?}"
    );

    // With the key the hint named, the same container is denied nothing.
    write_policy(
        &sb,
        "chown",
        "",
        "[defaults]\nallow_capabilities = [\"CHOWN\"]",
    );
    let out = run_container(&sb, "chown", &b, "chowner2");
    assert!(out.ok() && !out.stderr.contains("not permitted"), "{out:?}");
    assert!(hints_of(&sb, "chowner2").is_empty(), "no hint once allowed");
}

#[test]
fn a_container_denied_nothing_has_no_hints() {
    let sb = Sandbox::new();
    let b = bundle(
        &sb,
        "quiet",
        "echo hello > /tmp/x && cat /tmp/x && ls / >/dev/null",
    );
    let out = run_container(&sb, "enforce", &b, "quiet");
    assert!(out.ok() && out.stdout.contains("hello"), "{out:?}");
    assert!(
        hints_of(&sb, "quiet").is_empty(),
        "{:?}",
        hints_of(&sb, "quiet")
    );
    let explained = run(sb.hardened_with("enforce").args(["explain", "quiet"]));
    assert!(
        explained.ok() && explained.stdout.contains("no hints"),
        "{explained:?}"
    );
}
