//! Syscall hints (src/syscall_hints.rs), through real containers: a system call the seccomp
//! profile refuses still fails inside the container with the profile's errno, and `delete`
//! writes a hint naming the call, the program and what would allow it; the daemon that answers
//! the refusals leaves once the last container is gone.
//!
//! Run as root: `cargo test --release --test hints`. Needs seccomp user notification (Linux
//! 5.8 or later); no trace events.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{
    docker, docker_run_cmd, image, poll_for, run, test_env, unique, DockerContainer, Out, Sandbox,
};

/// The tests of this binary, one at a time: the first checks that the daemon leaves once no
/// container of this binary needs it.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn write_policy(sb: &Sandbox, name: &str, top: &str) -> PathBuf {
    let path = sb.policy(name);
    let text = format!(
        "audit_log = {:?}\n{top}\n",
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

fn hints_of(sb: &Sandbox, id: &str) -> Vec<serde_json::Value> {
    fs::read_to_string(sb.audit_log())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["id"] == id && r["decision"] == "hint")
        .map(|r| r["hint"].clone())
        .collect()
}

/// Pids of the syscall hints daemon.
fn daemons() -> Vec<u32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmdline.split(|b| *b == 0).any(|a| a == b"__syscall-hints") {
            out.push(pid);
        }
    }
    out
}

/// Sequential, so that no other container of this binary keeps the daemon alive when the end
/// checks that it left.
#[test]
fn refused_system_calls_are_hinted_still_refused_and_the_daemon_leaves() {
    let _serial = serial();
    let sb = Sandbox::new();

    // A call the baseline refuses (syslog, through busybox dmesg): refused as before, with
    // the same errno, and hinted as the baseline's.
    // From inside, the program holds neither the filter's listener nor the connection to the
    // daemon (a listener in the program's hands would let it answer its own refusals).
    let b = sb.bundle(
        "dmesg",
        &[
            "sh",
            "-c",
            "dmesg >/dev/null; echo rc=$?; ls -l /proc/self/fd/ /proc/1/fd/",
        ],
    );
    write_policy(&sb, "hints", "hints = true");
    let out = run_container(&sb, "hints", &b, "dmesg");
    assert!(out.ok() && out.stdout.contains("rc=1"), "{out:?}");
    assert!(
        out.stderr.contains("Operation not permitted"),
        "the profile's errno (EPERM), not ENOSYS: {out:?}"
    );
    assert!(
        out.stdout.contains("/proc/self/fd/")
            && !out.stdout.contains("seccomp")
            && !out.stdout.contains("socket:"),
        "a descriptor of the hints machinery reached the program: {out:?}"
    );
    let hints = hints_of(&sb, "dmesg");
    let h = hints
        .iter()
        .find(|h| h["kind"] == "syscall")
        .unwrap_or_else(|| panic!("a syscall hint: {hints:?}"));
    assert_eq!(h["denied"], "syslog", "{hints:?}");
    assert!(
        h["processes"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p == "dmesg")),
        "names the program: {hints:?}"
    );
    assert!(
        h["allow"].as_str().unwrap_or("").contains("baseline"),
        "{hints:?}"
    );

    // A call only the operator's profile leaves out (uname): the hint names seccomp_profile,
    // and `explain` says it in words.
    let mut profile = serde_json::to_value(hardened::seccomp::default_profile()).expect("json");
    for rule in profile["syscalls"].as_array_mut().expect("rules") {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|n| n != "uname");
        }
    }
    fs::write(
        sb.policy("no-uname").with_file_name("no-uname.json"),
        profile.to_string(),
    )
    .expect("write profile");
    write_policy(
        &sb,
        "no-uname",
        "hints = true\n[defaults]\nseccomp_profile = \"no-uname.json\"",
    );
    let b = sb.bundle("uname", &["sh", "-c", "uname -s; echo rc=$?"]);
    let out = run_container(&sb, "no-uname", &b, "uname");
    // busybox prints what uname(2) left in its buffer (nothing) and does not check.
    assert!(
        out.ok() && !out.stdout.contains("Linux"),
        "refused: {out:?}"
    );
    let hints = hints_of(&sb, "uname");
    assert!(
        hints.iter().any(|h| h["denied"] == "uname"
            && h["allow"]
                .as_str()
                .unwrap_or("")
                .contains("seccomp_profile")),
        "{hints:?}"
    );
    let explained = run(sb.hardened_with("no-uname").args(["explain", "uname"]));
    assert!(
        explained.ok()
            && explained
                .stdout
                .contains("the system call uname was refused")
            && explained.stdout.contains("to allow it: a seccomp profile"),
        "{explained:?}"
    );

    // Hints off: the plain filter, no record.
    write_policy(&sb, "off", "hints = false");
    let b = sb.bundle("off", &["sh", "-c", "dmesg >/dev/null; echo rc=$?"]);
    let out = run_container(&sb, "off", &b, "off");
    assert!(out.ok() && out.stdout.contains("rc=1"), "{out:?}");
    assert!(
        hints_of(&sb, "off").is_empty(),
        "{:?}",
        hints_of(&sb, "off")
    );

    // The daemon leaves once no container needs it (2 s idle), and takes its socket along.
    let left = poll_for(Duration::from_secs(15), Duration::from_millis(200), || {
        daemons().is_empty().then_some(())
    });
    assert!(
        left.is_some(),
        "the syscall hints daemon is still there: {:?}",
        daemons()
    );
    assert!(
        !Path::new("/run/hardened/hints/syscalls.sock").exists(),
        "the daemon's socket is left"
    );
}

/// Through Docker, whose own default profile the config carries (the baseline merged in): the
/// call is refused with Docker's errno and the hint is in the runtime's audit log once Docker
/// deletes the container.
#[test]
fn docker_a_refused_system_call_is_a_hint() {
    let _serial = serial();
    let name = unique("sysc");
    let _guard = DockerContainer(name.clone());
    let out = run(docker_run_cmd("hardened-hints")
        .args(["--name", &name, &image()])
        .args(["sh", "-c", "dmesg >/dev/null; echo rc=$?"]));
    assert!(
        out.stdout.contains("rc=1") && out.stderr.contains("Operation not permitted"),
        "{out:?}"
    );
    let inspect = run(docker().args(["inspect", "-f", "{{.Id}}", &name]));
    assert!(inspect.ok(), "{inspect:?}");
    let id = inspect.stdout.trim().to_string();
    let log = PathBuf::from(test_env("HARDENED_TEST_DAEMON_DIR")).join("audit/hints.log");
    let hint = poll_for(Duration::from_secs(20), Duration::from_millis(100), || {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|r| r["id"] == id.as_str() && r["hint"]["kind"] == "syscall")
    });
    let hint = hint.unwrap_or_else(|| panic!("no syscall hint for {id} in {}", log.display()));
    assert_eq!(hint["hint"]["denied"], "syslog", "{hint}");
    assert!(
        hint["hint"]["processes"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p == "dmesg")),
        "{hint}"
    );
}
