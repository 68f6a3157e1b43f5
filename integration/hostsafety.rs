//! Never harm the host: the `cgroup-path` rule, and signals that reach only the container's
//! own processes.
//!
//! Nothing here can reach the host's root cgroup. Paths that resolve to a hierarchy root are
//! tried with `check` (which creates nothing), and through `create` only in a mount namespace
//! of their own where `/sys/fs/cgroup` is an empty tmpfs: there, even a runtime that let them
//! through would find no cgroup to signal. Paths that climb with `..` are built so that they
//! resolve to a cgroup of the test's own. The canary tests make their own cgroups and put a
//! host process of their own into them.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{run, unique, wait_until, Out, Sandbox};

const DEADLINE: Duration = Duration::from_secs(20);

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !matches!(
            s.rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next()),
            Some('Z') | Some('X') | None
        )
    })
}

/// A cgroup of the test's own, `/<name>/...`, in every hierarchy; removed (deepest first) on
/// drop, with whatever the test left below it.
struct TestCgroup {
    top: String,
}

impl TestCgroup {
    fn new(prefix: &str) -> Self {
        TestCgroup {
            top: format!("/{}", unique(prefix)),
        }
    }

    fn path(&self, sub: &str) -> String {
        format!("{}/{sub}", self.top)
    }

    fn make(&self, sub: &str) {
        for h in common::cgroup_hierarchies() {
            let d = h.join(self.path(sub).trim_start_matches('/'));
            std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        }
    }

    /// Move a process of the test's own into `sub` in every hierarchy where it exists.
    fn enter(&self, sub: &str, pid: i32) {
        for h in common::cgroup_hierarchies() {
            let d = h.join(self.path(sub).trim_start_matches('/'));
            if d.is_dir() {
                std::fs::write(d.join("cgroup.procs"), pid.to_string())
                    .unwrap_or_else(|e| panic!("move {pid} into {}: {e}", d.display()));
            }
        }
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for h in common::cgroup_hierarchies() {
            let d = h.join(self.top.trim_start_matches('/'));
            if d.is_dir() {
                let _ = Command::new("find")
                    .arg(&d)
                    .args(["-depth", "-type", "d", "-exec", "rmdir", "{}", ";"])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// A host process of the test's own that must survive everything the runtime does.
struct Canary(Child);

impl Canary {
    fn new() -> Self {
        Canary(
            Command::new("sleep")
                .arg("600")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn canary"),
        )
    }

    fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    fn assert_alive(&mut self, after: &str) {
        assert!(
            matches!(self.0.try_wait(), Ok(None)),
            "the canary (pid {}) was killed by {after}",
            self.pid()
        );
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run with stdio on files (a created container inherits them and outlives the command).
fn run_files(sb: &Sandbox, cmd: &mut Command) -> Out {
    let out = sb.dir.path().join(format!("out-{}", unique("o")));
    let err = sb.dir.path().join(format!("err-{}", unique("e")));
    let status = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("out"))
        .stderr(std::fs::File::create(&err).expect("err"))
        .status()
        .expect("run");
    Out {
        code: status.code(),
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    }
}

fn set_cgroups_path(sb: &Sandbox, bundle: &Path, path: &str) {
    let cfg = bundle.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg).expect("read config")).expect("json");
    v["linux"]["cgroupsPath"] = serde_json::Value::String(path.to_string());
    std::fs::write(&cfg, serde_json::to_vec(&v).expect("json")).expect("write config");
    let _ = sb;
}

/// Nothing of `id` is in the state root: no state, ledger, shadow bundle or range.
fn assert_nothing_left(sb: &Sandbox, id: &str) {
    let root = sb.root();
    for p in [
        root.join(id),
        root.join(".ledger").join(format!("{id}.json")),
        root.join(".bundles").join(id),
    ] {
        assert!(!p.exists(), "{} was left behind", p.display());
    }
    if let Ok(rd) = std::fs::read_dir(root.join(".userns")) {
        let left: Vec<_> = rd
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(id))
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "user-namespace range files left: {left:?}");
    }
}

const ROOT_SPELLINGS: &[&str] = &["/", "//", "/..", "a/../..", "/docker/../..", "", "/./"];

#[test]
fn check_refuses_root_cgroup_paths_in_every_mode() {
    let sb = Sandbox::new();
    let b = sb.bundle("check", &["true"]);
    let long = "/".repeat(10 << 20);
    let many = "/".repeat(3000);
    for mode in ["enforce", "audit", "permissive"] {
        for path in ROOT_SPELLINGS
            .iter()
            .copied()
            .chain([long.as_str(), many.as_str()])
        {
            set_cgroups_path(&sb, &b, path);
            let out = run(sb.hardened_with(mode).arg("check").arg(&b));
            let shown = &path[..path.len().min(20)];
            assert_eq!(out.code, Some(1), "{mode} {shown:?}: {out:?}");
            assert!(
                out.stdout.contains("[cgroup-path]"),
                "{mode} {shown:?}: {}",
                out.stdout
            );
            assert!(out.stdout.len() < 20_000, "the path was echoed back");
        }
    }
}

/// `create` and `run` with a root cgroupsPath, in a mount namespace whose /sys/fs/cgroup is an
/// empty tmpfs (no cgroup can be reached from there, whatever the runtime did).
#[test]
fn create_and_run_refuse_root_cgroup_paths_in_every_mode() {
    let sb = Sandbox::new();
    let b = sb.bundle("rootcg", &["true"]);
    for mode in ["enforce", "audit", "permissive"] {
        for path in ROOT_SPELLINGS {
            set_cgroups_path(&sb, &b, path);
            for cmd in ["create", "run"] {
                let id = unique("rootcg");
                let mut hardened = sb.hardened_with(mode);
                hardened.args([cmd, "--bundle"]).arg(&b).arg(&id);
                let line = format!(
                    "mount -t tmpfs none /sys/fs/cgroup && exec {}",
                    shell_words(&hardened)
                );
                let out = run_files(
                    &sb,
                    Command::new("timeout").args([
                        "-k",
                        "5",
                        "30",
                        "unshare",
                        "-m",
                        "--propagation",
                        "private",
                        "sh",
                        "-c",
                        &line,
                    ]),
                );
                assert_ne!(out.code, Some(0), "{mode} {cmd} {path:?}: {out:?}");
                assert!(
                    out.stderr.contains("[rule cgroup-path]"),
                    "{mode} {cmd} {path:?}: {out:?}"
                );
                let last = out.stderr.lines().last().unwrap_or_default();
                assert!(last.contains("cgroup-path") && last.len() < 600, "{last}");
                assert_nothing_left(&sb, &id);
            }
        }
    }
}

fn shell_words(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A path that climbs with `..` is refused even when it would resolve to a harmless cgroup (here
/// one of the test's own): straight through `create`, in every mode.
#[test]
fn climbing_cgroup_paths_are_refused_and_leave_nothing() {
    let sb = Sandbox::new();
    let cg = TestCgroup::new("hardened-climb");
    let b = sb.bundle("climb", &["true"]);
    let path = format!(
        "{}/../{}",
        cg.path("a"),
        cg.path("b").trim_start_matches('/')
    );
    set_cgroups_path(&sb, &b, &path);
    for mode in ["enforce", "audit", "permissive"] {
        let id = unique("climb");
        let out = run_files(
            &sb,
            sb.hardened_with(mode)
                .args(["create", "--bundle"])
                .arg(&b)
                .arg(&id),
        );
        assert_ne!(out.code, Some(0), "{mode}: {out:?}");
        assert!(out.stderr.contains("[rule cgroup-path]"), "{mode}: {out:?}");
        assert!(out.stderr.contains("climbs"), "{mode}: {out:?}");
        assert_nothing_left(&sb, &id);
        for h in common::cgroup_hierarchies() {
            let d = h.join(cg.top.trim_start_matches('/'));
            assert!(!d.exists(), "{} was created", d.display());
        }
    }
}

/// The operator's allowed parents confine every container's cgroup.
#[test]
fn allowed_cgroup_parents_are_enforced() {
    let sb = Sandbox::new();
    let cg = TestCgroup::new("hardened-parents");
    let policy = sb.dir.path().join("parents.toml");
    std::fs::write(
        &policy,
        format!(
            "mode = \"permissive\"\nallowed_cgroup_parents = [{:?}]\naudit_log = {:?}\n",
            cg.top,
            sb.audit_log().display().to_string()
        ),
    )
    .expect("policy");
    let b = sb.bundle("parents", &["true"]);
    let hardened = || {
        let mut c = Command::new(common::hardened_bin());
        c.arg("--root").arg(sb.root()).arg("--policy").arg(&policy);
        c
    };
    set_cgroups_path(&sb, &b, &format!("/{}/c", unique("hardened-elsewhere")));
    let id = unique("parents");
    let out = run_files(&sb, hardened().args(["run", "--bundle"]).arg(&b).arg(&id));
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(
        out.stderr.contains("[rule cgroup-path]") && out.stderr.contains("allowed_cgroup_parents"),
        "{out:?}"
    );
    assert_nothing_left(&sb, &id);

    set_cgroups_path(&sb, &b, &cg.path("c"));
    let id = unique("parents");
    let out = run_files(&sb, hardened().args(["run", "--bundle"]).arg(&b).arg(&id));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_nothing_left(&sb, &id);

    // A parent that is a hierarchy root is not a parent.
    std::fs::write(&policy, "allowed_cgroup_parents = [\"/\"]\n").expect("policy");
    let out = run(hardened().args(["policy", "validate"]).arg(&policy));
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("allowed_cgroup_parents"), "{out:?}");
}

/// A container joins a cgroup the test made (pre-existing), a host canary joins the same cgroup,
/// and neither `kill --all` nor `delete --force` reaches it: the container has a PID namespace of
/// its own, and only processes in it are signalled.
#[test]
fn kill_all_and_delete_force_spare_a_canary_in_a_preexisting_cgroup() {
    for mode in ["enforce", "permissive"] {
        let sb = Sandbox::new();
        let cg = TestCgroup::new("hardened-canary");
        cg.make("c");
        let b = sb.bundle("canary", &["sh", "-c", "sleep 300 & sleep 301 & wait"]);
        set_cgroups_path(&sb, &b, &cg.path("c"));
        let id = unique("canary");
        let (init, mut canary) = run_beside_a_canary(&sb, mode, &b, &id, &cg, "c");
        let kids = wait_for_children(init, 2);

        let out = run(sb.hardened_with(mode).args(["kill", "--all", &id, "KILL"]));
        assert!(out.ok(), "{mode}: kill --all: {out:?}");
        wait_until("the container's processes to die", DEADLINE, || {
            !alive(init) && kids.iter().all(|&k| !alive(k))
        });
        canary.assert_alive("kill --all");

        let out = run(sb.hardened_with(mode).args(["delete", "--force", &id]));
        assert!(out.ok(), "{mode}: delete --force: {out:?}");
        canary.assert_alive("delete --force");
        assert_nothing_left(&sb, &id);
        // The pre-existing cgroup stays (runtime.md Delete), with the canary in it.
        let procs = common::cgroup_hierarchies()
            .iter()
            .map(|h| {
                h.join(cg.path("c").trim_start_matches('/'))
                    .join("cgroup.procs")
            })
            .find(|p| p.exists())
            .expect("the cgroup is still there");
        let text = std::fs::read_to_string(procs).expect("procs");
        assert!(
            text.lines().any(|l| l == canary.pid().to_string()),
            "{text}"
        );

        // delete --force of a running container, the canary in the cgroup all along.
        let id = unique("canary2");
        let out = run_files(
            &sb,
            sb.hardened_with(mode)
                .args(["run", "--detach", "--bundle"])
                .arg(&b)
                .arg(&id),
        );
        assert!(out.ok(), "{mode}: run: {out:?}");
        let init = container_pid(&sb, mode, &id);
        let out = run(sb.hardened_with(mode).args(["delete", "--force", &id]));
        assert!(out.ok(), "{mode}: delete --force: {out:?}");
        wait_until("the init to die", DEADLINE, || !alive(init));
        canary.assert_alive("delete --force of a running container");
        assert_nothing_left(&sb, &id);
    }
}

/// A canary moved into a container's own cgroup (made by its create) is not the container's:
/// `kill --all` and `delete --force` leave it alive, and the cgroup it keeps busy stays.
#[test]
fn kill_all_and_delete_force_spare_a_canary_in_the_containers_own_cgroup() {
    let sb = Sandbox::new();
    let cg = TestCgroup::new("hardened-canary-own");
    let b = sb.bundle("own", &["sleep", "300"]);
    set_cgroups_path(&sb, &b, &cg.path("c"));
    let id = unique("own");
    let (init, mut canary) = run_beside_a_canary(&sb, "enforce", &b, &id, &cg, "c");

    let out = run(sb.hardened_enforcing().args(["kill", "--all", &id, "KILL"]));
    assert!(out.ok(), "kill --all: {out:?}");
    wait_until("the init to die", DEADLINE, || !alive(init));
    canary.assert_alive("kill --all");
    let out = run(sb.hardened_enforcing().args(["delete", "--force", &id]));
    assert!(out.ok(), "delete --force: {out:?}");
    canary.assert_alive("delete --force");
    assert_nothing_left(&sb, &id);
}

/// Without a PID namespace of its own, in a cgroup that existed before it, a container's
/// processes cannot be told from the canary's: `kill --all` is refused with a message that says
/// why, and `delete --force` kills only the init `create` recorded.
#[test]
fn kill_all_is_refused_when_the_containers_processes_cannot_be_told_apart() {
    let sb = Sandbox::new();
    let cg = TestCgroup::new("hardened-canary-nopidns");
    cg.make("c");
    let b = sb.bundle("nopidns", &["sleep", "300"]);
    set_cgroups_path(&sb, &b, &cg.path("c"));
    sb.edit_config(&b, "del(.linux.namespaces[] | select(.type == \"pid\"))");
    let id = unique("nopidns");
    let (init, mut canary) = run_beside_a_canary(&sb, "permissive", &b, &id, &cg, "c");

    let out = run(sb.hardened().args(["kill", "--all", &id, "KILL"]));
    assert!(!out.ok(), "kill --all was not refused: {out:?}");
    assert!(
        out.stderr.contains("no PID namespace of its own"),
        "{out:?}"
    );
    assert_eq!(out.stderr.trim().lines().count(), 1, "{out:?}");
    canary.assert_alive("a refused kill --all");
    assert!(alive(init), "a refused kill --all killed the init");

    let out = run(sb.hardened().args(["delete", "--force", &id]));
    assert!(out.ok(), "delete --force: {out:?}");
    wait_until("the init to die", DEADLINE, || !alive(init));
    canary.assert_alive("delete --force");
    assert_nothing_left(&sb, &id);
}

/// `run --detach` the bundle under policy `mode`, then put a canary into the test's cgroup
/// `sub`; returns the container's init and the canary.
fn run_beside_a_canary(
    sb: &Sandbox,
    mode: &str,
    bundle: &Path,
    id: &str,
    cg: &TestCgroup,
    sub: &str,
) -> (i32, Canary) {
    let out = run_files(
        sb,
        sb.hardened_with(mode)
            .args(["run", "--detach", "--bundle"])
            .arg(bundle)
            .arg(id),
    );
    assert!(out.ok(), "{mode}: run: {out:?}");
    let init = container_pid(sb, mode, id);
    let canary = Canary::new();
    cg.enter(sub, canary.pid());
    (init, canary)
}

fn container_pid(sb: &Sandbox, mode: &str, id: &str) -> i32 {
    let out = run(sb.hardened_with(mode).args(["state", id]));
    assert!(out.ok(), "state: {out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("state json");
    v["pid"].as_i64().expect("pid") as i32
}

/// The pids of `n` children of `parent` (once they exist).
fn wait_for_children(parent: i32, n: usize) -> Vec<i32> {
    let mut kids = Vec::new();
    wait_until("the container's children", DEADLINE, || {
        kids = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        kids.len() >= n
    });
    kids
}
