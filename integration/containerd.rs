//! `hardened` under containerd's runc v2 shim, driven with `ctr` against the private test
//! containerd (`HARDENED_TEST_CONTAINERD`). Every test works in a containerd namespace of its
//! own, with its own runtime state root, and removes both on drop, pass or fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{hardened_bin, image, poll_for, quiet, run, test_env, unique, wait_until, Out};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(30);

/// One containerd namespace with the test image imported; cleaned up on drop.
struct Ns {
    address: String,
    name: String,
    /// The shim's `--runc-root` (the runtime's state root is `<root>/<namespace>`).
    runc_root: tempfile::TempDir,
    image: String,
}

impl Ns {
    fn new() -> Self {
        common::require_root();
        let address = test_env("HARDENED_TEST_CONTAINERD");
        let name = unique("hardened-test");
        let runc_root = tempfile::Builder::new()
            .prefix("hardened-ctr-root-")
            .tempdir()
            .expect("temp dir");
        let mut ns = Ns {
            address,
            name,
            runc_root,
            image: String::new(),
        };
        ns.image = ns.import();
        ns
    }

    /// `ctr --address A --namespace N ARGS...`, bounded by a timeout.
    fn ctr(&self) -> Command {
        let mut c = Command::new("timeout");
        c.args(["-k", "10", "120", "ctr", "--address", &self.address])
            .args(["--namespace", &self.name]);
        c
    }

    /// `docker save IMAGE | ctr images import -`; returns the image reference in containerd.
    fn import(&self) -> String {
        let tar = tempfile::NamedTempFile::new().expect("temp file");
        let saved = common::docker()
            .args(["save", "-o"])
            .arg(tar.path())
            .arg(image())
            .stdin(Stdio::null())
            .output()
            .expect("docker save");
        assert!(
            saved.status.success(),
            "docker save: {:?}",
            Out::from(saved)
        );
        let out = run(self.ctr().args(["images", "import"]).arg(tar.path()));
        assert!(out.ok(), "ctr images import: {out:?}");
        let out = run(self.ctr().args(["images", "ls", "-q"]));
        assert!(out.ok(), "ctr images ls: {out:?}");
        let want = image();
        out.stdout
            .lines()
            .find(|r| r.ends_with(&want) || r.ends_with(&format!("/{want}")))
            .unwrap_or_else(|| panic!("{want} not among the imported images: {out:?}"))
            .to_string()
    }

    /// `ctr run` through the runc v2 shim with `hardened` as the runc binary.
    fn run_cmd(&self) -> Command {
        let mut c = self.ctr();
        c.args(["run", "--runtime", "io.containerd.runc.v2", "--runc-binary"])
            .arg(hardened_bin())
            .arg("--runc-root")
            .arg(self.runc_root.path());
        c
    }

    /// The runtime's state root for this namespace.
    fn state_root(&self) -> PathBuf {
        self.runc_root.path().join(&self.name)
    }

    /// `hardened state ID` in the shim's state root, parsed; None when it fails.
    fn hardened_state(&self, id: &str) -> Option<Value> {
        let out = run(Command::new(hardened_bin())
            .arg("--root")
            .arg(self.state_root())
            .args(["state", id]));
        out.ok()
            .then(|| serde_json::from_str(&out.stdout).expect("state JSON"))
    }

    /// The status column of `ctr task ls` for `id`.
    fn task_status(&self, id: &str) -> Option<String> {
        let out = run(self.ctr().args(["task", "ls"]));
        assert!(out.ok(), "ctr task ls: {out:?}");
        out.stdout.lines().skip(1).find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&id)).then(|| f.last().unwrap_or(&"").to_string())
        })
    }

    fn containers(&self) -> Vec<String> {
        let out = run(self.ctr().args(["containers", "ls", "-q"]));
        assert!(out.ok(), "ctr containers ls: {out:?}");
        out.stdout.lines().map(str::to_string).collect()
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let list = |args: &[&str]| -> Vec<String> {
            self.ctr()
                .args(args)
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        for id in list(&["containers", "ls", "-q"]) {
            quiet(self.ctr().args(["task", "kill", "-s", "SIGKILL", &id]));
            // Best effort: removed below whether it stopped or not.
            let _ = poll_for(Duration::from_secs(10), Duration::from_millis(100), || {
                (self.task_status_quiet(&id) != Some("RUNNING".into())).then_some(())
            });
            quiet(self.ctr().args(["task", "rm", "-f", &id]));
            quiet(self.ctr().args(["containers", "rm", &id]));
        }
        for img in list(&["images", "ls", "-q"]) {
            quiet(self.ctr().args(["images", "rm", "--sync", &img]));
        }
        quiet(self.ctr().args(["namespaces", "rm", &self.name]));
        // containerd puts a namespace's containers in cgroups below `/<namespace>`; the runtime
        // removes each container's own, the namespace's parent is left to whoever made the
        // namespace: here, the test. (Empty by now: rmdir removes nothing else.)
        if let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in hierarchies.flatten() {
                let _ = std::fs::remove_dir(h.path().join(&self.name));
            }
        }
        let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(&self.name));
    }
}

impl Ns {
    fn task_status_quiet(&self, id: &str) -> Option<String> {
        let o = self
            .ctr()
            .args(["task", "ls"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .skip(1)
            .find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.first() == Some(&id)).then(|| f.last().unwrap_or(&"").to_string())
            })
    }
}

#[test]
fn ctr_run_rm_propagates_output_and_exit_code() {
    let ns = Ns::new();
    let id = unique("ctr-run");
    let out =
        run(ns
            .run_cmd()
            .arg("--rm")
            .args([&ns.image, &id, "sh", "-c", "echo hello; exit 3"]));
    assert_eq!(out.code, Some(3), "{out:?}");
    assert_eq!(out.stdout.trim(), "hello", "{out:?}");
    assert!(!ns.containers().contains(&id), "container left after --rm");
    assert!(
        !ns.state_root().join(&id).exists(),
        "runtime state left after --rm"
    );

    let id = unique("ctr-run0");
    let out = run(ns
        .run_cmd()
        .arg("--rm")
        .args([&ns.image, &id, "sh", "-c", "id -u; exit 0"]));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout.trim(), "0", "{out:?}");
}

#[test]
fn ctr_run_with_null_io() {
    // The task's stdio is /dev/null: writes to it must succeed inside the container.
    let ns = Ns::new();
    let id = unique("ctr-null");
    let out = run(ns.run_cmd().args(["--rm", "--null-io"]).args([
        &ns.image,
        &id,
        "sh",
        "-c",
        "echo hi && echo err >&2 && exit 4",
    ]));
    assert_eq!(out.code, Some(4), "{out:?}");
}

#[test]
fn ctr_detached_task_exec_kill_rm() {
    let ns = Ns::new();
    let id = unique("ctr-det");
    let out = run(ns
        .run_cmd()
        .arg("-d")
        .args([&ns.image, &id, "sleep", "300"]));
    assert!(out.ok(), "ctr run -d: {out:?}");
    assert_eq!(ns.task_status(&id).as_deref(), Some("RUNNING"));

    // The shim really drives hardened: its state is in hardened's format under --runc-root.
    let st = ns
        .hardened_state(&id)
        .unwrap_or_else(|| panic!("hardened has no state for {id}"));
    assert_eq!(st["status"], "running", "{st}");
    let pid = st["pid"].as_i64().expect("pid");
    assert!(
        pid > 0 && PathBuf::from(format!("/proc/{pid}")).exists(),
        "{st}"
    );

    let out = run(ns
        .ctr()
        .args(["task", "exec", "--exec-id", "e1", &id])
        .args(["sh", "-c", "echo in"]));
    assert!(out.ok(), "ctr task exec: {out:?}");
    assert_eq!(out.stdout.trim(), "in", "{out:?}");

    let out = run(ns
        .ctr()
        .args(["task", "exec", "--exec-id", "e2", &id])
        .args(["sh", "-c", "exit 6"]));
    assert_eq!(out.code, Some(6), "exec exit code: {out:?}");

    let out = run(ns.ctr().args(["task", "ps", &id]));
    assert!(out.ok(), "ctr task ps: {out:?}");
    assert!(
        out.stdout
            .lines()
            .skip(1)
            .any(|l| l.split_whitespace().next() == Some(pid.to_string().as_str())),
        "{out:?}"
    );

    let out = run(ns.ctr().args(["task", "kill", "-s", "SIGKILL", &id]));
    assert!(out.ok(), "ctr task kill: {out:?}");
    wait_until("the task to stop", DEADLINE, || {
        ns.task_status(&id).as_deref() == Some("STOPPED")
    });

    let out = run(ns.ctr().args(["task", "rm", &id]));
    assert!(out.ok(), "ctr task rm: {out:?}");
    assert_eq!(ns.task_status(&id), None);
    assert!(ns.hardened_state(&id).is_none(), "hardened state left");
    let out = run(ns.ctr().args(["containers", "rm", &id]));
    assert!(out.ok(), "ctr containers rm: {out:?}");
    assert!(!ns.containers().contains(&id));
}

/// The cgroup-path rule through containerd's runc v2 shim: a cgroupsPath that climbs with `..`
/// is refused with the rule's message. (It is built to resolve to a cgroup below this test's
/// namespace, so even a runtime that let it through could reach nothing else.)
#[test]
fn ctr_run_with_a_climbing_cgroup_path_is_refused() {
    let ns = Ns::new();
    let id = unique("ctr-cg");
    let climbing = format!("/{}/a/../{id}", ns.name);
    let out = run(ns
        .run_cmd()
        .args(["--rm", "--cgroup", &climbing])
        .args([&ns.image, &id, "true"]));
    assert!(!out.ok(), "ran: {out:?}");
    assert!(out.stderr.contains("[rule cgroup-path]"), "{out:?}");
    assert!(out.stderr.contains("climbs"), "{out:?}");
    assert!(
        !ns.state_root().join(&id).exists(),
        "runtime state left after a refused create"
    );
}

/// Learn mode through containerd (docs/learn.md): the runc v2 shim passes no runtime arguments,
/// so the handler's binary is a wrapper that names the policy. The annotation names the learned
/// profile; the profile, adopted through `profile_dirs` and selected by annotation, runs the
/// same program with the read-only root, and what it did not use stays refused.
#[test]
fn ctr_learn_then_run_under_the_learned_profile() {
    use std::os::unix::fs::PermissionsExt;
    let ns = Ns::new();
    let dir = tempfile::Builder::new()
        .prefix("hardened-ctr-learn-")
        .tempdir()
        .expect("temp dir");
    let learned = dir.path().join("learned");
    let audit = dir.path().join("audit.log");
    let wrapper = |name: &str, policy: &str| -> PathBuf {
        let p = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &p,
            format!("audit_log = {:?}\n{policy}\n", audit.display().to_string()),
        )
        .expect("write policy");
        let w = dir.path().join(format!("hardened-{name}"));
        std::fs::write(
            &w,
            format!(
                "#!/bin/sh\nexec {} --policy {} \"$@\"\n",
                hardened_bin().display(),
                p.display()
            ),
        )
        .expect("write wrapper");
        std::fs::set_permissions(&w, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        w
    };
    let learn = wrapper(
        "learn",
        &format!(
            "mode = \"learn\"\nlearn_dir = {:?}",
            learned.display().to_string()
        ),
    );
    std::fs::create_dir(&learned).expect("mkdir learned");
    let adopted = wrapper(
        "adopted",
        &format!("profile_dirs = [{:?}]", learned.display().to_string()),
    );
    let ctr_run = |binary: &Path, annotation: &str, id: &str, script: &str| {
        run(ns
            .ctr()
            .args([
                "run",
                "--rm",
                "--runtime",
                "io.containerd.runc.v2",
                "--runc-binary",
            ])
            .arg(binary)
            .arg("--runc-root")
            .arg(ns.runc_root.path())
            .args([
                "--annotation",
                annotation,
                &ns.image,
                id,
                "sh",
                "-c",
                script,
            ]))
    };

    let out = ctr_run(
        &learn,
        "io.hardened.learn=ctrapp",
        &unique("ctr-learn"),
        common::learn::ENTRYPOINT,
    );
    assert!(out.ok() && out.stdout.contains("entrypoint-ok"), "{out:?}");
    let toml = poll_for(DEADLINE, Duration::from_millis(100), || {
        std::fs::read_to_string(learned.join("ctrapp.toml")).ok()
    })
    .unwrap_or_else(|| panic!("no learned profile in {}", learned.display()));
    common::learn::assert_learned(&toml, "ctrapp");

    let out = ctr_run(
        &adopted,
        "io.hardened.profile=ctrapp",
        &unique("ctr-adopted"),
        &common::learn::probe_script(),
    );
    common::learn::assert_adopted_probe(&out);
}
