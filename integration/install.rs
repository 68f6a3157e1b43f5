//! `hardened install|uninstall docker|containerd` through the real binary, on temporary files
//! only (never /etc/docker/daemon.json or /etc/containerd/config.toml), and a private containerd
//! started with the config `install containerd` wrote: it must load it and its CRI plugin must
//! know the `hardened` handler.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{hardened_bin, poll_for, run, Out};

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
        // Some(None): it answers; Some(Some(status)): it exited; None: neither in time.
        let started = poll_for(Duration::from_secs(30), Duration::from_millis(200), || {
            if d.ctr(&["version"]).ok() {
                return Some(None);
            }
            let exited = d.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            exited.map(Some)
        });
        assert!(
            matches!(started, Some(None)),
            "containerd did not start ({:?}); its log:\n{}",
            started.flatten(),
            d.log_text()
        );
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
            // Killed below if it has not stopped by then.
            let _ = poll_for(Duration::from_secs(10), Duration::from_millis(100), || {
                (!matches!(c.try_wait(), Ok(None))).then_some(())
            });
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

// ---- deploy/kubernetes ----

fn deploy_dir() -> PathBuf {
    common::repo_root().join("deploy/kubernetes")
}

/// The documents of a YAML file, as JSON (PyYAML's safe loader: python3-yaml).
fn yaml_docs(path: &Path) -> Vec<serde_json::Value> {
    let out = run(Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))",
        ])
        .arg(path));
    assert!(
        out.ok(),
        "{} does not parse as YAML (or python3-yaml is missing: apt-get install python3-yaml; scripts/deps.sh test): {out:?}",
        path.display()
    );
    match serde_json::from_str(&out.stdout).expect("JSON from python") {
        serde_json::Value::Array(v) => v,
        v => panic!("not a list: {v}"),
    }
}

fn kind<'a>(docs: &'a [serde_json::Value], kind: &str) -> &'a serde_json::Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {docs:?}"))
}

fn env_of<'a>(container: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    container["env"]
        .as_array()
        .and_then(|e| e.iter().find(|v| v["name"] == name))
        .unwrap_or_else(|| panic!("no env {name} in {container}"))
}

/// A `NAME=value` default of installer.sh.
fn script_default(name: &str) -> String {
    let script = std::fs::read_to_string(deploy_dir().join("installer.sh")).expect("installer.sh");
    let prefix = format!("{name}=");
    let line = script
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {name}= in installer.sh"));
    let v = line[prefix.len()..].split_whitespace().next().unwrap_or("");
    // ${NAME:-default} / ${NAME-default} -> default
    match v.strip_prefix(&format!("${{{name}")) {
        Some(rest) => rest
            .trim_start_matches(":-")
            .trim_start_matches('-')
            .trim_end_matches('}')
            .to_string(),
        None => v.to_string(),
    }
}

#[test]
fn kubernetes_manifests_agree() {
    let rc_docs = yaml_docs(&deploy_dir().join("runtimeclass.yaml"));
    let rc = kind(&rc_docs, "RuntimeClass");
    assert_eq!(rc["apiVersion"], "node.k8s.io/v1");
    let handler = rc["handler"].as_str().expect("handler");
    assert_eq!(handler, hardened::install::DEFAULT_NAME);
    assert_eq!(rc["metadata"]["name"], handler);
    // Scheduled where the installer put the label.
    let label = script_default("LABEL");
    assert_eq!(
        rc["scheduling"]["nodeSelector"],
        serde_json::json!({ label.as_str(): "true" })
    );
    let script = std::fs::read_to_string(deploy_dir().join("installer.sh")).unwrap();
    assert!(script.contains("label '\"true\"'") && script.contains("label null"));

    let inst = yaml_docs(&deploy_dir().join("installer.yaml"));
    let uninst = yaml_docs(&deploy_dir().join("uninstall.yaml"));
    let ns = kind(&inst, "Namespace")["metadata"]["name"].clone();
    let sa = kind(&inst, "ServiceAccount");
    assert_eq!(sa["metadata"]["namespace"], ns);
    let role = kind(&inst, "ClusterRole");
    assert!(
        role["rules"].as_array().unwrap().iter().any(|r| {
            r["resources"] == serde_json::json!(["nodes"])
                && r["verbs"].as_array().unwrap().contains(&"patch".into())
        }),
        "the installer may not label nodes: {role}"
    );
    let binding = kind(&inst, "ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["name"], sa["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["namespace"], ns);

    let mut images = Vec::new();
    for (docs, mode) in [(&inst, "install"), (&uninst, "uninstall")] {
        let ds = kind(docs, "DaemonSet");
        assert_eq!(ds["metadata"]["namespace"], ns);
        let spec = &ds["spec"]["template"]["spec"];
        assert_eq!(spec["serviceAccountName"], sa["metadata"]["name"]);
        assert_eq!(spec["hostPID"], true, "nsenter -t 1 needs hostPID");
        assert_eq!(
            ds["spec"]["selector"]["matchLabels"],
            ds["spec"]["template"]["metadata"]["labels"]
        );
        let c = &spec["containers"][0];
        assert_eq!(c["args"], serde_json::json!([mode]));
        assert_eq!(c["securityContext"]["privileged"], true);
        assert_eq!(env_of(c, "HANDLER")["value"], handler);
        assert_eq!(
            env_of(c, "NODE_NAME")["valueFrom"]["fieldRef"]["fieldPath"],
            "spec.nodeName"
        );
        assert_eq!(
            c["readinessProbe"]["exec"]["command"][2],
            script_default("READY_FILE")
        );
        images.push(c["image"].clone());
    }
    assert_eq!(images[0], images[1]);

    // The installer's mounts are where installer.sh copies to and reads from.
    let spec = &kind(&inst, "DaemonSet")["spec"]["template"]["spec"];
    let c = &spec["containers"][0];
    let host_root = script_default("HOST_ROOT");
    let volume = |name: &str| {
        spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no volume {name}"))
            .clone()
    };
    let mounts = c["volumeMounts"].as_array().unwrap();
    for host_dir in ["/usr/local/bin", "/etc/hardened"] {
        let m = mounts
            .iter()
            .find(|m| m["mountPath"] == format!("{host_root}{host_dir}"))
            .unwrap_or_else(|| panic!("{host_root}{host_dir} is not mounted: {c}"));
        let v = volume(m["name"].as_str().unwrap());
        assert_eq!(v["hostPath"]["path"], host_dir);
    }
    let src_policy = script_default("SRC_POLICY");
    let m = mounts
        .iter()
        .find(|m| src_policy.starts_with(&format!("{}/", m["mountPath"].as_str().unwrap())))
        .unwrap_or_else(|| panic!("{src_policy} is not mounted: {c}"));
    let cm_name = volume(m["name"].as_str().unwrap())["configMap"]["name"].clone();
    let cm = kind(&inst, "ConfigMap");
    assert_eq!(cm["metadata"]["name"], cm_name);
    assert_eq!(cm["metadata"]["namespace"], ns);

    // The policy it installs is valid.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        cm["data"]["policy.toml"].as_str().expect("policy.toml"),
    )
    .unwrap();
    let out = run(hardened().args(["policy", "validate"]).arg(&policy));
    assert!(out.ok(), "the ConfigMap's policy: {out:?}");

    // The image holds the binary and the script where installer.sh and the manifests look.
    let dockerfile = std::fs::read_to_string(deploy_dir().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains(&format!(
        "/src/target/release/hardened {}",
        script_default("SRC_BIN")
    )));
    assert!(dockerfile.contains("COPY deploy/kubernetes/installer.sh /opt/hardened/installer.sh"));
    assert!(dockerfile.contains("ENTRYPOINT [\"/opt/hardened/installer.sh\"]"));
}

/// installer.sh, run as on a node but in a private mount namespace: /usr/local/bin is a
/// temporary directory and /etc an overlay whose writes go to a temporary directory, so the
/// real paths the script uses are exercised without touching the host; systemctl and curl are
/// stubs that record their calls; containerd's config is a temporary copy of
/// `containerd config default`.
#[test]
fn kubernetes_installer_script_installs_and_uninstalls() {
    common::require_root();
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    for sub in ["bin", "etc-upper", "etc-work", "stubs", "sa", "containerd"] {
        std::fs::create_dir(d.join(sub)).unwrap();
    }
    let calls = d.join("calls.log");
    for stub in ["systemctl", "curl"] {
        let p = d.join("stubs").join(stub);
        std::fs::write(
            &p,
            format!("#!/bin/sh\necho \"{stub} $*\" >> {}\n", calls.display()),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(d.join("sa/token"), "t0ken").unwrap();
    std::fs::write(d.join("sa/ca.crt"), "").unwrap();
    let policy_src = d.join("policy.toml");
    std::fs::write(&policy_src, "mode = \"audit\"\n").unwrap();
    let out = run(Command::new("containerd").args(["config", "default"]));
    assert!(out.ok(), "containerd config default: {out:?}");
    let original = out.stdout;
    let cfg = d.join("containerd/config.toml");
    std::fs::write(&cfg, &original).unwrap();

    let script = deploy_dir().join("installer.sh");
    let run_script = |mode: &str| -> Out {
        let inner = format!(
            "set -e; mount --bind {bin} /usr/local/bin; \
             mount -t overlay overlay -o lowerdir=/etc,upperdir={up},workdir={work} /etc; \
             exec {script} {mode}",
            bin = d.join("bin").display(),
            up = d.join("etc-upper").display(),
            work = d.join("etc-work").display(),
            script = script.display(),
        );
        let path = format!(
            "{}:{}",
            d.join("stubs").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        run(Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "bash",
                "-c",
                &inner,
            ])
            .env("PATH", path)
            .env("NODE_NAME", "node-1")
            .env("HOST_ROOT", "")
            .env("HOST_NSENTER", "")
            .env("SLEEP_AFTER", "false")
            .env("SRC_BIN", hardened_bin())
            .env("SRC_POLICY", &policy_src)
            .env("SA_DIR", d.join("sa"))
            .env("READY_FILE", d.join("ready"))
            .env("CONTAINERD_CONFIG", &cfg)
            .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
            .env("KUBERNETES_SERVICE_PORT", "6443"))
    };
    let calls_text = || std::fs::read_to_string(&calls).unwrap_or_default();

    let out = run_script("install");
    assert!(out.ok(), "installer.sh install: {out:?}");
    assert!(d.join("ready").exists());
    let bin = d.join("bin/hardened");
    assert_eq!(
        std::fs::read(&bin).expect("the binary on the node"),
        std::fs::read(hardened_bin()).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(d.join("etc-upper/hardened/policy.toml")).unwrap(),
        "mode = \"audit\"\n"
    );
    let installed = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        installed.contains("BinaryName = \"/usr/local/bin/hardened\""),
        "{installed}"
    );
    let log = calls_text();
    assert_eq!(
        log.matches("systemctl restart containerd").count(),
        1,
        "{log}"
    );
    assert!(
        log.contains("https://127.0.0.1:6443/api/v1/nodes/node-1")
            && log.contains(r#"{"metadata":{"labels":{"hardened.dev/runtime":"true"}}}"#)
            && log.contains("Authorization: Bearer t0ken"),
        "{log}"
    );

    // Again: nothing changes, containerd is not restarted, the node's policy is kept.
    std::fs::write(&policy_src, "mode = \"enforce\"\n").unwrap();
    let out = run_script("install");
    assert!(out.ok(), "installer.sh install, again: {out:?}");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), installed);
    assert_eq!(calls_text().matches("systemctl restart").count(), 1);
    assert_eq!(
        std::fs::read_to_string(d.join("etc-upper/hardened/policy.toml")).unwrap(),
        "mode = \"audit\"\n"
    );

    let out = run_script("uninstall");
    assert!(out.ok(), "installer.sh uninstall: {out:?}");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), original);
    let log = calls_text();
    assert_eq!(
        log.matches("systemctl restart containerd").count(),
        2,
        "{log}"
    );
    assert!(
        log.contains(r#"{"metadata":{"labels":{"hardened.dev/runtime":null}}}"#),
        "{log}"
    );
    // The binary stays for the pods that may still run under it.
    assert!(bin.exists());
}
