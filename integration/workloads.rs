//! The real-workload suite: ordinary server images, built at test time from Debian 12 packages
//! with the official images' entrypoints, users and volumes (scripts/workload-images.sh,
//! integration/workloads/), each run with `docker run --runtime=hardened --network none` and
//! checked from inside its container by its own client (`redis-cli ping`, `psql`, `curl` on
//! loopback, ...).
//!
//! Per image the test asserts exactly the recorded outcome (docs/workloads.md): whether it runs
//! under the built-in defaults (and, when it does not, the first failing line it shows), and
//! that it runs under its smallest profile, integration/workloads/profiles/NAME.toml (the
//! runtime `hardened-wl-NAME` that scripts/daemons.sh registers). A fix or a regression flips an outcome: update
//! the record here and in docs/workloads.md.

mod common;

use common::{docker, repo_root, require_root, run, test_env, unique, Out};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What an image does under a runtime: it serves (its check passed), or it fails.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Runs,
    /// Fails; the text is a fragment of the failure (docker's error or the container's log).
    Fails(&'static str),
}

struct Workload {
    /// Directory below integration/workloads/images/ and image hardened-workloads/NAME.
    name: &'static str,
    /// The client check, run with `docker exec [-u USER] C ...` until it passes or the deadline.
    check: &'static [&'static str],
    exec_user: Option<&'static str>,
    /// What the check's stdout must contain.
    expect: &'static str,
    /// Seconds the service gets to start.
    startup: u64,
    /// Under `--runtime=hardened` (the built-in defaults).
    defaults: Outcome,
    /// The smallest profile (integration/workloads/profiles/NAME.toml) that runs it (None: the
    /// defaults run it and need nothing more).
    profile: Option<&'static str>,
    /// When the defaults stop it: what the runtime's hint (docs/learn.md) names.
    hint: Hinted,
}

/// The hint a failure under the defaults yields, in the audit log of `--runtime=hardened`.
#[derive(Debug, Clone, Copy)]
enum Hinted {
    /// The image runs under the defaults: nothing to hint.
    Nothing,
    /// A hint whose `denied` is this (a capability's name, a system call).
    Names(&'static str),
    /// No hint, and why (a documented limit of hints).
    Unseen(&'static str),
}

/// Builds (or reuses the cached rootfs) and imports the images once per test process.
fn images() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        require_root();
        let host = test_env("HARDENED_TEST_DOCKER");
        let runtimes = run(docker().args(["info", "--format", "{{json .Runtimes}}"]));
        let dir = repo_root().join("integration/workloads/profiles");
        for f in std::fs::read_dir(&dir).expect("read integration/workloads/profiles") {
            let f = f.expect("read integration/workloads/profiles").path();
            let name = f.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(
                runtimes.stdout.contains(&format!("\"hardened-wl-{name}\"")),
                "the test dockerd has no runtime hardened-wl-{name} (scripts/daemons.sh \
                 registers one per integration/workloads/profiles/NAME.toml): {runtimes:?}"
            );
        }
        let t0 = Instant::now();
        let out = run(Command::new(repo_root().join("scripts/workload-images.sh"))
            .env("DOCKER_HOST", host)
            .stderr(Stdio::inherit()));
        assert!(out.ok(), "scripts/workload-images.sh failed: {out:?}");
        eprintln!("workload images ready in {:?}", t0.elapsed());
    });
}

/// A container removed on drop with its anonymous volumes.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker()
            .args(["rm", "-f", "-v", &self.0])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The first lines of the container's log (stdout and stderr).
fn logs(name: &str) -> String {
    let out = run(docker().args(["logs", name]));
    let all = format!("{}{}", out.stdout, out.stderr);
    all.lines().take(20).collect::<Vec<_>>().join("\n")
}

/// Starts the image under `runtime` and runs its check until it passes,
/// the container stops, or the deadline passes. Err holds docker's error or the container's
/// state and log.
fn serve(w: &Workload, runtime: &str) -> Result<(), String> {
    let name = unique(&format!("wl-{}", w.name));
    serve_named(w, runtime, &name, false)
}

/// `serve` as the container `name`; `keep`: leave it for the caller to remove.
fn serve_named(w: &Workload, runtime: &str, name: &str, keep: bool) -> Result<(), String> {
    let guard = (!keep).then(|| Container(name.to_string()));
    let served = serve_in(w, runtime, name);
    drop(guard);
    served
}

fn serve_in(w: &Workload, runtime: &str, name: &str) -> Result<(), String> {
    let name = name.to_string();
    let c = Container(name.clone());
    let c = std::mem::ManuallyDrop::new(c);
    let mut cmd = docker();
    cmd.args([
        "run",
        "-d",
        "--runtime",
        runtime,
        "--network",
        "none",
        "--name",
        &name,
    ]);
    let image = format!("hardened-workloads/{}:latest", w.name);
    let started = run(cmd.arg(&image));
    if !started.ok() {
        return Err(format!("docker run: {}", started.stderr.trim()));
    }
    let deadline = Instant::now() + Duration::from_secs(w.startup);
    let mut last: Option<Out> = None;
    loop {
        let mut exec = docker();
        exec.arg("exec");
        if let Some(u) = w.exec_user {
            exec.args(["-u", u]);
        }
        // A check that hangs (a server that accepts and never answers) is cut off after 10 s.
        let out = run(exec.args([&c.0, "timeout", "10"]).args(w.check));
        if out.ok() && out.stdout.contains(w.expect) {
            return Ok(());
        }
        let state = run(docker().args([
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            &name,
        ]));
        if !state.stdout.starts_with("running") || Instant::now() > deadline {
            return Err(format!(
                "state {} (check: {:?})\n--- log\n{}",
                state.stdout.trim(),
                last.as_ref().unwrap_or(&out),
                logs(&name)
            ));
        }
        last = Some(out);
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn check(w: &Workload) {
    images();
    let (got, id) = serve_as(w, "hardened");
    match (w.defaults, &got) {
        (Outcome::Runs, Ok(())) => {}
        (Outcome::Fails(what), Err(e)) if e.contains(what) => {}
        (want, got) => panic!(
            "{}: under the defaults expected {want:?}, got {got:?}: record the new outcome in \
             integration/workloads.rs and docs/workloads.md",
            w.name
        ),
    }
    check_hint(w, &id);
    if let Some(profile) = w.profile {
        if let Err(e) = serve(w, &format!("hardened-wl-{profile}")) {
            panic!("{}: does not run under the profile {profile}: {e}", w.name);
        }
        learn(w);
    }
}

/// Learn mode (docs/learn.md): run the image under `hardened-learn` and check it serves, delete
/// it (the profile is written), adopt the profile, and run the image under it (the runtime
/// `hardened-adopted-NAME`): it serves, with the read-only root and no capability it did not use.
fn learn(w: &Workload) {
    let dir = std::path::PathBuf::from(test_env("HARDENED_TEST_DAEMON_DIR"));
    let (served, id) = serve_as(w, "hardened-learn");
    if let Err(e) = served {
        panic!("{}: does not run in learn mode: {e}", w.name);
    }
    let short: String = id.chars().take(12).collect();
    let learned = dir.join("learned").join(format!("{short}.toml"));
    let toml = common::poll_for(Duration::from_secs(30), Duration::from_millis(200), || {
        std::fs::read_to_string(&learned).ok()
    })
    .unwrap_or_else(|| panic!("{}: no learned profile {}", w.name, learned.display()));
    eprintln!("{}: learned\n{toml}", w.name);
    let adopted = dir.join("adopted-wl").join(w.name);
    std::fs::copy(
        dir.join("learned").join(format!("{short}.seccomp.json")),
        adopted.join(format!("{short}.seccomp.json")),
    )
    .expect("copy the learned seccomp profile");
    std::fs::write(
        adopted.join(format!("{}.toml", w.name)),
        toml.replace(
            &format!("[profiles.{short}]"),
            &format!("[profiles.{}]", w.name),
        ),
    )
    .expect("adopt the learned profile");
    assert!(toml.contains("readonly_rootfs = true"), "{toml}");
    assert!(
        !toml.contains("\"NET_RAW\""),
        "{}: nothing used a raw socket: {toml}",
        w.name
    );
    let runtime = format!("hardened-adopted-{}", w.name);
    let (served, id) = serve_as_kept(w, &runtime);
    let c = Container(id);
    if let Err(e) = served {
        panic!(
            "{}: does not run under the profile learned from it: {e}\n{toml}",
            w.name
        );
    }
    // From inside: the root is read-only (a tool the program never ran may also be refused a
    // system call by the learned filter: either way nothing is written).
    let probe = run(docker().args([
        "exec",
        &c.0,
        "sh",
        "-c",
        "echo x > /etc/hardened-probe && echo etc-written",
    ]));
    assert!(
        !probe.stdout.contains("etc-written"),
        "{}: {probe:?}",
        w.name
    );
    // Its first process has no NET_RAW (bit 13): its status, read from the host.
    let pid = run(docker().args(["inspect", "-f", "{{.State.Pid}}", &c.0]));
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.stdout.trim()))
        .unwrap_or_else(|e| panic!("{}: status of pid {}: {e}", w.name, pid.stdout.trim()));
    let capeff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or_else(|| panic!("{}: no CapEff: {status}", w.name));
    assert_eq!(capeff & (1 << 13), 0, "{}: NET_RAW: {status}", w.name);
}

/// The hints `--runtime=hardened` wrote for container `id` (when Docker deleted it): what each
/// denied.
fn hints_for(id: &str) -> Vec<String> {
    let log =
        std::path::PathBuf::from(test_env("HARDENED_TEST_DAEMON_DIR")).join("audit/default.log");
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["id"] == id && r["decision"] == "hint")
        .filter_map(|r| r["hint"]["denied"].as_str().map(str::to_string))
        .collect()
}

/// Every failure under the defaults yields a hint naming what the image needs, except the
/// documented limits (a write to the read-only root).
fn check_hint(w: &Workload, id: &str) {
    match w.hint {
        Hinted::Nothing => {}
        Hinted::Names(want) => {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let got = hints_for(id);
                if got.iter().any(|d| d == want) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{}: under the defaults, no hint naming {want} for container {id} (hints: {got:?})",
                    w.name
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Hinted::Unseen(why) => {
            std::thread::sleep(Duration::from_secs(1));
            let got = hints_for(id);
            assert!(
                got.is_empty(),
                "{}: hints {got:?} where none were expected ({why}): record them in integration/workloads.rs",
                w.name
            );
        }
    }
}

/// `serve`, and the container's id (the container is removed, and so deleted by the runtime).
fn serve_as(w: &Workload, runtime: &str) -> (Result<(), String>, String) {
    let (served, id) = serve_as_kept(w, runtime);
    let out = run(docker().args(["rm", "-f", "-v", &id]));
    assert!(out.ok(), "{}: docker rm -f {id}: {out:?}", w.name);
    (served, id)
}

/// `serve`, keeping the container (running if it serves) for the caller; returns its id.
fn serve_as_kept(w: &Workload, runtime: &str) -> (Result<(), String>, String) {
    let name = unique(&format!("wl-{}", w.name));
    let served = serve_named(w, runtime, &name, true);
    let id = run(docker().args(["inspect", "-f", "{{.Id}}", &name]));
    (served, id.stdout.trim().to_string())
}

const SH: &str = "sh";

#[test]
fn nginx() {
    check(&Workload {
        name: "nginx",
        check: &["curl", "-fsS", "http://127.0.0.1/index.nginx-debian.html"],
        exec_user: None,
        expect: "Welcome to nginx",
        startup: 30,
        defaults: Outcome::Fails(
            "mkdir() \"/var/lib/nginx/body\" failed (30: Read-only file system)",
        ),
        profile: Some("nginx"),
        hint: Hinted::Unseen("a write to the read-only root (EROFS): docs/learn.md, What is not"),
    });
}

#[test]
fn apache2() {
    check(&Workload {
        name: "apache2",
        check: &["curl", "-fsS", "http://127.0.0.1/"],
        exec_user: None,
        expect: "Apache2 Debian Default Page",
        startup: 30,
        defaults: Outcome::Runs,
        profile: Some("drop-to-user"),
        hint: Hinted::Nothing,
    });
}

#[test]
fn php_fpm() {
    check(&Workload {
        name: "php-fpm",
        check: &[
            "env",
            "SCRIPT_NAME=/ping",
            "SCRIPT_FILENAME=/ping",
            "REQUEST_METHOD=GET",
            "cgi-fcgi",
            "-bind",
            "-connect",
            "127.0.0.1:9000",
        ],
        exec_user: None,
        expect: "pong",
        startup: 30,
        defaults: Outcome::Fails(
            "Unable to create the PID file (/run/php/php8.2-fpm.pid).: Permission denied",
        ),
        profile: Some("php-fpm"),
        hint: Hinted::Names("DAC_OVERRIDE"),
    });
}

#[test]
fn redis() {
    check(&Workload {
        name: "redis",
        check: &["redis-cli", "ping"],
        exec_user: None,
        expect: "PONG",
        startup: 30,
        defaults: Outcome::Fails("setpriv: setresuid failed: Operation not permitted"),
        profile: Some("drop-to-user"),
        hint: Hinted::Names("SETUID"),
    });
}

#[test]
fn postgres() {
    check(&Workload {
        name: "postgres",
        check: &["psql", "-Atc", "select 1"],
        exec_user: Some("postgres"),
        expect: "1",
        startup: 60,
        defaults: Outcome::Fails(
            "chown: changing ownership of '/var/lib/postgresql/data': Operation not permitted",
        ),
        profile: Some("postgres"),
        hint: Hinted::Names("CHOWN"),
    });
}

#[test]
fn mariadb() {
    check(&Workload {
        name: "mariadb",
        check: &["mariadb-admin", "ping"],
        exec_user: None,
        expect: "mysqld is alive",
        startup: 60,
        defaults: Outcome::Fails("setpriv: setresuid failed: Operation not permitted"),
        profile: Some("drop-to-user"),
        hint: Hinted::Names("SETUID"),
    });
}

#[test]
fn rabbitmq() {
    check(&Workload {
        name: "rabbitmq",
        check: &["rabbitmq-diagnostics", "-q", "ping"],
        exec_user: Some("rabbitmq"),
        expect: "Ping succeeded",
        startup: 120,
        defaults: Outcome::Fails("setpriv: setresuid failed: Operation not permitted"),
        profile: Some("drop-to-user"),
        hint: Hinted::Names("SETUID"),
    });
}

#[test]
fn sshd() {
    check(&Workload {
        name: "sshd",
        check: &["ssh-keyscan", "-T", "5", "127.0.0.1"],
        exec_user: None,
        expect: "ssh-ed25519",
        startup: 15,
        defaults: Outcome::Fails("chroot(\"/run/sshd\"): Operation not permitted [preauth]"),
        profile: Some("sshd"),
        hint: Hinted::Names("SYS_CHROOT"),
    });
}

#[test]
fn supervisord() {
    check(&Workload {
        name: "supervisord",
        check: &[
            SH,
            "-c",
            "curl -fsS http://127.0.0.1:8080/ && \
             exec bash -c 'exec 3<>/dev/tcp/127.0.0.1/11211; printf \"version\\r\\n\" >&3; \
             read -t 5 l <&3; echo \"$l\"'",
        ],
        exec_user: None,
        expect: "VERSION",
        startup: 15,
        defaults: Outcome::Fails(
            "couldn't setuid to 65534: Could not set groups of effective user",
        ),
        profile: Some("drop-to-user"),
        hint: Hinted::Names("SETGID"),
    });
}

#[test]
fn memcached() {
    check(&Workload {
        name: "memcached",
        check: &[
            "bash",
            "-c",
            "exec 3<>/dev/tcp/127.0.0.1/11211; printf 'version\\r\\n' >&3; read -t 5 l <&3; echo \"$l\"",
        ],
        exec_user: None,
        expect: "VERSION",
        startup: 30,
        defaults: Outcome::Runs,
        profile: None,
        hint: Hinted::Nothing,
    });
}

#[test]
fn python_http() {
    check(&Workload {
        name: "python-http",
        check: &["curl", "-fsS", "http://127.0.0.1:8000/"],
        exec_user: None,
        expect: "workloads-python-http",
        startup: 30,
        defaults: Outcome::Runs,
        profile: None,
        hint: Hinted::Nothing,
    });
}
