//! `hardened install|uninstall docker|containerd` through the real binary, on temporary files
//! only (never /etc/docker/daemon.json or /etc/containerd/config.toml), and a private containerd
//! started with the config `install containerd` wrote: it must load it and its CRI plugin must
//! know the `hardened` handler.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{hardened_bin, run, Out};

fn hardened() -> Command {
    Command::new(hardened_bin())
}

/// The files in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn backups(dir: &Path) -> usize {
    names(dir).iter().filter(|n| n.contains(".bak-")).count()
}

/// The binary as `install` registers it by default: canonical.
fn bin_canonical() -> String {
    std::fs::canonicalize(hardened_bin())
        .expect("canonical binary path")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn docker_install_is_idempotent_and_uninstall_restores() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("daemon.json");
    let original = "{\n  \"log-driver\": \"json-file\",\n  \"runtimes\": {\n    \"runsc\": {\n      \"path\": \"/usr/bin/runsc\"\n    }\n  },\n  \"storage-driver\": \"overlay2\"\n}\n";
    std::fs::write(&cfg, original).expect("write");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "mode = \"audit\"\n").expect("write policy");

    // --dry-run: a diff, nothing written.
    let out = run(hardened()
        .args(["install", "docker", "--dry-run", "--config"])
        .arg(&cfg));
    assert!(out.ok(), "{out:?}");
    assert!(out.stdout.contains("+    \"hardened\": {"), "{out:?}");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), original);
    assert_eq!(names(dir.path()), ["daemon.json", "policy.toml"]);

    let install = || {
        run(hardened()
            .args(["install", "docker", "--config"])
            .arg(&cfg)
            .arg("--policy")
            .arg(&policy))
    };
    let out = install();
    assert!(out.ok(), "{out:?}");
    assert!(out.stdout.contains("kill -HUP"), "{out:?}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).expect("JSON");
    assert_eq!(v["runtimes"]["hardened"]["path"], bin_canonical());
    assert_eq!(
        v["runtimes"]["hardened"]["runtimeArgs"],
        serde_json::json!(["--policy", policy.to_string_lossy()])
    );
    assert_eq!(v["runtimes"]["runsc"]["path"], "/usr/bin/runsc");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["log-driver", "runtimes", "storage-driver"]);
    assert_eq!(backups(dir.path()), 1);

    // Again: nothing changes, no new backup.
    let installed = std::fs::read(&cfg).unwrap();
    let out = install();
    assert!(out.ok(), "{out:?}");
    assert!(out.stdout.contains("already configured"), "{out:?}");
    assert_eq!(std::fs::read(&cfg).unwrap(), installed);
    assert_eq!(backups(dir.path()), 1);

    // Uninstall gives the original back; a second one changes nothing.
    let out = run(hardened()
        .args(["uninstall", "docker", "--config"])
        .arg(&cfg));
    assert!(out.ok(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), original);
    assert_eq!(backups(dir.path()), 2);
    let out = run(hardened()
        .args(["uninstall", "docker", "--config"])
        .arg(&cfg));
    assert!(out.ok() && out.stdout.contains("not configured"), "{out:?}");
    assert_eq!(backups(dir.path()), 2);
}

#[test]
fn invalid_files_are_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("daemon.json");
    let bad_json = "{\n  \"runtimes\": {\n    \"x\": \n}\n";
    std::fs::write(&json, bad_json).unwrap();
    let toml = dir.path().join("config.toml");
    let bad_toml = "version = 2\n[plugins\n";
    std::fs::write(&toml, bad_toml).unwrap();
    for (target, cfg, line) in [("docker", &json, "line 4"), ("containerd", &toml, "line 2")] {
        for cmd in ["install", "uninstall"] {
            let out = run(hardened().args([cmd, target, "--config"]).arg(cfg));
            assert!(!out.ok(), "{cmd} {target}: {out:?}");
            assert!(
                out.stderr.contains(&cfg.display().to_string()) && out.stderr.contains(line),
                "{cmd} {target}: the error names the file and line: {out:?}"
            );
        }
    }
    assert_eq!(std::fs::read_to_string(&json).unwrap(), bad_json);
    assert_eq!(std::fs::read_to_string(&toml).unwrap(), bad_toml);
    assert_eq!(names(dir.path()), ["config.toml", "daemon.json"]);

    // containerd's shim cannot pass --policy: refused, nothing written.
    let fresh = dir.path().join("new.toml");
    let out = run(hardened()
        .args([
            "install",
            "containerd",
            "--policy",
            "/etc/hardened/x.toml",
            "--config",
        ])
        .arg(&fresh));
    assert!(!out.ok() && out.stderr.contains("passes no"), "{out:?}");
    assert!(!fresh.exists());
}

/// A private containerd (own root, state, socket, all under one temporary directory); killed
/// and its directory unmounted and removed on drop, pass or fail.
struct PrivateContainerd {
    child: Option<Child>,
    address: PathBuf,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl PrivateContainerd {
    fn start(config: &Path) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("hardened-containerd-")
            .tempdir()
            .expect("temp dir");
        let address = dir.path().join("containerd.sock");
        let log = dir.path().join("containerd.log");
        let logf = std::fs::File::create(&log).expect("log file");
        let child = Command::new("containerd")
            .arg("--config")
            .arg(config)
            .arg("--root")
            .arg(dir.path().join("root"))
            .arg("--state")
            .arg(dir.path().join("state"))
            .arg("--address")
            .arg(&address)
            .args(["--log-level", "info"])
            .stdin(Stdio::null())
            .stdout(logf.try_clone().expect("log fd"))
            .stderr(logf)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start containerd: {e}: apt-get install containerd (scripts/deps.sh test)")
            });
        let mut d = PrivateContainerd {
            child: Some(child),
            address,
            log,
            dir,
        };
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            if d.ctr(&["version"]).ok() {
                break;
            }
            let exited = d.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            assert!(
                exited.is_none() && Instant::now() < end,
                "containerd did not start ({exited:?}); its log:\n{}",
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        d
    }

    fn ctr(&self, args: &[&str]) -> Out {
        run(Command::new("timeout")
            .args(["-k", "5", "30", "ctr", "--address"])
            .arg(&self.address)
            .args(args))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PrivateContainerd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(c.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let end = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        // Whatever it left mounted below its directory, deepest first.
        let dir = self.dir.path().to_string_lossy().into_owned();
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
            .filter(|m| m.starts_with(&dir))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

#[test]
fn containerd_loads_the_installed_handler() {
    common::require_root();
    let out = run(Command::new("containerd").args(["config", "default"]));
    assert!(
        out.ok(),
        "`containerd config default` failed (apt-get install containerd; scripts/deps.sh test): {out:?}"
    );
    let original = out.stdout;
    let dir = tempfile::tempdir().expect("temp dir");
    // Reachable by the daemon, whatever the test's umask.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, &original).unwrap();

    let install = || {
        run(hardened()
            .args(["install", "containerd", "--config"])
            .arg(&cfg))
    };
    let out = install();
    assert!(out.ok(), "{out:?}");
    assert!(out.stdout.contains("restart containerd"), "{out:?}");
    let installed = std::fs::read_to_string(&cfg).unwrap();
    assert!(installed
        .contains("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.hardened.options]"));
    // Applied twice: the file is unchanged, no second backup.
    let out = install();
    assert!(
        out.ok() && out.stdout.contains("already configured"),
        "{out:?}"
    );
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), installed);
    assert_eq!(backups(dir.path()), 1);

    // The daemon runs the installed config, with one host path of the default config (the
    // `opt` plugin's /opt/containerd) moved into the test's directory; root, state and socket
    // are given on the command line.
    let daemon_cfg = dir.path().join("daemon.toml");
    let opt = dir.path().join("opt");
    let moved = installed.replace(
        "path = \"/opt/containerd\"",
        &format!("path = {:?}", opt.display().to_string()),
    );
    assert_ne!(
        moved, installed,
        "the default config has no /opt/containerd path"
    );
    std::fs::write(&daemon_cfg, moved).unwrap();
    let d = PrivateContainerd::start(&daemon_cfg);

    let out = d.ctr(&["plugins", "ls"]);
    assert!(out.ok(), "ctr plugins ls: {out:?}");
    let cri = out
        .stdout
        .lines()
        .find(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.first() == Some(&"io.containerd.grpc.v1") && f.get(1) == Some(&"cri")
        })
        .unwrap_or_else(|| panic!("no CRI plugin in `ctr plugins ls`: {out:?}"));
    assert_eq!(
        cri.split_whitespace().last(),
        Some("ok"),
        "the CRI plugin did not load: {cri}\n{}",
        d.log_text()
    );
    // The CRI plugin logs the config it runs with: our handler, as installed.
    let log = d.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("Start cri plugin with config"))
        .unwrap_or_else(|| panic!("no CRI config line in containerd's log:\n{log}"));
    // `Runtimes:map[hardened:{...} runc:{...}]`
    let rest = line
        .match_indices("hardened:{")
        .find(|(i, _)| line[..*i].ends_with(['[', ' ']))
        .map(|(i, m)| &line[i + m.len()..])
        .unwrap_or_else(|| panic!("no `hardened` handler in the CRI config: {line}"));
    // The handler's own {...}.
    let mut depth = 1;
    let end = rest
        .char_indices()
        .find(|&(_, c)| {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            depth == 0
        })
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    let handler = &rest[..end];
    for want in [
        "Type:io.containerd.runc.v2 ".to_string(),
        "PodAnnotations:[io.hardened.*]".to_string(),
        format!("Options:map[BinaryName:{}]", bin_canonical()),
    ] {
        assert!(
            handler.contains(&want),
            "the CRI handler lacks {want}: {handler}"
        );
    }
    drop(d);

    // Uninstall gives back `containerd config default`, byte for byte.
    let out = run(hardened()
        .args(["uninstall", "containerd", "--config"])
        .arg(&cfg));
    assert!(out.ok(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), original);
    assert_eq!(backups(dir.path()), 2);
}
