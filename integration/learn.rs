//! Learn mode and hints (docs/learn.md), through real containers: what a program was denied is
//! in the audit log with the key that allows it, and a profile learned from one run lets the
//! same program run with the user namespace, no_new_privs and the read-only root kept, while a
//! probe it did not need still fails.
//!
//! Run as root: `cargo test --release --test learn`. Needs a kernel with the trace events
//! `capability:cap_capable` (Linux 6.14 or later), `raw_syscalls:sys_enter`, `sched:*` and `task:task_rename`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::learn::{assert_adopted_probe, assert_learned, probe_script, ENTRYPOINT};
use common::{
    docker, docker_run_cmd, image, poll_for, run, test_env, unique, DockerContainer, Out, Sandbox,
};
use std::time::Duration;

/// Docker's default capability set, as a config asks for it.
const DOCKER_CAPS: &str = r#"["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER","CAP_MKNOD","CAP_NET_RAW","CAP_SETGID","CAP_SETUID","CAP_SETFCAP","CAP_SETPCAP","CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_KILL","CAP_AUDIT_WRITE"]"#;

/// A busybox bundle running `script`, whose config asks for Docker's default capabilities.
fn bundle(sb: &Sandbox, name: &str, script: &str) -> PathBuf {
    let b = sb.bundle(name, &["sh", "-c", script]);
    // As Docker sends it: its default capabilities, a writable root (no --read-only).
    let caps = format!(
        ".process.capabilities = {{bounding: {DOCKER_CAPS}, effective: {DOCKER_CAPS}, permitted: {DOCKER_CAPS}}} | .root.readonly = false"
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
    write_policy(&sb, "hints", "hints = true", "");
    let out = run_container(&sb, "hints", &b, "chowner");
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
        .hardened_with("hints")
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
fn hints_are_off_when_the_policy_says_so() {
    let sb = Sandbox::new();
    let b = bundle(&sb, "off", "chown 33 /tmp; echo done");
    write_policy(&sb, "off", "hints = false", "");
    let out = run_container(&sb, "off", &b, "off");
    assert!(out.ok() && out.stdout.contains("done"), "{out:?}");
    assert!(
        hints_of(&sb, "off").is_empty(),
        "{:?}",
        hints_of(&sb, "off")
    );
}

#[test]
fn a_container_denied_nothing_has_no_hints() {
    let sb = Sandbox::new();
    let b = bundle(
        &sb,
        "quiet",
        "echo hello > /tmp/x && cat /tmp/x && ls / >/dev/null",
    );
    write_policy(&sb, "hints", "hints = true", "");
    let out = run_container(&sb, "hints", &b, "quiet");
    assert!(out.ok() && out.stdout.contains("hello"), "{out:?}");
    assert!(
        hints_of(&sb, "quiet").is_empty(),
        "{:?}",
        hints_of(&sb, "quiet")
    );
    let explained = run(sb.hardened_with("hints").args(["explain", "quiet"]));
    assert!(
        explained.ok() && explained.stdout.contains("no hints"),
        "{explained:?}"
    );
}

#[test]
fn a_profile_learned_from_one_run_runs_the_program_and_nothing_more() {
    let sb = Sandbox::new();
    let learned = sb.dir.path().join("learned");
    write_policy(
        &sb,
        "learn",
        &format!(
            "mode = \"learn\"\nlearn_dir = {:?}",
            learned.display().to_string()
        ),
        "",
    );
    // Learn: the program runs as under runc's defaults (it chowns, it writes its directory).
    let b = bundle(&sb, "app-learn", ENTRYPOINT);
    sb.edit_config(&b, ".annotations = {\"io.hardened.learn\": \"app\"}");
    let out = run_container(&sb, "learn", &b, "learner");
    assert!(out.ok() && out.stdout.contains("entrypoint-ok"), "{out:?}");
    let toml = fs::read_to_string(learned.join("app.toml")).expect("the learned profile");
    assert_learned(&toml, "app");
    let evidence: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(learned.join("app.learned.json")).expect("the evidence"),
    )
    .expect("evidence JSON");
    let syscalls = evidence["syscalls"]
        .as_object()
        .and_then(|m| m.values().next())
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    assert!(
        syscalls
            .iter()
            .any(|s| s == "fchownat" || s == "chown" || s == "lchown"),
        "{syscalls:?}"
    );
    assert!(!syscalls.iter().any(|s| s == "socket"), "{syscalls:?}");
    assert!(
        audit_records(&sb)
            .iter()
            .any(|r| r["id"] == "learner" && r["decision"] == "learned"),
        "the audit log records what was learned"
    );

    // Adopt it: the policy lists the directory, the container names the profile.
    write_policy(
        &sb,
        "learned",
        &format!("profile_dirs = [{:?}]", learned.display().to_string()),
        "",
    );
    let b = bundle(&sb, "app-run", ENTRYPOINT);
    sb.edit_config(&b, ".annotations = {\"io.hardened.profile\": \"app\"}");
    let out = run_container(&sb, "learned", &b, "adopted");
    assert!(
        out.ok() && out.stdout.contains("entrypoint-ok"),
        "runs under what it learned: {out:?}"
    );

    // What it did not use stays denied: a raw socket, a write to /etc, and the user namespace
    // is still there.
    let b = bundle(&sb, "app-probe", &probe_script());
    sb.edit_config(&b, ".annotations = {\"io.hardened.profile\": \"app\"}");
    assert_adopted_probe(&run_container(&sb, "learned", &b, "probed"));
}

/// The evidence names the user and group switches the program asked for, with the IDs (why
/// SETUID and SETGID), and not the runtime's own switch to the config's user before the exec.
#[test]
fn the_evidence_names_the_programs_user_switches() {
    let sb = Sandbox::new();
    let learned = sb.dir.path().join("learned");
    write_policy(
        &sb,
        "learn",
        &format!(
            "mode = \"learn\"\nlearn_dir = {:?}",
            learned.display().to_string()
        ),
        "",
    );
    let b = bundle(
        &sb,
        "su-learn",
        "su -s /bin/sh -c 'id -u; echo switched' nobody",
    );
    sb.edit_config(&b, ".annotations = {\"io.hardened.learn\": \"su\"}");
    let out = run_container(&sb, "learn", &b, "su-learner");
    assert!(
        out.ok() && out.stdout.contains("65534\nswitched"),
        "{out:?}"
    );
    let evidence: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(learned.join("su.learned.json")).expect("the evidence"),
    )
    .expect("evidence JSON");
    let switches: Vec<&str> = evidence["user_switches"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
        .unwrap_or_default();
    for want in ["su: setgid(65534)", "su: setuid(65534)"] {
        assert!(switches.contains(&want), "{want:?} in {switches:?}");
    }
    // After su, busybox's sh and id set their (unchanged) IDs again: asked for, so listed.
    let ids = |s: &&str| -> Vec<String> {
        s.split_once('(')
            .map(|(_, a)| a.trim_end_matches(')'))
            .unwrap_or("")
            .split(", ")
            .map(str::to_string)
            .collect()
    };
    assert!(
        switches
            .iter()
            .filter(|s| !s.contains("setgroups"))
            .all(|s| ids(s).iter().all(|id| id == "65534" || id == "-1")),
        "only the program's switches, none to root (the runtime's own): {switches:?}"
    );
    let toml = fs::read_to_string(learned.join("su.toml")).expect("the learned profile");
    assert!(
        toml.contains("\"SETGID\"") && toml.contains("\"SETUID\""),
        "{toml}"
    );
}

/// The audit log of the test daemon's runtime `name` (scripts/daemons.sh).
fn daemon_dir() -> PathBuf {
    PathBuf::from(test_env("HARDENED_TEST_DAEMON_DIR"))
}

fn log_records(path: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn container_id(name: &str) -> String {
    let out = run(docker().args(["inspect", "-f", "{{.Id}}", name]));
    assert!(out.ok(), "docker inspect {name}: {out:?}");
    out.stdout.trim().to_string()
}

#[test]
fn docker_a_denied_capability_is_a_hint() {
    let name = unique("hint");
    let _guard = DockerContainer(name.clone());
    let out = run(docker_run_cmd("hardened-hints")
        .args(["--name", &name, &image()])
        .args(["sh", "-c", "chown 33 /tmp; echo ran"]));
    assert!(out.stdout.contains("ran"), "{out:?}");
    let id = container_id(&name);
    // Docker deletes the task (the runtime's delete) once it exits.
    let log = daemon_dir().join("audit/hints.log");
    let hint = poll_for(Duration::from_secs(20), Duration::from_millis(100), || {
        log_records(&log)
            .into_iter()
            .find(|r| r["id"] == id.as_str() && r["decision"] == "hint")
    });
    let hint = hint.unwrap_or_else(|| panic!("no hint for {id} in {}", log.display()));
    assert_eq!(hint["hint"]["denied"], "CHOWN", "{hint}");
    assert!(
        hint["hint"]["allow"]
            .as_str()
            .unwrap_or("")
            .contains("allow_capabilities"),
        "{hint}"
    );
}

#[test]
fn docker_learn_then_run_under_the_learned_profile() {
    let dir = daemon_dir();
    let name = unique("learn");
    let guard = DockerContainer(name.clone());
    let out = run(docker_run_cmd("hardened-learn")
        .args(["--name", &name, &image()])
        .args(["sh", "-c", ENTRYPOINT]));
    assert!(out.ok() && out.stdout.contains("entrypoint-ok"), "{out:?}");
    // Docker passes no annotation: the profile is named by the container's short id.
    let short: String = container_id(&name).chars().take(12).collect();
    let toml_file = dir.join("learned").join(format!("{short}.toml"));
    let toml = poll_for(Duration::from_secs(20), Duration::from_millis(100), || {
        fs::read_to_string(&toml_file).ok()
    })
    .unwrap_or_else(|| panic!("no learned profile {}", toml_file.display()));
    drop(guard);
    assert_learned(&toml, &short);

    // Adopt it under the name the hardened-adopted runtime runs (default_profile = "adopted").
    let adopted = dir.join("adopted");
    fs::copy(
        dir.join("learned").join(format!("{short}.seccomp.json")),
        adopted.join(format!("{short}.seccomp.json")),
    )
    .expect("copy the seccomp profile");
    fs::write(
        adopted.join("adopted.toml"),
        toml.replace(&format!("[profiles.{short}]"), "[profiles.adopted]"),
    )
    .expect("adopt");
    let out = run(docker_run_cmd("hardened-adopted")
        .args(["--rm", &image()])
        .args(["sh", "-c", &probe_script()]));
    let _ = fs::remove_file(adopted.join("adopted.toml"));
    let _ = fs::remove_file(adopted.join(format!("{short}.seccomp.json")));
    assert_adopted_probe(&out);
}
