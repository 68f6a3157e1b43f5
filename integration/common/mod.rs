//! Shared helpers of the integration tests.
//!
//! The tests run real containers: they need root, and the Docker/containerd tests need the
//! private daemons that `scripts/test.sh` starts (it exports `HARDENED_TEST_*`). A test whose
//! prerequisite is missing fails with a message saying how to provide it: it never passes
//! silently.
#![allow(dead_code)]

pub mod learn;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Calls `cond` every `every` until it returns Some (its value), for at most `within` (then
/// None).
pub fn poll_for<T>(
    within: Duration,
    every: Duration,
    mut cond: impl FnMut() -> Option<T>,
) -> Option<T> {
    let end = Instant::now() + within;
    loop {
        if let Some(v) = cond() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// Polls `cond` (every 50 ms) until it holds; panics after `within`.
pub fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let held = poll_for(within, Duration::from_millis(50), || cond().then_some(()));
    assert!(held.is_some(), "timed out waiting for {what}");
}

/// The `hardened` binary under test.
pub fn hardened_bin() -> PathBuf {
    std::env::var_os("HARDENED_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_hardened")))
}

pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test runs real containers and needs root: run it as root (scripts/test.sh)"
    );
}

/// An environment variable set by `scripts/test.sh`; panics with instructions if missing.
pub fn test_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: this test needs the private test daemons; run it through \
             scripts/test.sh (which starts dockerd/containerd and exports HARDENED_TEST_*)"
        ),
    }
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A command's output with stdout/stderr as strings.
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

impl From<Output> for Out {
    fn from(o: Output) -> Self {
        Out {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Run a command with stdin from /dev/null and capture its output.
pub fn run(cmd: &mut Command) -> Out {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
        .into()
}

/// Run a clean-up command, best effort: no input, its output and outcome ignored.
pub fn quiet(cmd: &mut Command) {
    let _ = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A fresh state root and bundle directory for one test, removed on drop.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        require_root();
        let sb = Sandbox {
            dir: tempfile::Builder::new()
                .prefix("hardened-test-")
                .tempdir()
                .expect("temp dir"),
        };
        // Policies whose audit logs stay in the sandbox: the host is never written to.
        let audit = sb.dir.path().join("audit.log");
        for (name, body) in [
            ("permissive", "mode = \"permissive\"\n"),
            ("enforce", ""),
            ("audit", "mode = \"audit\"\n"),
        ] {
            std::fs::write(
                sb.policy(name),
                format!("{body}audit_log = {:?}\n", audit.display().to_string()),
            )
            .expect("write policy");
        }
        sb
    }

    /// The sandbox's policy file `name` ("permissive", "enforce", "audit").
    pub fn policy(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("policy-{name}.toml"))
    }

    /// The sandbox's audit log.
    pub fn audit_log(&self) -> PathBuf {
        self.dir.path().join("audit.log")
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `hardened --root <sandbox root> --policy <permissive> ARGS...`: the runtime engine
    /// itself, as runc would run the config (the runc contract, the runtime's own defences).
    pub fn hardened(&self) -> Command {
        self.hardened_with("permissive")
    }

    /// `hardened --root <sandbox root> --policy <enforce>`: the built-in defaults.
    pub fn hardened_enforcing(&self) -> Command {
        self.hardened_with("enforce")
    }

    pub fn hardened_with(&self, policy: &str) -> Command {
        let mut c = Command::new(hardened_bin());
        c.arg("--root")
            .arg(self.root())
            .arg("--policy")
            .arg(self.policy(policy));
        c
    }

    /// Make a busybox bundle named `name` whose process runs `args`; returns its path.
    pub fn bundle(&self, name: &str, args: &[&str]) -> PathBuf {
        let dir = self.dir.path().join(name);
        let out = run(Command::new(repo_root().join("scripts/mkbundle.sh"))
            .arg(&dir)
            .args(args)
            .env("HARDENED", hardened_bin()));
        assert!(out.ok(), "mkbundle failed: {out:?}");
        dir
    }

    /// Edit `bundle/config.json` with a jq filter.
    pub fn edit_config(&self, bundle: &Path, jq_filter: &str) {
        let cfg = bundle.join("config.json");
        let out = run(Command::new("jq").arg(jq_filter).arg(&cfg));
        assert!(out.ok(), "jq {jq_filter}: {out:?}");
        std::fs::write(&cfg, out.stdout).expect("write config.json");
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Force-delete whatever a failed test left running.
        if let Ok(entries) = std::fs::read_dir(self.root()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !name.starts_with('.') {
                    let _ = self
                        .hardened()
                        .args(["delete", "--force", &name])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                }
            }
        }
    }
}

/// `docker ARGS...` against the private test daemon.
pub fn docker() -> Command {
    let host = test_env("HARDENED_TEST_DOCKER");
    let mut c = Command::new("docker");
    c.env("DOCKER_HOST", host);
    c
}

/// `docker run --runtime RUNTIME --network none` on the test daemon: every test container has no
/// network (the host is never sent traffic).
pub fn docker_run_cmd(runtime: &str) -> Command {
    let mut c = docker();
    c.args(["run", "--runtime", runtime, "--network", "none"]);
    c
}

pub fn image() -> String {
    test_env("HARDENED_TEST_IMAGE")
}

/// A unique name for a test container.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes a docker container on drop.
pub struct DockerContainer(pub String);

impl Drop for DockerContainer {
    fn drop(&mut self) {
        let _ = docker()
            .args(["rm", "-f", &self.0])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The mount points of every cgroup hierarchy (v1 controllers, named hierarchies, the unified
/// one) that is mounted at its root, from /proc/self/mountinfo.
pub fn cgroup_hierarchies() -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    info.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let fstype = right.split_whitespace().next()?;
            let root = left.split_whitespace().nth(3)?;
            let mnt = left.split_whitespace().nth(4)?;
            ((fstype == "cgroup" || fstype == "cgroup2") && root == "/").then(|| PathBuf::from(mnt))
        })
        .collect()
}
