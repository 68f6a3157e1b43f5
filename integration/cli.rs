//! The runc command-line contract, through the `hardened` binary directly (no Docker).
//!
//! Every test runs real containers in its own state root (`common::Sandbox`), with ids made
//! unique per process (the cgroups of a container are named after its id and are global).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{poll_for, run, unique, wait_until, Out, Sandbox};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(20);

/// Run a command whose stdout/stderr are regular files instead of pipes: a container started
/// by `create`, `run --detach` or `exec --detach` inherits them and outlives the command, so
/// with pipes `Command::output` would wait for the container too.
fn run_files(sb: &Sandbox, cmd: &mut Command) -> Out {
    let out = tempfile::NamedTempFile::new_in(sb.dir.path()).expect("stdout file");
    let err = tempfile::NamedTempFile::new_in(sb.dir.path()).expect("stderr file");
    let status = cmd
        .stdin(Stdio::null())
        .stdout(out.reopen().expect("reopen stdout"))
        .stderr(err.reopen().expect("reopen stderr"))
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    Out {
        code: status.code(),
        stdout: std::fs::read_to_string(out.path()).unwrap_or_default(),
        stderr: std::fs::read_to_string(err.path()).unwrap_or_default(),
    }
}

/// `hardened state ID` parsed, or None when the command fails.
fn state(sb: &Sandbox, id: &str) -> Option<Value> {
    let out = run(sb.hardened().args(["state", id]));
    if !out.ok() {
        return None;
    }
    Some(
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("state output is not JSON ({e}): {out:?}")),
    )
}

fn status(sb: &Sandbox, id: &str) -> String {
    let s = state(sb, id).unwrap_or_else(|| panic!("state {id} failed"));
    s["status"].as_str().expect("status string").to_string()
}

fn wait_status(sb: &Sandbox, id: &str, want: &str) {
    wait_until(&format!("container {id} to be {want}"), DEADLINE, || {
        state(sb, id).is_some_and(|s| s["status"] == want)
    });
}

fn create(sb: &Sandbox, bundle: &Path, id: &str) {
    let out = run_files(
        sb,
        sb.hardened().arg("create").arg("-b").arg(bundle).arg(id),
    );
    assert!(out.ok(), "create {id}: {out:?}");
}

fn start(sb: &Sandbox, id: &str) {
    let out = run(sb.hardened().args(["start", id]));
    assert!(out.ok(), "start {id}: {out:?}");
}

/// A started container whose init runs `args`; returns (bundle, id).
fn started(sb: &Sandbox, prefix: &str, args: &[&str]) -> (PathBuf, String) {
    let id = unique(prefix);
    let b = sb.bundle(&id, args);
    create(sb, &b, &id);
    start(sb, &id);
    (b, id)
}

/// A running container whose init runs `args` (which must not exit by itself).
fn running(sb: &Sandbox, prefix: &str, args: &[&str]) -> (PathBuf, String) {
    let (b, id) = started(sb, prefix, args);
    assert_eq!(status(sb, &id), "running");
    (b, id)
}

fn pid_of(sb: &Sandbox, id: &str) -> i32 {
    let s = state(sb, id).expect("state");
    let pid = s["pid"].as_i64().expect("pid") as i32;
    assert!(pid > 0, "pid of {id}: {s}");
    pid
}

fn exec(sb: &Sandbox, id: &str, args: &[&str]) -> Out {
    run(sb.hardened().arg("exec").arg(id).args(args))
}

/// The pids of a container, from `ps --format json`.
fn ps_pids(sb: &Sandbox, id: &str) -> Vec<i64> {
    let out = run(sb.hardened().args(["ps", "--format", "json", id]));
    assert!(out.ok(), "ps: {out:?}");
    let v: Value = serde_json::from_str(&out.stdout).expect("ps json");
    v.as_array()
        .expect("ps json is an array")
        .iter()
        .map(|p| p.as_i64().expect("pid number"))
        .collect()
}

/// A process exists and is not a zombie.
fn alive(pid: i64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next()),
            Some('Z') | Some('X') | None
        ),
        Err(_) => false,
    }
}

fn ids_in_list(sb: &Sandbox) -> Vec<String> {
    let out = run(sb.hardened().args(["list", "-q"]));
    assert!(out.ok(), "list -q: {out:?}");
    out.stdout.lines().map(str::to_string).collect()
}

/// Directories whose name contains `id` under `base`, down to `depth` levels.
fn find_named(base: &Path, id: &str, depth: usize) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(base) else {
        return found;
    };
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if !ft.is_dir() {
            continue;
        }
        if e.file_name().to_string_lossy().contains(id) {
            found.push(e.path());
        }
        if depth > 1 {
            found.extend(find_named(&e.path(), id, depth - 1));
        }
    }
    found
}

/// Nothing of container `id` is left: no state dir, no shadow bundle, no cgroup.
fn assert_nothing_left(sb: &Sandbox, id: &str) {
    assert!(
        !sb.root().join(id).exists(),
        "a state directory for {id} was left behind"
    );
    let bundles = sb.root().join(".bundles");
    if let Ok(rd) = std::fs::read_dir(&bundles) {
        let left: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        assert!(left.is_empty(), "shadow bundles left behind: {left:?}");
    }
    for ctl in ["pids", "memory"] {
        let left = find_named(&Path::new("/sys/fs/cgroup").join(ctl), id, 4);
        assert!(left.is_empty(), "cgroups of {id} left behind: {left:?}");
    }
}

#[test]
fn lifecycle_create_start_kill_delete() {
    let sb = Sandbox::new();
    let id = unique("life");
    let b = sb.bundle("life", &["sleep", "300"]);
    let pid_file = sb.dir.path().join("life.pid");
    // A relative --bundle: state must report the canonical path.
    let out = run_files(
        &sb,
        sb.hardened()
            .current_dir(sb.dir.path())
            .args(["create", "--bundle", "life", "--pid-file"])
            .arg(&pid_file)
            .arg(&id),
    );
    assert!(out.ok(), "create: {out:?}");

    let s = state(&sb, &id).expect("state after create");
    let canonical = std::fs::canonicalize(&b).unwrap();
    assert_eq!(s["status"], "created", "{s}");
    assert_eq!(s["id"], id.as_str(), "{s}");
    assert_eq!(s["bundle"], canonical.to_str().unwrap(), "{s}");
    assert_eq!(
        s["rootfs"],
        canonical.join("rootfs").to_str().unwrap(),
        "{s}"
    );
    assert!(
        s["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        "{s}"
    );
    let pid = s["pid"].as_i64().expect("pid");
    assert!(pid > 0, "{s}");
    let written = std::fs::read_to_string(&pid_file).expect("pid file");
    assert_eq!(written.trim().parse::<i64>().ok(), Some(pid), "pid file");
    assert!(alive(pid), "init {pid} of a created container is not alive");

    start(&sb, &id);
    assert_eq!(status(&sb, &id), "running");
    assert_eq!(pid_of(&sb, &id) as i64, pid);

    let out = run(sb.hardened().args(["kill", &id, "SIGKILL"]));
    assert!(out.ok(), "kill: {out:?}");
    wait_status(&sb, &id, "stopped");
    wait_until("init to die", DEADLINE, || !alive(pid));

    let out = run(sb.hardened().args(["delete", &id]));
    assert!(out.ok(), "delete: {out:?}");
    let out = run(sb.hardened().args(["state", &id]));
    assert!(!out.ok(), "state after delete succeeded: {out:?}");
    assert!(out.stderr.contains("does not exist"), "{out:?}");
    assert_nothing_left(&sb, &id);
}

#[test]
fn start_twice_fails() {
    let sb = Sandbox::new();
    let (_b, id) = running(&sb, "start2", &["sleep", "300"]);
    let out = run(sb.hardened().args(["start", &id]));
    assert!(!out.ok(), "second start succeeded: {out:?}");
    assert!(!out.stderr.trim().is_empty(), "no message: {out:?}");
    assert_eq!(status(&sb, &id), "running");
}

#[test]
fn start_of_stopped_container_fails() {
    let sb = Sandbox::new();
    let (_b, id) = started(&sb, "startstop", &["true"]);
    wait_status(&sb, &id, "stopped");
    let out = run(sb.hardened().args(["start", &id]));
    assert!(!out.ok(), "start of a stopped container succeeded: {out:?}");
    assert!(!out.stderr.trim().is_empty(), "no message: {out:?}");
}

#[test]
fn create_duplicate_id_fails() {
    let sb = Sandbox::new();
    let id = unique("dup");
    let b = sb.bundle("dup", &["sleep", "300"]);
    create(&sb, &b, &id);
    let first_pid = pid_of(&sb, &id);
    let out = run_files(&sb, sb.hardened().arg("create").arg("-b").arg(&b).arg(&id));
    assert!(!out.ok(), "duplicate create succeeded: {out:?}");
    assert!(out.stderr.contains("already exists"), "{out:?}");
    // The first container is untouched.
    assert_eq!(status(&sb, &id), "created");
    assert_eq!(pid_of(&sb, &id), first_pid);
}

#[test]
fn delete_running_without_force_fails() {
    let sb = Sandbox::new();
    let (_b, id) = running(&sb, "delrun", &["sleep", "300"]);
    let pid = pid_of(&sb, &id);
    let out = run(sb.hardened().args(["delete", &id]));
    assert!(
        !out.ok(),
        "delete of a running container succeeded: {out:?}"
    );
    assert!(
        out.stderr.contains("running") || out.stderr.contains("not stopped"),
        "{out:?}"
    );
    assert_eq!(status(&sb, &id), "running");
    assert!(alive(pid as i64));

    let out = run(sb.hardened().args(["delete", "--force", &id]));
    assert!(out.ok(), "delete --force: {out:?}");
    assert!(state(&sb, &id).is_none());
    wait_until("init to die", DEADLINE, || !alive(pid as i64));
    assert_nothing_left(&sb, &id);
}

#[test]
fn unknown_ids() {
    let sb = Sandbox::new();
    let id = unique("nosuch");
    for args in [vec!["kill", &id, "KILL"], vec!["state", &id]] {
        let out = run(sb.hardened().args(&args));
        assert!(!out.ok(), "{args:?} succeeded: {out:?}");
        assert!(out.stderr.contains("does not exist"), "{args:?}: {out:?}");
    }
    let out = run(sb.hardened().args(["delete", &id]));
    assert!(!out.ok(), "delete of an unknown id succeeded: {out:?}");
    assert!(out.stderr.contains("does not exist"), "{out:?}");
    // runc: delete --force of a container that does not exist succeeds.
    let out = run(sb.hardened().args(["delete", "--force", &id]));
    assert!(out.ok(), "delete --force of an unknown id: {out:?}");
}

#[test]
fn invalid_id_is_refused() {
    let sb = Sandbox::new();
    let b = sb.bundle("badid", &["sleep", "300"]);
    for bad in ["../x", "a/b", "..", ""] {
        let out = run_files(&sb, sb.hardened().arg("create").arg("-b").arg(&b).arg(bad));
        assert!(!out.ok(), "create {bad:?} succeeded: {out:?}");
        assert!(
            out.stderr.contains("invalid container id"),
            "{bad:?}: {out:?}"
        );
    }
    assert!(!sb.dir.path().join("x").exists(), "../x escaped the root");
    let out = run(sb.hardened().args(["state", "../x"]));
    assert!(!out.ok(), "{out:?}");
    assert!(out.stderr.contains("invalid container id"), "{out:?}");
}

#[test]
fn kill_delivers_a_trapped_signal() {
    let sb = Sandbox::new();
    let id = unique("usr1");
    let b = sb.bundle(
        "usr1",
        &[
            "sh",
            "-c",
            "trap 'echo got > /tmp/usr1' USR1; echo ready > /tmp/ready; \
             while true; do sleep 0.2; done",
        ],
    );
    sb.edit_config(&b, ".root.readonly=false");
    create(&sb, &b, &id);
    start(&sb, &id);
    let rootfs = b.join("rootfs");
    wait_until("the trap to be set", DEADLINE, || {
        rootfs.join("tmp/ready").exists()
    });
    let out = run(sb.hardened().args(["kill", &id, "USR1"]));
    assert!(out.ok(), "kill USR1: {out:?}");
    // The shell creates the file, then writes it: wait for what it writes.
    wait_until("the USR1 trap to run", DEADLINE, || {
        std::fs::read_to_string(rootfs.join("tmp/usr1")).is_ok_and(|s| s == "got\n")
    });
    // A handled signal does not stop the container.
    assert_eq!(status(&sb, &id), "running");
    let out = run(sb.hardened().args(["kill", &id, "9"]));
    assert!(out.ok(), "kill 9: {out:?}");
    wait_status(&sb, &id, "stopped");
}

#[test]
fn kill_all_signals_every_process() {
    let sb = Sandbox::new();
    // The init shell has no TERM handler, so as PID 1 of its namespace it ignores TERM; its
    // children do not.
    let (_b, id) = running(
        &sb,
        "killall",
        &["sh", "-c", "sleep 300 & sleep 301 & wait"],
    );
    let init = pid_of(&sb, &id) as i64;
    let mut pids = Vec::new();
    wait_until("three processes in the container", DEADLINE, || {
        pids = ps_pids(&sb, &id);
        pids.len() == 3
    });
    assert!(pids.contains(&init), "{pids:?} lacks init {init}");

    // Without --all only init gets the signal (and ignores it).
    let out = run(sb.hardened().args(["kill", &id, "TERM"]));
    assert!(out.ok(), "kill TERM: {out:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        pids.iter().all(|&p| alive(p)),
        "plain kill reached children"
    );
    assert_eq!(status(&sb, &id), "running");

    let out = run(sb.hardened().args(["kill", "--all", &id, "TERM"]));
    assert!(out.ok(), "kill --all TERM: {out:?}");
    for &p in pids.iter().filter(|&&p| p != init) {
        wait_until(&format!("process {p} to die"), DEADLINE, || !alive(p));
    }
    // With its children gone, `wait` returns and the init exits.
    wait_status(&sb, &id, "stopped");
}

#[test]
fn run_propagates_exit_codes_and_output() {
    let sb = Sandbox::new();
    for (code, script) in [(0, "echo out-0"), (3, "echo out-3; exit 3")] {
        let id = unique("runcode");
        let b = sb.bundle(&id, &["sh", "-c", script]);
        let out = run(sb.hardened().arg("run").arg("-b").arg(&b).arg(&id));
        assert_eq!(out.code, Some(code), "{out:?}");
        assert!(out.stdout.contains(&format!("out-{code}")), "{out:?}");
        assert!(!ids_in_list(&sb).contains(&id), "{id} still listed");
        assert!(state(&sb, &id).is_none());
        assert_nothing_left(&sb, &id);
    }
}

#[test]
fn run_reports_death_by_signal_as_128_plus_signal() {
    let sb = Sandbox::new();
    let id = unique("runsig");
    let b = sb.bundle("runsig", &["sleep", "300"]);
    let mut child = sb
        .hardened()
        .arg("run")
        .arg("-b")
        .arg(&b)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn run");
    wait_status(&sb, &id, "running");
    let pid = pid_of(&sb, &id);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the container's init");
    let st = poll_for(DEADLINE, Duration::from_millis(50), || {
        child.try_wait().expect("wait run")
    })
    .unwrap_or_else(|| {
        let _ = child.kill();
        panic!("run did not return after its container was killed");
    });
    assert_eq!(st.code(), Some(137), "{st:?}");
    assert!(state(&sb, &id).is_none(), "container left after run");
}

#[test]
fn run_detach_leaves_it_running() {
    let sb = Sandbox::new();
    let id = unique("rundet");
    let b = sb.bundle("rundet", &["sleep", "300"]);
    let start = Instant::now();
    let out = run_files(
        &sb,
        sb.hardened()
            .arg("run")
            .arg("--detach")
            .arg("-b")
            .arg(&b)
            .arg(&id),
    );
    assert!(out.ok(), "run --detach: {out:?}");
    assert!(start.elapsed() < Duration::from_secs(30));
    assert_eq!(status(&sb, &id), "running");
    assert!(alive(pid_of(&sb, &id) as i64));
    assert!(ids_in_list(&sb).contains(&id));
}

#[test]
fn run_keep_leaves_a_stopped_container() {
    let sb = Sandbox::new();
    let id = unique("runkeep");
    let b = sb.bundle("runkeep", &["sh", "-c", "exit 2"]);
    let out = run(sb
        .hardened()
        .arg("run")
        .arg("--keep")
        .arg("-b")
        .arg(&b)
        .arg(&id));
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_eq!(status(&sb, &id), "stopped");
    assert!(ids_in_list(&sb).contains(&id));
    let out = run(sb.hardened().args(["delete", &id]));
    assert!(out.ok(), "delete: {out:?}");
    assert!(state(&sb, &id).is_none());
    assert!(!ids_in_list(&sb).contains(&id));
    assert_nothing_left(&sb, &id);
}

#[test]
fn run_with_stdout_on_dev_null() {
    let sb = Sandbox::new();
    let id = unique("devnull");
    let b = sb.bundle("devnull", &["sh", "-c", "echo hi && exit 4"]);
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    let out: Out = sb
        .hardened()
        .arg("run")
        .arg("-b")
        .arg(&b)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(null)
        .stderr(Stdio::piped())
        .output()
        .expect("run")
        .into();
    assert_eq!(
        out.code,
        Some(4),
        "writing to a /dev/null stdout failed: {out:?}"
    );
}

#[test]
fn exec_inline() {
    let sb = Sandbox::new();
    let (_b, id) = running(&sb, "exec", &["sleep", "300"]);

    let out = exec(&sb, &id, &["id", "-u"]);
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.stdout.trim(), "0");

    let out = run(sb
        .hardened()
        .args(["exec", "--user", "1000:1000", &id, "id", "-u"]));
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.stdout.trim(), "1000");
    let out = run(sb
        .hardened()
        .args(["exec", "--user", "1000:1000", &id, "id", "-g"]));
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.stdout.trim(), "1000");

    let out = run(sb.hardened().args(["exec", "--cwd", "/tmp", &id, "pwd"]));
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.stdout.trim(), "/tmp");

    let out = run(sb
        .hardened()
        .args(["exec", "--env", "FOO=bar", &id, "sh", "-c", "echo $FOO"]));
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.stdout.trim(), "bar");

    let out = exec(&sb, &id, &["sh", "-c", "echo err >&2; exit 7"]);
    assert_eq!(out.code, Some(7), "{out:?}");
    assert!(out.stderr.contains("err"), "{out:?}");

    // The container is unaffected.
    assert_eq!(status(&sb, &id), "running");
}

#[test]
fn exec_process_file() {
    let sb = Sandbox::new();
    let (_b, id) = running(&sb, "execp", &["sleep", "300"]);
    let p = sb.dir.path().join("process.json");
    std::fs::write(
        &p,
        r#"{"args":["sh","-c","echo proc; pwd; id -u"],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0}}"#,
    )
    .unwrap();
    let out = run(sb.hardened().arg("exec").arg("--process").arg(&p).arg(&id));
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), ["proc", "/", "0"]);

    let bad = sb.dir.path().join("bad.json");
    std::fs::write(&bad, "{not json").unwrap();
    let out = run(sb
        .hardened()
        .arg("exec")
        .arg("--process")
        .arg(&bad)
        .arg(&id));
    assert!(!out.ok(), "{out:?}");
    assert!(out.stderr.contains("bad.json"), "{out:?}");
}

#[test]
fn exec_into_stopped_container_fails() {
    let sb = Sandbox::new();
    let (_b, id) = started(&sb, "execstop", &["true"]);
    wait_status(&sb, &id, "stopped");
    let out = exec(&sb, &id, &["true"]);
    assert!(
        !out.ok(),
        "exec into a stopped container succeeded: {out:?}"
    );
    assert!(out.stderr.to_lowercase().contains("stopped"), "{out:?}");
}

#[test]
fn exec_detach_writes_pid_file() {
    let sb = Sandbox::new();
    let (_b, id) = running(&sb, "execdet", &["sleep", "300"]);
    let pid_file = sb.dir.path().join("exec.pid");
    let out = run_files(
        &sb,
        sb.hardened()
            .args(["exec", "--detach", "--pid-file"])
            .arg(&pid_file)
            .args([&id, "sleep", "200"]),
    );
    assert!(out.ok(), "exec --detach: {out:?}");
    let pid: i64 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid in pid file");
    assert!(pid > 0);
    assert!(alive(pid), "exec'd process {pid} is not alive");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("200"),
        "{pid} is not the exec'd sleep"
    );
    assert!(ps_pids(&sb, &id).contains(&pid), "exec'd pid not in ps");
}

#[test]
fn pause_and_resume() {
    let sb = Sandbox::new();
    let id = unique("pause");
    let b = sb.bundle("pause", &["sleep", "300"]);
    // A cgroup of its own, directly below the root: `delete` removes it, no parent is left.
    let cg = format!("/{id}");
    sb.edit_config(&b, &format!(".linux.cgroupsPath=\"{cg}\""));
    create(&sb, &b, &id);
    start(&sb, &id);
    let freezer = PathBuf::from(format!("/sys/fs/cgroup/freezer{cg}/freezer.state"));
    let read = || std::fs::read_to_string(&freezer).unwrap_or_default();

    let out = run(sb.hardened().args(["pause", &id]));
    assert!(out.ok(), "pause: {out:?}");
    assert_eq!(status(&sb, &id), "paused");
    if freezer.exists() {
        assert_eq!(read().trim(), "FROZEN");
    }
    let out = run(sb.hardened().args(["pause", &id]));
    assert!(!out.ok(), "pausing a paused container succeeded: {out:?}");
    let out = exec(&sb, &id, &["true"]);
    assert!(!out.ok(), "exec into a paused container succeeded: {out:?}");
    assert!(out.stderr.to_lowercase().contains("paused"), "{out:?}");

    let out = run(sb.hardened().args(["resume", &id]));
    assert!(out.ok(), "resume: {out:?}");
    assert_eq!(status(&sb, &id), "running");
    if freezer.exists() {
        assert_eq!(read().trim(), "THAWED");
    }
    let out = exec(&sb, &id, &["echo", "alive"]);
    assert!(out.ok() && out.stdout.contains("alive"), "{out:?}");

    let out = run(sb.hardened().args(["resume", &id]));
    assert!(!out.ok(), "resuming a running container succeeded: {out:?}");

    let out = run(sb.hardened().args(["delete", "--force", &id]));
    assert!(out.ok(), "{out:?}");
    assert!(
        !Path::new(&format!("/sys/fs/cgroup/freezer{cg}")).exists(),
        "freezer cgroup left behind"
    );
}

#[test]
fn ps_json_and_table() {
    let sb = Sandbox::new();
    let (_b, id) = running(&sb, "ps", &["sleep", "300"]);
    let pid = pid_of(&sb, &id) as i64;
    assert!(ps_pids(&sb, &id).contains(&pid));

    let out = run(sb.hardened().args(["ps", &id]));
    assert!(out.ok(), "{out:?}");
    let mut lines = out.stdout.lines();
    let header = lines.next().expect("header");
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .unwrap_or_else(|| panic!("no PID column: {out:?}"));
    let pids: Vec<i64> = lines
        .filter_map(|l| l.split_whitespace().nth(col)?.parse().ok())
        .collect();
    assert_eq!(pids, [pid], "{out:?}");
}

#[test]
fn list_formats() {
    let sb = Sandbox::new();
    let (b, id) = running(&sb, "list", &["sleep", "300"]);
    let pid = pid_of(&sb, &id);

    let out = run(sb.hardened().arg("list"));
    assert!(out.ok(), "{out:?}");
    let mut lines = out.stdout.lines();
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
        "{out:?}"
    );
    let row: Vec<&str> = lines
        .find(|l| l.split_whitespace().next() == Some(id.as_str()))
        .unwrap_or_else(|| panic!("{id} not in list: {out:?}"))
        .split_whitespace()
        .collect();
    assert_eq!(row[1], pid.to_string());
    assert_eq!(row[2], "running");
    assert_eq!(row[3], std::fs::canonicalize(&b).unwrap().to_str().unwrap());

    let out = run(sb.hardened().args(["list", "--format", "json"]));
    assert!(out.ok(), "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).expect("list json");
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 1, "{v}");
    assert_eq!(arr[0]["id"], id.as_str());
    assert_eq!(arr[0]["status"], "running");
    assert_eq!(arr[0]["pid"], pid);

    assert_eq!(ids_in_list(&sb), vec![id]);
}

#[test]
fn list_of_empty_root() {
    let sb = Sandbox::new();
    let out = run(sb.hardened().args(["list", "--format", "json"]));
    assert!(out.ok(), "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).expect("list json");
    assert!(
        v.as_array().is_some_and(|a| a.is_empty()) || v.is_null(),
        "{v}"
    );
    assert!(ids_in_list(&sb).is_empty());
}

/// The container's pids.max, read inside it: its own cgroup is mounted at /sys/fs/cgroup/pids
/// on cgroup v1 and at /sys/fs/cgroup on v2 (the guest stage).
const PIDS_MAX: &[&str] = &[
    "sh",
    "-c",
    "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max",
];

#[test]
fn update_pids_limit_flag() {
    let sb = Sandbox::new();
    let (_b, id) = running(&sb, "updflag", &["sleep", "300"]);
    let out = run(sb.hardened().args(["update", "--pids-limit", "20", &id]));
    assert!(out.ok(), "update: {out:?}");
    let out = exec(&sb, &id, PIDS_MAX);
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.stdout.trim(), "20");
}

#[test]
fn update_resources_from_stdin() {
    let sb = Sandbox::new();
    let (_b, id) = running(&sb, "updstdin", &["sleep", "300"]);
    let mut child = sb
        .hardened()
        .args(["update", "--resources", "-", &id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn update");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"pids":{"limit":30}}"#)
        .unwrap();
    let out: Out = child.wait_with_output().expect("update").into();
    assert!(out.ok(), "update --resources -: {out:?}");
    let out = exec(&sb, &id, PIDS_MAX);
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.stdout.trim(), "30");

    let f = sb.dir.path().join("res.json");
    std::fs::write(&f, r#"{"pids":{"limit":40}}"#).unwrap();
    let out = run(sb.hardened().arg("update").arg("-r").arg(&f).arg(&id));
    assert!(out.ok(), "update -r FILE: {out:?}");
    let out = exec(&sb, &id, PIDS_MAX);
    assert_eq!(out.stdout.trim(), "40", "{out:?}");
}

#[test]
fn events_stats_prints_one_object() {
    let sb = Sandbox::new();
    let (_b, id) = running(&sb, "events", &["sleep", "300"]);
    let out = run(sb.hardened().args(["events", "--stats", &id]));
    assert!(out.ok(), "{out:?}");
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{out:?}");
    let v: Value = serde_json::from_str(lines[0]).expect("events json");
    assert_eq!(v["type"], "stats", "{v}");
    assert_eq!(v["id"], id.as_str(), "{v}");
    assert!(v["data"].is_object(), "{v}");
}

#[test]
fn spec_writes_config_once() {
    let sb = Sandbox::new();
    let dir = sb.dir.path().join("specdir");
    std::fs::create_dir(&dir).unwrap();
    let out = run(sb.hardened().arg("spec").arg("--bundle").arg(&dir));
    assert!(out.ok(), "{out:?}");
    let raw = std::fs::read_to_string(dir.join("config.json")).expect("config.json");
    let v: Value = serde_json::from_str(&raw).expect("config.json parses");
    assert!(
        v["ociVersion"].as_str().is_some_and(|s| !s.is_empty()),
        "{v}"
    );
    assert_eq!(v["root"]["path"], "rootfs");
    let out = run(sb.hardened().arg("spec").arg("--bundle").arg(&dir));
    assert!(!out.ok(), "second spec succeeded: {out:?}");
    assert!(out.stderr.contains("exists"), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("config.json")).unwrap(),
        raw
    );

    // Without --bundle: the current directory.
    let cwd = sb.dir.path().join("speccwd");
    std::fs::create_dir(&cwd).unwrap();
    let out = run(sb.hardened().current_dir(&cwd).arg("spec"));
    assert!(out.ok(), "{out:?}");
    assert!(cwd.join("config.json").exists());
}

#[test]
fn features_document() {
    let sb = Sandbox::new();
    let out = run(sb.hardened().arg("features"));
    assert!(out.ok(), "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).expect("features json");
    assert!(v["ociVersionMin"].is_string(), "{v}");
    assert!(v["ociVersionMax"].is_string(), "{v}");
    let ns = v["linux"]["namespaces"].as_array().expect("namespaces");
    assert!(ns.iter().any(|n| n == "user"), "{v}");
    assert_eq!(v["linux"]["seccomp"]["enabled"], true, "{v}");
}

#[test]
fn version_output() {
    let sb = Sandbox::new();
    for flag in ["--version", "-v"] {
        let out = run(sb.hardened().arg(flag));
        assert!(out.ok(), "{out:?}");
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert!(lines[0].starts_with("hardened version "), "{out:?}");
        assert!(lines.iter().any(|l| l.starts_with("commit: ")), "{out:?}");
        assert!(lines.iter().any(|l| l.starts_with("spec: ")), "{out:?}");
    }
}

#[test]
fn checkpoint_and_restore_are_not_supported() {
    let sb = Sandbox::new();
    for cmd in ["checkpoint", "restore"] {
        let out = run(sb
            .hardened()
            .args([cmd, "--image-path", "/tmp/x", "someid"]));
        assert!(!out.ok(), "{cmd} succeeded: {out:?}");
        assert!(out.stderr.contains("not supported"), "{cmd}: {out:?}");
    }
}

#[test]
fn failing_create_logs_json_and_leaves_nothing() {
    let sb = Sandbox::new();
    let id = unique("badcfg");
    let b = sb.bundle("badcfg", &["true"]);
    std::fs::write(b.join("config.json"), "{ this is not json").unwrap();
    let log = sb.dir.path().join("log.json");
    let out = run_files(
        &sb,
        sb.hardened()
            .arg("--log")
            .arg(&log)
            .args(["--log-format", "json", "create", "-b"])
            .arg(&b)
            .arg(&id),
    );
    assert!(!out.ok(), "create with invalid JSON succeeded: {out:?}");
    let text = std::fs::read_to_string(&log).expect("log file");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: log line {l:?}")))
        .collect();
    assert!(!lines.is_empty(), "empty log");
    for l in &lines {
        for k in ["level", "msg", "time"] {
            assert!(l[k].is_string(), "log line without {k}: {l}");
        }
    }
    let last = lines.last().unwrap();
    assert_eq!(last["level"], "error", "{last}");
    assert!(
        last["msg"].as_str().unwrap().contains("config.json"),
        "{last}"
    );
    assert_nothing_left(&sb, &id);
}

#[test]
fn failing_create_in_libcontainer_leaves_nothing() {
    let sb = Sandbox::new();
    let id = unique("noexe");
    let b = sb.bundle("noexe", &["/no/such/binary"]);
    let log = sb.dir.path().join("log.json");
    let out = run_files(
        &sb,
        sb.hardened()
            .arg("--log")
            .arg(&log)
            .args(["--log-format", "json", "create", "-b"])
            .arg(&b)
            .arg(&id),
    );
    assert!(!out.ok(), "create of a missing binary succeeded: {out:?}");
    let text = std::fs::read_to_string(&log).expect("log file");
    let last: Value = serde_json::from_str(text.lines().last().expect("a log line")).unwrap();
    assert_eq!(last["level"], "error", "{last}");
    assert!(
        last["msg"].as_str().unwrap().contains("/no/such/binary"),
        "{last}"
    );
    assert_nothing_left(&sb, &id);
    assert!(!ids_in_list(&sb).contains(&id));
}

#[test]
fn cwd_in_proc_fd_is_refused() {
    let sb = Sandbox::new();
    let id = unique("cve");
    let b = sb.bundle("cve", &["sleep", "300"]);
    sb.edit_config(&b, ".process.cwd=\"/proc/self/fd/3\"");
    let out = run_files(&sb, sb.hardened().arg("create").arg("-b").arg(&b).arg(&id));
    assert!(
        !out.ok(),
        "create with cwd /proc/self/fd/3 succeeded: {out:?}"
    );
    assert!(out.stderr.contains("CVE-2024-21626"), "{out:?}");
    assert_nothing_left(&sb, &id);

    // exec with such a cwd is refused as well.
    let (_b, id) = running(&sb, "cveexec", &["sleep", "300"]);
    let out = run(sb
        .hardened()
        .args(["exec", "--cwd", "/proc/self/fd/3", &id, "pwd"]));
    assert!(
        !out.ok(),
        "exec with cwd /proc/self/fd/3 succeeded: {out:?}"
    );
    assert!(out.stderr.contains("CVE-2024-21626"), "{out:?}");
}

#[test]
fn systemd_cgroup_without_systemd() {
    let sb = Sandbox::new();
    let id = unique("systemd");
    let b = sb.bundle("systemd", &["sleep", "300"]);
    let out = run_files(
        &sb,
        sb.hardened()
            .args(["--systemd-cgroup", "create", "-b"])
            .arg(&b)
            .arg(&id),
    );
    if Path::new("/run/systemd/system").exists() {
        assert!(out.ok(), "create --systemd-cgroup with systemd: {out:?}");
        assert_eq!(status(&sb, &id), "created");
    } else {
        assert!(
            !out.ok(),
            "--systemd-cgroup without systemd succeeded: {out:?}"
        );
        assert!(out.stderr.contains("systemd"), "{out:?}");
        assert_nothing_left(&sb, &id);
    }
}

#[test]
fn created_container_can_be_killed_and_deleted() {
    let sb = Sandbox::new();
    // runc: `delete` without --force removes a container that was created but never started.
    let id = unique("crdel");
    let b = sb.bundle("crdel", &["sleep", "300"]);
    create(&sb, &b, &id);
    let pid = pid_of(&sb, &id) as i64;
    let out = run(sb.hardened().args(["delete", &id]));
    assert!(out.ok(), "delete of a created container: {out:?}");
    assert!(state(&sb, &id).is_none());
    wait_until("the created init to die", DEADLINE, || !alive(pid));
    assert_nothing_left(&sb, &id);

    // kill KILL of a created container stops it.
    let id = unique("crkill");
    create(&sb, &b, &id);
    let pid = pid_of(&sb, &id) as i64;
    let out = run(sb.hardened().args(["kill", &id, "KILL"]));
    assert!(out.ok(), "kill of a created container: {out:?}");
    wait_status(&sb, &id, "stopped");
    wait_until("the created init to die", DEADLINE, || !alive(pid));
    let out = run(sb.hardened().args(["delete", &id]));
    assert!(out.ok(), "delete: {out:?}");
    assert_nothing_left(&sb, &id);
}

#[test]
fn run_forwards_signals_to_the_container() {
    let sb = Sandbox::new();
    let id = unique("runfwd");
    let b = sb.bundle(
        "runfwd",
        &[
            "sh",
            "-c",
            "trap 'exit 42' TERM; echo ready > /tmp/ready; while true; do sleep 0.2; done",
        ],
    );
    sb.edit_config(&b, ".root.readonly=false");
    let mut child = sb
        .hardened()
        .arg("run")
        .arg("-b")
        .arg(&b)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn run");
    let ready = b.join("rootfs/tmp/ready");
    wait_until("the trap to be set", DEADLINE, || ready.exists());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal run");
    let st = poll_for(DEADLINE, Duration::from_millis(50), || {
        child.try_wait().expect("wait run")
    })
    .unwrap_or_else(|| {
        let _ = child.kill();
        panic!("run did not forward SIGTERM to its container");
    });
    assert_eq!(st.code(), Some(42), "{st:?}");
    assert!(state(&sb, &id).is_none(), "container left after run");
}

#[test]
fn run_passes_stdin() {
    let sb = Sandbox::new();
    let id = unique("runstdin");
    let b = sb.bundle("runstdin", &["sh", "-c", "read line; echo got:$line"]);
    let mut child = sb
        .hardened()
        .arg("run")
        .arg("-b")
        .arg(&b)
        .arg(&id)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn run");
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out: Out = child.wait_with_output().expect("run").into();
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.stdout.trim(), "got:hello", "{out:?}");
}

#[test]
fn update_memory_flag() {
    let sb = Sandbox::new();
    let id = unique("updmem");
    let b = sb.bundle("updmem", &["sleep", "300"]);
    // A cgroup of its own, directly below the root: `delete` removes it, no parent is left.
    let cg = format!("/{id}");
    sb.edit_config(&b, &format!(".linux.cgroupsPath=\"{cg}\""));
    create(&sb, &b, &id);
    start(&sb, &id);
    let out = run(sb.hardened().args(["update", "--memory", "64m", &id]));
    assert!(out.ok(), "update --memory: {out:?}");
    // cgroup v1 (this host) or v2 only (the guest stage).
    let file = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        format!("/sys/fs/cgroup{cg}/memory.max")
    } else {
        format!("/sys/fs/cgroup/memory{cg}/memory.limit_in_bytes")
    };
    let limit = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {file}: {e}"));
    assert_eq!(limit.trim(), (64u64 << 20).to_string());
    let out = run(sb.hardened().args(["update", "--memory", "lots", &id]));
    assert!(!out.ok(), "update with a bad size succeeded: {out:?}");
}

#[test]
fn commands_on_stopped_or_unknown_containers_fail() {
    let sb = Sandbox::new();
    let (_b, id) = started(&sb, "stopcmds", &["true"]);
    wait_status(&sb, &id, "stopped");
    let out = run(sb.hardened().args(["events", "--stats", &id]));
    assert!(!out.ok(), "events --stats of a stopped container: {out:?}");
    let out = run(sb.hardened().args(["kill", &id, "TERM"]));
    assert!(!out.ok(), "kill of a stopped container: {out:?}");
    assert!(out.stderr.contains("not running"), "{out:?}");
    let nosuch = unique("nosuch");
    for cmd in ["ps", "pause", "resume", "events"] {
        let out = run(sb.hardened().args([cmd, &nosuch]));
        assert!(!out.ok(), "{cmd} of an unknown container: {out:?}");
        assert!(out.stderr.contains("does not exist"), "{cmd}: {out:?}");
    }
}

/// `hardened ARGS` with its stderr on a terminal (a pty) and stdout on a pipe: (exit code,
/// what the terminal got, `\r\n` made `\n`).
fn on_a_terminal(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    use std::io::Read;
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let mut child = Command::new(common::hardened_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(pty.slave))
        .spawn()
        .expect("spawn hardened");
    let status = child.wait().expect("wait");
    // The slave's last descriptor went with the child's Command: reading ends with EIO.
    let mut master = std::fs::File::from(pty.master);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    (
        status.code(),
        String::from_utf8_lossy(&got).replace("\r\n", "\n"),
    )
}

#[test]
fn errors_on_a_terminal_are_plain_and_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "mode = \"enforce\"\n[defaults]\nallow_caps = []\n").unwrap();
    let validate = |global: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = global.iter().map(|a| a.as_ref()).collect();
        args.extend(["policy".as_ref(), "validate".as_ref(), bad.as_os_str()]);
        on_a_terminal(&args)
    };
    // A person at a terminal: the TOML error with its caret diagram, line by line.
    let (code, err) = validate(&[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.starts_with("hardened: error: invalid policy file "),
        "{err}"
    );
    assert!(
        err.lines().any(|l| l.trim_end().ends_with("^^^^^^^^^^")),
        "{err}"
    );
    assert!(err.contains("\n3 | allow_caps = []\n"), "{err}");
    assert!(!err.contains("level=") && !err.contains("[] | ^"), "{err}");
    // --log-format given: logrus lines, as for an engine, terminal or not.
    for (format, starts) in [("text", "time="), ("json", "{")] {
        let (code, err) = validate(&["--log-format", format]);
        assert_eq!(code, Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(starts) && err.contains("allow_caps"),
            "{err}"
        );
    }
    // stderr on a pipe (an engine without --log): logrus lines as before.
    let out = run(Command::new(common::hardened_bin())
        .args(["policy", "validate"])
        .arg(&bad));
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(
        out.stderr.starts_with("time=") && out.stderr.contains("level=error"),
        "{out:?}"
    );
}

#[test]
fn policy_validate_of_a_missing_file_does_not_point_to_the_policy_option() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.toml");
    let out = run(Command::new(common::hardened_bin())
        .args(["policy", "validate"])
        .arg(&missing)
        // validate reads FILE only: a broken policy in force does not matter.
        .env("HARDENED_POLICY", dir.path().join("also-missing.toml")));
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("cannot read the policy file"),
        "{out:?}"
    );
    assert!(out.stderr.contains("missing.toml"), "{out:?}");
    assert!(!out.stderr.contains("--policy"), "{out:?}");
}

#[test]
fn global_options_go_before_the_command_only() {
    let sb = Sandbox::new();
    // As the engines send them: before the command.
    let out = run(Command::new(common::hardened_bin())
        .arg("--root")
        .arg(sb.root())
        .args(["--log-format", "json", "--debug", "list", "-q"]));
    assert!(out.ok(), "{out:?}");
    // After the command: a usage error (runc's too) that says where they go.
    let out = run(Command::new(common::hardened_bin())
        .args(["list", "--root"])
        .arg(sb.root()));
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr
            .contains("--root is a global option: it goes before the command"),
        "{out:?}"
    );
    // A command's help lists its own options; the global ones are in `hardened --help`.
    let out = run(Command::new(common::hardened_bin()).args(["install", "docker", "--help"]));
    assert!(out.ok() && out.stdout.contains("--dry-run"), "{out:?}");
    for global in ["--root", "--log-format", "--systemd-cgroup", "--debug"] {
        assert!(!out.stdout.contains(global), "{global}: {out:?}");
    }
    let out = run(Command::new(common::hardened_bin()).arg("--help"));
    assert!(
        out.ok() && out.stdout.contains("Global options:"),
        "{out:?}"
    );
    assert!(out.stdout.contains("--no-new-keyring"), "{out:?}");
}

#[test]
fn a_man_page_for_every_command_renders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(Command::new(common::hardened_bin())
        .arg("man")
        .arg(dir.path()));
    assert!(out.ok(), "{out:?}");
    let pages: Vec<PathBuf> = out.stdout.lines().map(PathBuf::from).collect();
    // Every command listed in `hardened --help` and `hardened COMMAND --help` has its page.
    let mut want = vec!["hardened".to_string()];
    let commands = |help: &str| -> Vec<String> {
        help.split("Commands:\n")
            .nth(1)
            .map(|rest| {
                rest.lines()
                    .take_while(|l| l.starts_with("  "))
                    .filter_map(|l| l.split_whitespace().next())
                    .filter(|c| *c != "help")
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let top = run(Command::new(common::hardened_bin()).arg("--help")).stdout;
    for c in commands(&top) {
        want.push(format!("hardened-{c}"));
        let sub = run(Command::new(common::hardened_bin()).args([&c, "--help"])).stdout;
        for s in commands(&sub) {
            want.push(format!("hardened-{c}-{s}"));
        }
    }
    assert!(want.len() > 25, "{want:?}");
    let names: Vec<String> = pages
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for w in &want {
        assert!(
            names.contains(&format!("{w}.8")),
            "no page for {w}: {names:?}"
        );
    }
    assert_eq!(names.len(), want.len(), "{names:?}");
    for page in &pages {
        let out = run(Command::new("man")
            .arg("-l")
            .arg(page)
            .env("MANWIDTH", "400")
            .env("MAN_KEEP_FORMATTING", "")
            .env("PAGER", "cat"));
        assert!(out.ok(), "man -l {}: {out:?}", page.display());
        let name = page.file_stem().unwrap().to_string_lossy().into_owned();
        for section in ["NAME", "SYNOPSIS", "SEE ALSO"] {
            assert!(out.stdout.contains(section), "{name}: {out:?}");
        }
        assert!(
            out.stdout.contains(&format!("{name} - ")),
            "{name}: {out:?}"
        );
        // groff finds nothing to warn about.
        let lint = run(Command::new("groff")
            .args(["-man", "-ww", "-z", "-Tutf8"])
            .arg(page));
        assert!(lint.ok() && lint.stderr.is_empty(), "{name}: {lint:?}");
    }
}

#[test]
fn shell_completions_complete_commands_and_options() {
    let out = run(Command::new("bash")
        .arg("-c")
        .arg(
            r#"source <("$0" completion bash) || exit 1
complete -p hardened
c() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
      _hardened hardened "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"; echo "${COMPREPLY[*]}"; }
c hardened cr
c hardened --root /x install d
c hardened policy v
c hardened create --con"#,
        )
        .arg(common::hardened_bin()));
    assert!(out.ok(), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].contains("-F _hardened hardened"), "{out:?}");
    assert_eq!(
        lines[1..],
        ["create", "docker", "validate", "--console-socket"],
        "{out:?}"
    );
    for (shell, head) in [
        ("zsh", "#compdef hardened"),
        ("fish", "complete -c hardened"),
    ] {
        let out = run(Command::new(common::hardened_bin()).args(["completion", shell]));
        assert!(out.ok() && out.stdout.contains(head), "{shell}: {out:?}");
    }
}

/// The runc flags that are accepted and ignored are hidden: no shell offers them. (`--rootless`
/// is also `spec`'s own option, which writes a rootless config: that one stays.)
#[test]
fn completions_offer_no_hidden_flag() {
    let hidden = [
        "--no-new-keyring",
        "--criu",
        "--pidfd-socket",
        "--no-subreaper",
        "--kernel-memory",
    ];
    for shell in ["bash", "zsh", "fish"] {
        let out = run(Command::new(common::hardened_bin()).args(["completion", shell]));
        assert!(out.ok(), "{shell}: {out:?}");
        for flag in hidden {
            assert!(!out.stdout.contains(flag), "{shell} completes {flag}");
        }
        // The hidden `man` command is not offered either; visible options are.
        assert!(out.stdout.contains("console-socket"), "{shell}");
        assert!(out.stdout.contains("doctor"), "{shell}");
    }
    let bash = run(Command::new(common::hardened_bin()).args(["completion", "bash"]));
    let rootless: Vec<&str> = bash
        .stdout
        .lines()
        .filter(|l| l.contains("--rootless"))
        .collect();
    assert_eq!(rootless.len(), 1, "{rootless:?}");
    assert!(rootless[0].contains("--bundle"), "{rootless:?}");
}

/// `policy rules`: a table on a terminal, JSON with stable fields, and the markdown that is
/// docs/policy.md's rule table.
#[test]
fn policy_rules_in_three_formats() {
    let rules = |format: &str| {
        let out =
            run(Command::new(common::hardened_bin()).args(["policy", "rules", "--format", format]));
        assert!(out.ok(), "{format}: {out:?}");
        out.stdout
    };
    let json: Value = serde_json::from_str(&rules("json")).expect("json");
    let list = json.as_array().expect("array");
    let ids: Vec<&str> = list.iter().filter_map(|r| r["id"].as_str()).collect();
    for id in [
        "cgroup-path",
        "capabilities",
        "seccomp",
        "secrets-env",
        "profile",
    ] {
        assert!(ids.contains(&id), "{id} missing: {ids:?}");
    }
    for r in list {
        let obj = r.as_object().expect("object");
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "enforced",
                "id",
                "inEveryMode",
                "keys",
                "levels",
                "refused",
                "title"
            ]
        );
        assert!(!r["title"].as_str().unwrap_or("").is_empty(), "{r}");
    }
    let capabilities = list.iter().find(|r| r["id"] == "capabilities").unwrap();
    assert_eq!(
        capabilities["keys"],
        serde_json::json!(["allow_capabilities"])
    );
    assert_eq!(
        capabilities["levels"],
        serde_json::json!(["change", "refusal"])
    );
    let table = rules("table");
    for id in &ids {
        assert!(
            table.lines().any(|l| l.starts_with(&format!("{id} "))),
            "{id}:\n{table}"
        );
    }
    let doc = std::fs::read_to_string(common::repo_root().join("docs/policy.md")).expect("doc");
    assert!(
        doc.contains(&rules("markdown")),
        "docs/policy.md's rule table differs from `hardened policy rules --format markdown`"
    );
    // The help of policy and check points to the docs.
    for cmd in [&["policy", "--help"][..], &["check", "--help"]] {
        let out = run(Command::new(common::hardened_bin()).args(cmd));
        assert!(out.stdout.contains("docs/policy.md"), "{cmd:?}: {out:?}");
    }
}

/// The policy's `version`: 1 is this binary's, none means the newest, another is refused by
/// validate, check and create alike, with the versions known and the fix.
#[test]
fn policy_version_is_reported_and_an_unknown_one_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.log");
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(
            &p,
            format!("{body}audit_log = {:?}\n", audit.display().to_string()),
        )
        .expect("write");
        p
    };
    let v1 = write("v1.toml", "version = 1\n");
    let none = write("none.toml", "");
    let v2 = write("v2.toml", "version = 2\n");
    for p in [&v1, &none] {
        let out = run(Command::new(common::hardened_bin())
            .args(["policy", "validate"])
            .arg(p));
        assert!(out.ok() && out.stdout.contains("version 1"), "{out:?}");
    }
    let out = run(Command::new(common::hardened_bin())
        .args(["policy", "validate"])
        .arg(&v2));
    assert_eq!(out.code, Some(1), "{out:?}");
    for part in [
        "version = 2",
        "knows policy version(s) 1",
        "set `version = 1`",
        "v2.toml",
    ] {
        assert!(out.stderr.contains(part), "{part}: {out:?}");
    }
    // check: the version in its report; refused with the unknown one.
    let bundle = dir.path().join("bundle");
    std::fs::create_dir(&bundle).expect("bundle");
    let spec = run(Command::new(common::hardened_bin())
        .args(["spec", "--bundle"])
        .arg(&bundle));
    assert!(spec.ok(), "{spec:?}");
    let check = |policy: &Path, json: bool| {
        let mut c = Command::new(common::hardened_bin());
        c.arg("--policy").arg(policy).arg("check").arg(&bundle);
        if json {
            c.arg("--json");
        }
        run(&mut c)
    };
    let out = check(&v1, false);
    assert!(out.stdout.contains("(version 1)"), "{out:?}");
    let out = check(&v1, true);
    let doc: Value = serde_json::from_str(&out.stdout).expect("check --json");
    assert_eq!(doc["policyVersion"], 1, "{out:?}");
    let out = check(&v2, false);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("knows policy version(s) 1"), "{out:?}");
    let out = run(Command::new(common::hardened_bin())
        .arg("--policy")
        .arg(&v1)
        .args(["policy", "show"]));
    assert!(out.stdout.contains("version = 1"), "{out:?}");
}
