//! Rootful podman (Debian's podman 4.3, overlay storage) running hardened, checked from inside
//! the containers: under the policy's defaults (its user namespace and idmapped root made from
//! podman's overlay, `--rm` containers' volatile one included) and under podman's own
//! `--uidmap`; and the message of an rlimit above the runtime's hard limit.
//!
//! Every podman here has a storage root, run root and tmp dir of its own in a temp dir (never
//! the host's `/var/lib/containers/storage`), `--network none`, and an image imported from a
//! busybox rootfs (no registry). podman 4.3 still records the import in its blob-info cache,
//! `/var/lib/containers/cache`, a path it takes no flag for. The runtime is a wrapper that gives hardened the sandbox's state root
//! and a fallback policy (`$HARDENED_POLICY`, the sandbox's defaults): podman passes
//! `--runtime-flag`s to `create` and `start` but not to the `delete` of its clean-up process, so
//! the wrapper is how every call sees the same root and never the host's policy; a
//! `--runtime-flag policy=FILE` (the learn-mode test) overrides the fallback where podman passes
//! it. This machine's hard RLIMIT_NOFILE is below podman's default (1048576), so the runs pass
//! `--ulimit`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::learn::{assert_adopted_probe, assert_learned, probe_script, ENTRYPOINT};
use common::{hardened_bin, quiet, repo_root, require_root, run, Out};

const IMAGE: &str = "localhost/hardened-test-busybox:latest";

/// A podman of the test's own, and the image it runs.
struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    fn new() -> Self {
        require_root();
        let found = Command::new("podman")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            found,
            "podman is not installed: this test runs rootful podman: apt-get install podman \
             (scripts/deps.sh test installs it)"
        );
        // Directly in /tmp, not in the suite's TMPDIR: podman refuses a run root longer than 50
        // characters.
        let dir = tempfile::Builder::new()
            .prefix("hp-")
            .tempdir_in("/tmp")
            .expect("temp dir");
        // The container's root (an unprivileged host ID) reaches podman's bind sources (its run
        // root) through here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711))
            .expect("chmod the temp dir");
        let p = Podman { dir };
        for d in ["state", "tmp"] {
            std::fs::create_dir(p.path(d)).expect("mkdir");
        }
        std::fs::write(
            p.path("policy.toml"),
            format!(
                "audit_log = {:?}\n",
                p.path("audit.log").display().to_string()
            ),
        )
        .expect("write the policy");
        std::fs::write(
            p.runtime(),
            format!(
                "#!/bin/sh\nexport HARDENED_POLICY='{}'\nexec '{}' --root '{}' \"$@\"\n",
                p.path("policy.toml").display(),
                hardened_bin().display(),
                p.path("state").display(),
            ),
        )
        .expect("write the runtime wrapper");
        std::fs::set_permissions(p.runtime(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod the runtime wrapper");
        p.import_image();
        p
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// hardened with the sandbox's state root and policy.
    fn runtime(&self) -> PathBuf {
        self.path("hardened")
    }

    /// `podman` with this test's storage, run root and tmp dir; cgroupfs (no systemd needed),
    /// events in a file.
    fn podman(&self) -> Command {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(self.path("storage"))
            .arg("--runroot")
            .arg(self.path("run"))
            .arg("--tmpdir")
            .arg(self.path("tmp"))
            .args([
                "--storage-driver",
                "overlay",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
            ]);
        c
    }

    /// A busybox rootfs (scripts/mkbundle.sh) imported as [`IMAGE`].
    fn import_image(&self) {
        let bundle = self.path("bundle");
        let out = run(Command::new(repo_root().join("scripts/mkbundle.sh"))
            .arg(&bundle)
            .env("HARDENED", hardened_bin()));
        assert!(out.ok(), "mkbundle failed: {out:?}");
        let tar = self.path("rootfs.tar");
        let out = run(Command::new("tar")
            .arg("-C")
            .arg(bundle.join("rootfs"))
            .arg("-cf")
            .arg(&tar)
            .arg("."));
        assert!(out.ok(), "tar: {out:?}");
        let out = run(self.podman().arg("import").arg(&tar).arg(IMAGE));
        assert!(out.ok(), "podman import: {out:?}");
    }

    /// `podman run --network none --ulimit ... --runtime hardened FLAGS IMAGE sh -c SCRIPT`.
    fn run(&self, flags: &[&str], script: &str) -> Out {
        run(self
            .podman()
            .args(["run", "--network", "none"])
            .args([
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
            ])
            .arg("--runtime")
            .arg(self.runtime())
            .args(flags)
            .args([IMAGE, "sh", "-c", script]))
    }

    /// Containers hardened still holds in the sandbox's state root.
    fn runtime_containers(&self) -> Vec<String> {
        std::fs::read_dir(self.path("state"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        quiet(
            self.podman()
                .args(["rm", "--all", "--force", "--time", "0"]),
        );
        quiet(self.podman().args(["rmi", "--all", "--force"]));
        // What hardened still holds (a failed test's container).
        for id in self.runtime_containers() {
            quiet(Command::new(self.runtime()).args(["delete", "--force", &id]));
        }
        // podman makes its overlay directory a bind mount of itself; its layers are gone.
        quiet(
            Command::new("umount")
                .arg("-R")
                .arg(self.path("storage/overlay")),
        );
    }
}

/// What every container checks from inside: its uid_map, capabilities, no_new_privs, the
/// read-only root, podman's `/run/.containerenv` beneath the scratch `/run`, and stdout.
const PROBE: &str =
    "head -n1 /proc/self/uid_map; grep -E '^(CapEff|NoNewPrivs):' /proc/self/status; \
    if touch /probe 2>/dev/null; then echo root=rw; else echo root=ro; fi; \
    test -e /run/.containerenv && echo containerenv=yes; \
    echo stdout-ok > /dev/stdout";

/// The fields of the first uid_map line.
fn uid_map(out: &Out) -> Vec<u64> {
    out.stdout
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(|n| n.parse().expect("a uid_map number"))
        .collect()
}

fn assert_hardened(out: &Out) {
    assert!(out.ok(), "{out:?}");
    let line = |prefix: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .map(|l| l.split_whitespace().last().unwrap_or("").to_string())
    };
    assert_eq!(
        line("CapEff:").as_deref(),
        Some("0000000000000000"),
        "{out:?}"
    );
    assert_eq!(line("NoNewPrivs:").as_deref(), Some("1"), "{out:?}");
    assert!(out.stdout.contains("root=ro"), "{out:?}");
    assert!(out.stdout.contains("containerenv=yes"), "{out:?}");
    assert!(out.stdout.contains("stdout-ok"), "{out:?}");
}

#[test]
fn podman_runs_hardened_with_the_policys_user_namespace() {
    let p = Podman::new();
    // `--rm`: podman mounts the container's overlay volatile; without it, as Docker does.
    for flags in [&["--rm"][..], &[][..]] {
        let out = p.run(flags, PROBE);
        assert_hardened(&out);
        let map = uid_map(&out);
        assert_eq!(map.len(), 3, "{out:?}");
        assert_eq!(map[0], 0, "{out:?}");
        assert_ne!(map[1], 0, "container root is host root: {out:?}");
        assert_eq!(map[2], 65536, "{out:?}");
    }
    // Both containers are gone from hardened once podman removed them.
    let out = run(p.podman().args(["rm", "--all", "--force"]));
    assert!(out.ok(), "{out:?}");
    assert_eq!(p.runtime_containers(), Vec::<String>::new());
    let audit = std::fs::read_to_string(p.path("audit.log")).expect("the audit log");
    let creates = audit
        .lines()
        .filter(|l| l.contains("\"command\":\"create\""))
        .count();
    assert_eq!(creates, 2, "one decision per create: {audit}");
}

#[test]
fn podman_runs_hardened_with_its_own_uidmap() {
    let p = Podman::new();
    let out = p.run(
        &[
            "--rm",
            "--uidmap",
            "0:300000:65536",
            "--gidmap",
            "0:300000:65536",
        ],
        PROBE,
    );
    assert_hardened(&out);
    assert_eq!(uid_map(&out), vec![0, 300000, 65536], "{out:?}");
    assert_eq!(p.runtime_containers(), Vec::<String>::new());
}

/// An rlimit above the runtime's hard limit is refused with a message naming it, the value and
/// the limit (libcontainer's intermediate process, in the user namespace, failed `EPERM`).
/// `RLIMIT_MSGQUEUE`: podman changes its own `nofile` and `nproc` limits, not this one.
#[test]
fn podman_rlimit_above_the_hard_limit_is_named() {
    let p = Podman::new();
    let hard = rustix::process::getrlimit(rustix::process::Resource::Msgqueue).maximum;
    let Some(hard) = hard else {
        panic!("RLIMIT_MSGQUEUE is unlimited here: no value can exceed it; run under a finite one (ulimit -q)");
    };
    let asked = format!("msgqueue={}:{}", hard + 1, hard + 1);
    let out = p.run(&["--rm", "--ulimit", &asked], "true");
    assert!(!out.ok(), "{out:?}");
    for want in [
        "RLIMIT_MSGQUEUE".to_string(),
        format!("hard limit {}", hard + 1),
        format!("hard limit {hard}"),
        format!("--ulimit msgqueue={hard}:{hard}"),
    ] {
        assert!(out.stderr.contains(&want), "no {want:?} in {out:?}");
    }
}

/// `hardened install podman` on a temp config (never /etc/containers): dry run, idempotent,
/// backed up, and podman itself finds the runtime by name in the file written (`CONTAINERS_CONF`
/// makes podman read that file alone) and runs it; `uninstall` gives the original back.
#[test]
fn podman_install_registers_a_runtime_podman_runs() {
    let p = Podman::new();
    let cfg = p.path("containers.conf");
    let original = "# site settings\n[engine]\nevents_logger = \"file\"\n";
    std::fs::write(&cfg, original).expect("write containers.conf");
    let backups = || {
        std::fs::read_dir(p.dir.path())
            .expect("read dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".bak-"))
            .count()
    };
    let out = run(Command::new(hardened_bin())
        .args(["install", "podman", "--dry-run", "--config"])
        .arg(&cfg));
    assert!(
        out.ok() && out.stdout.contains("+[engine.runtimes]"),
        "{out:?}"
    );
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), original);

    // The wrapper, so that the container's state and policy stay in the sandbox.
    let install = || {
        run(Command::new(hardened_bin())
            .args(["install", "podman", "--name", "hardened-test", "--config"])
            .arg(&cfg)
            .arg("--path")
            .arg(p.runtime()))
    };
    let out = install();
    assert!(out.ok(), "{out:?}");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        text.starts_with(original)
            && text.contains(&format!(
                "[engine.runtimes]\nhardened-test = [\"{}\"]\n",
                p.runtime().display()
            )),
        "{text}"
    );
    assert_eq!(backups(), 1);
    let out = install();
    assert!(
        out.ok() && out.stdout.contains("already configured"),
        "{out:?}"
    );
    assert_eq!(backups(), 1);

    let out = run(p
        .podman()
        .env("CONTAINERS_CONF", &cfg)
        .args(["run", "--rm", "--network", "none"])
        .args([
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
        ])
        .args(["--runtime", "hardened-test", IMAGE, "sh", "-c", PROBE]));
    assert_hardened(&out);
    assert_ne!(uid_map(&out).get(1), Some(&0), "{out:?}");

    // --policy cannot be registered: podman passes a runtime no arguments.
    let out = run(Command::new(hardened_bin())
        .arg("--policy")
        .arg(p.path("policy.toml"))
        .args(["install", "podman", "--config"])
        .arg(&cfg));
    assert!(
        !out.ok() && out.stderr.contains("/etc/hardened/policy.toml"),
        "{out:?}"
    );

    let uninstall = || {
        run(Command::new(hardened_bin())
            .args(["uninstall", "podman", "--name", "hardened-test", "--config"])
            .arg(&cfg))
    };
    let out = uninstall();
    assert!(out.ok(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), original);
    assert_eq!(backups(), 2);
    let out = uninstall();
    assert!(out.ok() && out.stdout.contains("not configured"), "{out:?}");
    assert_eq!(backups(), 2);
}

/// Learn mode through podman as docs/learn.md gives it: the learn policy named with
/// `--runtime-flag policy=FILE` (podman passes it to `create` and `start`; the `delete` of its
/// clean-up process gets no flag, and the profile is written there from what `create` recorded),
/// the profile named with `--annotation io.hardened.learn=NAME`, with `--rm` and without. Then
/// adopted: copied into a `profile_dirs` directory and selected by a second policy's
/// `default_profile`, again through `--runtime-flag`: the same image runs with the read-only
/// root and its own user namespace, and what the learn run did not use stays refused.
#[test]
fn podman_learn_then_run_under_the_learned_profile() {
    let p = Podman::new();
    let learned = p.path("learned");
    let adopted = p.path("adopted");
    std::fs::create_dir(&adopted).expect("mkdir adopted");
    let audit = p.path("audit.log");
    let policy = |name: &str, body: String| -> String {
        let file = p.path(&format!("{name}.toml"));
        std::fs::write(
            &file,
            format!("audit_log = {:?}\n{body}\n", audit.display().to_string()),
        )
        .expect("write the policy");
        format!("policy={}", file.display())
    };
    let learn = policy(
        "learn",
        format!(
            "mode = \"learn\"\nlearn_dir = {:?}",
            learned.display().to_string()
        ),
    );
    for (name, flags) in [("podapp-rm", &["--rm"][..]), ("podapp", &[][..])] {
        let annotation = format!("io.hardened.learn={name}");
        let mut all = vec!["--runtime-flag", &learn, "--annotation", &annotation];
        all.extend_from_slice(flags);
        let out = p.run(&all, ENTRYPOINT);
        assert!(out.ok() && out.stdout.contains("entrypoint-ok"), "{out:?}");
        // Written by the delete of podman's clean-up process, which may come after `run` returns.
        let toml_file = learned.join(format!("{name}.toml"));
        let toml = common::poll_for(Duration::from_secs(30), Duration::from_millis(100), || {
            std::fs::read_to_string(&toml_file).ok()
        })
        .unwrap_or_else(|| panic!("no learned profile {}", toml_file.display()));
        assert_learned(&toml, name);
    }
    let out = run(p.podman().args(["rm", "--all", "--force"]));
    assert!(out.ok(), "{out:?}");
    assert_eq!(p.runtime_containers(), Vec::<String>::new());

    // Adopt it: the profile and its seccomp file into a directory of profile_dirs.
    for file in ["podapp.toml", "podapp.seccomp.json"] {
        std::fs::copy(learned.join(file), adopted.join(file)).expect("adopt the profile");
    }
    let adopt = policy(
        "adopted",
        format!(
            "profile_dirs = [{:?}]\ndefault_profile = \"podapp\"",
            adopted.display().to_string()
        ),
    );
    let out = p.run(&["--rm", "--runtime-flag", &adopt], &probe_script());
    assert_adopted_probe(&out);
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let learned_records = records
        .iter()
        .filter(|r| r["decision"] == "learned")
        .count();
    assert_eq!(learned_records, 2, "{records:?}");
    assert!(
        records
            .iter()
            .any(|r| r["command"] == "create" && r["profile"] == "podapp"),
        "the adopted container ran under the profile: {records:?}"
    );
}
