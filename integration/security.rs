//! Security of the runtime itself, observed where an attacker would observe it: from inside real
//! containers and from the real host, never by inspecting the runtime's data structures.
//!
//! Run as root: `cargo test --release --test security -- --test-threads=1`.

mod common;

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{hardened_bin, poll_for, run, Out, Sandbox};

const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn sha256(path: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(path));
    assert!(out.ok(), "sha256sum {}: {out:?}", path.display());
    out.stdout
        .split_whitespace()
        .next()
        .expect("sha256sum output")
        .to_string()
}

/// Everything about a file that a write through `/proc/<pid>/exe` would change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    sha256: String,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
    mode: u32,
}

fn fingerprint(path: &Path) -> Fingerprint {
    let m = fs::metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
    Fingerprint {
        sha256: sha256(path),
        len: m.len(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ctime: (m.ctime(), m.ctime_nsec()),
        ino: m.ino(),
        mode: m.mode(),
    }
}

/// A private copy of the runtime for one test. The shared `target/release/hardened` is rebuilt
/// by other people while the tests run; a copy in the sandbox makes "the host binary is
/// unchanged" a statement about exactly the file this test's runtime processes executed.
/// (Its directory holds nothing else, as the read-only overlay seal expects.)
struct Runtime {
    bin: PathBuf,
    root: PathBuf,
    policy: PathBuf,
    original: Fingerprint,
}

impl Runtime {
    fn new(sb: &Sandbox) -> Self {
        let dir = sb.dir.path().join("bin");
        fs::create_dir_all(&dir).expect("mkdir bin");
        let bin = dir.join("hardened");
        fs::copy(hardened_bin(), &bin).expect("copy the runtime binary");
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).expect("chmod");
        let original = fingerprint(&bin);
        Runtime {
            bin,
            root: sb.root(),
            // The runtime's own defences are tested with the policy out of the way (the
            // attacker needs CAP_SYS_PTRACE, which the default policy would refuse).
            policy: sb.policy("permissive"),
            original,
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root")
            .arg(&self.root)
            .arg("--policy")
            .arg(&self.policy);
        c
    }

    fn assert_untouched(&self) {
        assert_eq!(
            fingerprint(&self.bin),
            self.original,
            "the runtime binary on the host was modified"
        );
    }
}

/// Run a command whose container outlives it (`create`, `run -d`, `exec -d`): its stdio goes to
/// a log file, so waiting for the command never waits for the container.
fn run_logged(cmd: &mut Command, log: &Path) -> Out {
    let f = File::options()
        .create(true)
        .append(true)
        .open(log)
        .expect("open log");
    let status = cmd
        .stdin(Stdio::null())
        .stdout(f.try_clone().expect("dup log"))
        .stderr(f)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    Out {
        code: status.code(),
        stdout: String::new(),
        stderr: fs::read_to_string(log).unwrap_or_default(),
    }
}

fn state(mut cmd: Command, id: &str) -> serde_json::Value {
    let out = run(cmd.args(["state", id]));
    assert!(out.ok(), "state {id}: {out:?}");
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("state {id} JSON: {e}: {out:?}"))
}

fn init_pid(cmd: Command, id: &str) -> i32 {
    state(cmd, id)["pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("container {id} has no pid")) as i32
}

/// Poll `cond` every 10 ms until it returns Some or `timeout` passes.
fn wait_for<T>(what: &str, timeout: Duration, cond: impl FnMut() -> Option<T>) -> T {
    poll_for(timeout, Duration::from_millis(10), cond)
        .unwrap_or_else(|| panic!("timed out after {timeout:?} waiting for {what}"))
}

/// Wait for a file the attacker writes atomically (or, with `newline`, with one `echo`).
fn wait_file(path: &Path, timeout: Duration, newline: bool) -> String {
    wait_for(&format!("{}", path.display()), timeout, || {
        fs::read_to_string(path)
            .ok()
            .filter(|s| !newline || s.ends_with('\n'))
    })
}

/// How the runtime binary behind a process's `/proc/<pid>/exe` is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seal {
    /// A file on a read-only overlayfs mount without an upper layer.
    Overlay,
    /// The fallback: a sealed memfd copy.
    Memfd,
}

impl Seal {
    /// The errors a write through the protected binary may fail with.
    fn expected_errnos(self) -> &'static [i32] {
        match self {
            Seal::Overlay => &[libc::EROFS],
            // Executing: ETXTBSY; afterwards the seals refuse writes and truncation: EPERM.
            Seal::Memfd => &[libc::ETXTBSY, libc::EPERM],
        }
    }

    fn expected_messages(self) -> &'static [&'static str] {
        match self {
            Seal::Overlay => &["Read-only file system"],
            Seal::Memfd => &["Text file busy", "Operation not permitted"],
        }
    }
}

/// Classify the binary a (runtime) process executes, as seen from the host. Panics if it is
/// the host binary itself.
fn seal_of(pid: i32, host_bin: &Path) -> Seal {
    let exe = format!("/proc/{pid}/exe");
    let link = fs::read_link(&exe).unwrap_or_else(|e| panic!("readlink {exe}: {e}"));
    let host = fs::canonicalize(host_bin).expect("canonical host binary");
    assert_ne!(
        link, host,
        "process {pid} executes the host binary {} itself: it is not protected against CVE-2019-5736",
        host.display()
    );
    let f = File::open(&exe).unwrap_or_else(|e| panic!("open {exe}: {e}"));
    if nix::fcntl::fcntl(f.as_raw_fd(), nix::fcntl::FcntlArg::F_GET_SEALS).is_ok() {
        return Seal::Memfd;
    }
    let st = nix::sys::statfs::fstatfs(&f).expect("fstatfs");
    assert_eq!(
        st.filesystem_type().0 as i64,
        OVERLAYFS_SUPER_MAGIC,
        "process {pid}: {exe} -> {} is neither a sealed memfd nor on the read-only overlay",
        link.display()
    );
    Seal::Overlay
}

/// Every way root on the host could write through `path` (a `/proc/<pid>/exe` or a
/// `/proc/self/fd/N` re-open of it). Panics if any write succeeds; returns the errors.
fn try_write_through(path: &Path) -> Vec<(&'static str, std::io::Error)> {
    let mut errors = Vec::new();
    let ways: [(&'static str, fs::OpenOptions); 3] = [
        ("O_WRONLY|O_TRUNC", {
            let mut o = fs::OpenOptions::new();
            o.write(true).truncate(true);
            o
        }),
        ("O_WRONLY", {
            let mut o = fs::OpenOptions::new();
            o.write(true);
            o
        }),
        ("O_RDWR", {
            let mut o = fs::OpenOptions::new();
            o.read(true).write(true);
            o
        }),
    ];
    for (how, opts) in ways {
        match opts.open(path) {
            Ok(mut f) => match f.write(b"PWNED") {
                Ok(n) => panic!(
                    "open({}, {how}) succeeded and wrote {n} bytes: the runtime binary is writable",
                    path.display()
                ),
                Err(e) => errors.push((how, e)),
            },
            Err(e) => errors.push((how, e)),
        }
    }
    errors
}

fn assert_write_refused(path: &Path, seal: Seal, context: &str) {
    for (how, e) in try_write_through(path) {
        let errno = e.raw_os_error().unwrap_or(0);
        assert!(
            seal.expected_errnos().contains(&errno),
            "{context}: open({}, {how}) failed with {e}, expected one of {:?} for a {seal:?} seal",
            path.display(),
            seal.expected_errnos()
        );
    }
}

/// Wait until a freshly spawned runtime process has re-executed itself from its protected copy
/// (its exe is neither the test binary that forked it nor the host runtime binary).
fn wait_reexecuted(child: &mut Child, host_bin: &Path, err_log: &Path) -> i32 {
    let pid = child.id() as i32;
    let me = std::env::current_exe().expect("current exe");
    let host = fs::canonicalize(host_bin).expect("canonical host binary");
    wait_for(
        &format!("runtime process {pid} to re-execute"),
        Duration::from_secs(10),
        || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "runtime process {pid} exited ({status}) before it could be observed; its stderr:\n{}",
                    fs::read_to_string(err_log).unwrap_or_default()
                );
            }
            let link = fs::read_link(format!("/proc/{pid}/exe")).ok()?;
            (link != me && link != host).then_some(pid)
        },
    )
}

/// Entries left under a state root: everything except an empty `.bundles`.
fn leftovers(root: &Path) -> Vec<String> {
    let mut left = Vec::new();
    let Ok(entries) = fs::read_dir(root) else {
        return left;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == ".bundles" {
            for b in fs::read_dir(e.path()).into_iter().flatten().flatten() {
                left.push(format!(".bundles/{}", b.file_name().to_string_lossy()));
            }
        } else {
            left.push(name);
        }
    }
    left
}

fn dir_listing(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Cgroup directories (up to 4 levels deep) under `hierarchy` whose name contains `needle`.
fn cgroups_named(hierarchy: &Path, needle: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, needle: &str, depth: u32, found: &mut Vec<PathBuf>) {
        for e in fs::read_dir(dir).into_iter().flatten().flatten() {
            if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            let p = e.path();
            if e.file_name().to_string_lossy().contains(needle) {
                found.push(p.clone());
            }
            if depth > 1 {
                walk(&p, needle, depth - 1, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(hierarchy, needle, 4, &mut found);
    found
}

/// Processes (other than this one) whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) || name == me {
            continue;
        }
        if let Ok(raw) = fs::read(e.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(format!("{name}: {cmdline}"));
            }
        }
    }
    found
}

/// fd numbers listed by `ls -l /proc/<pid>/fd` output (lines `... N -> target`).
fn fds_in_ls(out: &str) -> BTreeSet<i32> {
    out.lines()
        .filter_map(|l| {
            let (left, _) = l.split_once(" -> ")?;
            left.split_whitespace().last()?.parse().ok()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. CVE-2019-5736: the runtime binary cannot be overwritten through /proc/<pid>/exe
// ---------------------------------------------------------------------------------------------

/// Host side, the strongest attacker there is: root with every capability tries to open the
/// `/proc/<pid>/exe` of runtime processes for writing, on each path that puts a process into a
/// container (create: the init waiting for `start`; run and exec: the runtime process waiting
/// for the container's process). It also keeps a read-only handle across `start` and re-opens
/// it for writing once the runtime no longer executes there (so an unprotected binary would not
/// be "text busy" any more), which is how the CVE-2019-5736 exploit got its write through.
#[test]
fn cve_2019_5736_host_root_cannot_write_runtime_exe() {
    let sb = Sandbox::new();
    let rt = Runtime::new(&sb);
    let log = sb.dir.path().join("runtime.log");
    let bundle = sb.bundle("victim", &["sleep", "300"]);
    sb.edit_config(&bundle, ".root.readonly = false");

    // create: the init is the runtime, waiting in the container's namespaces for `start`.
    let out = run_logged(
        rt.cmd()
            .args(["create", "-b"])
            .arg(&bundle)
            .arg("victim-exe"),
        &log,
    );
    assert!(out.ok(), "create: {out:?}");
    let pid = init_pid(rt.cmd(), "victim-exe");
    let seal = seal_of(pid, &rt.bin);
    eprintln!("the created init {pid} runs the runtime from a {seal:?} seal");
    let exe = PathBuf::from(format!("/proc/{pid}/exe"));
    assert_write_refused(&exe, seal, "created init");

    // The attacker's trick: hold the binary open, wait until the runtime stops executing it.
    let held = File::open(&exe).expect("open the init's exe read-only");
    let via_fd = PathBuf::from(format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        held.as_raw_fd()
    ));
    assert_eq!(
        sha256(&via_fd),
        rt.original.sha256,
        "the handle on the created init's exe is not the runtime binary"
    );
    let out = run(rt.cmd().args(["start", "victim-exe"]));
    assert!(out.ok(), "start: {out:?}");
    wait_for(
        "the init to exec the container's process",
        Duration::from_secs(10),
        || {
            let link = fs::read_link(&exe).ok()?;
            link.ends_with("bin/busybox").then_some(())
        },
    );
    assert_write_refused(&via_fd, seal, "held handle after start");
    drop(held);

    // run (foreground): the runtime process waits on the host for the container's process.
    // Container ids are unique across the tests of this file: without a cgroupsPath,
    // libcontainer names the cgroup after the id alone, and tests run in parallel.
    let fg = sb.bundle("fg", &["sleep", "2"]);
    let mut child = rt
        .cmd()
        .args(["run", "-b"])
        .arg(&fg)
        .arg("fg")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(sb.dir.path().join("run.err")).expect("run.err"))
        .spawn()
        .expect("spawn run");
    let pid = wait_reexecuted(&mut child, &rt.bin, &sb.dir.path().join("run.err"));
    let seal = seal_of(pid, &rt.bin);
    assert_write_refused(Path::new(&format!("/proc/{pid}/exe")), seal, "run");
    assert!(child.wait().expect("wait run").success(), "run failed");

    // exec: the runtime process waits on the host for the exec'd process.
    let mut child = rt
        .cmd()
        .args(["exec", "victim-exe", "sleep", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(sb.dir.path().join("exec.err")).expect("exec.err"))
        .spawn()
        .expect("spawn exec");
    let pid = wait_reexecuted(&mut child, &rt.bin, &sb.dir.path().join("exec.err"));
    let seal = seal_of(pid, &rt.bin);
    assert_write_refused(Path::new(&format!("/proc/{pid}/exe")), seal, "exec");
    assert!(child.wait().expect("wait exec").success(), "exec failed");

    let out = run(rt.cmd().args(["delete", "--force", "victim-exe"]));
    assert!(out.ok(), "delete: {out:?}");
    rt.assert_untouched();
}

/// The attacker. It runs as root in a container that shares the pid namespace of a victim
/// container (as the containers of a Kubernetes pod with shareProcessNamespace do) and holds
/// CAP_SYS_PTRACE (granted for debuggers and profilers): libcontainer makes runtime processes
/// non-dumpable, so without CAP_SYS_PTRACE their `/proc/<pid>/exe` cannot even be opened from a
/// container, and the seal would never be put to the test. Its rootfs is writable.
///
/// It does what the CVE-2019-5736 exploit does: get a handle on the runtime binary through
/// `/proc/<pid>/exe` of a runtime process in its pid namespace, keep it, and once the runtime no
/// longer executes that file (so an unprotected binary is no longer "text busy"), re-open the
/// handle for writing through `/proc/self/fd/3` and overwrite it. Against an unprotected runtime
/// this replaces the host's runtime binary (the control round below shows the mechanics work on
/// an ordinary host binary); against ours the file behind the handle has no writable layer.
///
/// Protocol with the test, through files in /out (written atomically with mv, except
/// `armed.N`, which is written by the shell without forking so that the pid it names stays the
/// next one to be allocated):
/// - scenario "created": pid 1 is the victim's init, still the runtime waiting for `start`.
/// - rounds N = 1, 2, ...: on `arm.N`, learn the next pid of the namespace, publish it in
///   `armed.N` and spin (shell builtins only: no fork, no pid used) until `/proc/<pid>/exe` opens
///   as fd 3; report `caught.N` (1 or 0), then on `go.N` write and report `done.N`.
const ATTACKER: &str = r#"
cd /out || exit 1
printf PWNED > payload
attack() {
  { printf PWNED > /proc/self/fd/3; } 2> "w.$1"; echo "rc=$?" >> "w.$1"
  dd if=payload of=/proc/self/fd/3 conv=notrunc 2>> "w.$1"; echo "rc=$?" >> "w.$1"
}
signal() { echo "$2" > "$1.tmp"; mv "$1.tmp" "$1"; }
await() { while [ ! -e "$1" ]; do sleep 0.02; done; }

readlink /proc/1/exe > link.created 2>&1
sha256sum /proc/1/exe > sha.created 2>&1
{ printf PWNED > /proc/1/exe; } 2> w.direct; echo "rc=$?" >> w.direct
if command exec 3</proc/1/exe; then signal caught.created 1; else signal caught.created 0; fi
await go.created
attack created
exec 3<&-
signal done.created 1

round=0
while :; do
  round=$((round+1))
  await arm.$round
  : & last=$!
  wait
  n=$((last+1))
  echo $n > armed.$round
  k=0
  while [ $k -lt 3000000 ] && ! command exec 3</proc/$n/exe; do k=$((k+1)); done 2>/dev/null
  if [ $k -lt 3000000 ]; then
    readlink /proc/self/fd/3 > link.$round 2>&1
    sha256sum /proc/self/fd/3 > sha.$round 2>&1
    signal caught.$round 1
    await go.$round
    attack $round
    exec 3<&-
  else
    signal caught.$round 0
  fi
  signal done.$round 1
done
"#;

/// What the attacker got in one round.
struct Capture {
    link: String,
    sha256: String,
    writes: String,
}

/// Result lines `rc=N` of the attacker's write attempts.
fn write_codes(writes: &str) -> Vec<i32> {
    writes
        .lines()
        .filter_map(|l| l.strip_prefix("rc=")?.trim().parse().ok())
        .collect()
}

/// One round: arm the attacker, run `action` (which makes a process appear in the attacker's
/// pid namespace and waits for it to finish), then let the attacker write.
fn attack_round(out: &Path, round: u32, action: impl FnOnce()) -> Option<Capture> {
    let t = Duration::from_secs(60);
    fs::write(out.join(format!("arm.{round}")), "").expect("arm");
    wait_file(&out.join(format!("armed.{round}")), t, true);
    action();
    let caught = wait_file(&out.join(format!("caught.{round}")), t, false);
    let capture = if caught.trim() == "1" {
        fs::write(out.join(format!("go.{round}")), "").expect("go");
        Some(())
    } else {
        None
    };
    wait_file(&out.join(format!("done.{round}")), t, false);
    capture.map(|()| Capture {
        link: fs::read_to_string(out.join(format!("link.{round}"))).unwrap_or_default(),
        sha256: fs::read_to_string(out.join(format!("sha.{round}")))
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        writes: fs::read_to_string(out.join(format!("w.{round}"))).unwrap_or_default(),
    })
}

#[test]
fn cve_2019_5736_container_cannot_overwrite_runtime() {
    let sb = Sandbox::new();
    let rt = Runtime::new(&sb);
    let log = sb.dir.path().join("runtime.log");

    // The victim: created, not started, so its init is the runtime.
    let victim = sb.bundle("victim", &["sleep", "300"]);
    sb.edit_config(&victim, ".root.readonly = false");
    let out = run_logged(
        rt.cmd().args(["create", "-b"]).arg(&victim).arg("victim"),
        &log,
    );
    assert!(out.ok(), "create victim: {out:?}");
    let victim_pid = init_pid(rt.cmd(), "victim");
    let seal = seal_of(victim_pid, &rt.bin);
    eprintln!("runtime processes run from a {seal:?} seal");

    // The attacker, in the victim's pid namespace.
    let attacker = sb.bundle("attacker", &["sh", "/attack.sh"]);
    sb.edit_config(
        &attacker,
        &format!(
            ".root.readonly = false \
             | (.linux.namespaces[] | select(.type == \"pid\")) |= {{type: \"pid\", path: \"/proc/{victim_pid}/ns/pid\"}} \
             | .process.capabilities |= with_entries(.value += [\"CAP_SYS_PTRACE\"])"
        ),
    );
    fs::write(attacker.join("rootfs/attack.sh"), ATTACKER).expect("write attack.sh");
    let out_dir = attacker.join("rootfs/out");
    fs::create_dir_all(&out_dir).expect("mkdir out");
    let attacker_log = sb.dir.path().join("attacker.log");
    let out = run_logged(
        rt.cmd()
            .args(["run", "-d", "-b"])
            .arg(&attacker)
            .arg("attacker"),
        &attacker_log,
    );
    assert!(out.ok(), "run attacker: {out:?}");
    let attacker_pid = init_pid(rt.cmd(), "attacker");
    let t = Duration::from_secs(60);
    let diag = || fs::read_to_string(&attacker_log).unwrap_or_default();

    // Scenario "created": the victim's init is the runtime, waiting for `start`.
    let caught = wait_file(&out_dir.join("caught.created"), t, false);
    let link = fs::read_to_string(out_dir.join("link.created")).unwrap_or_default();
    let sha = fs::read_to_string(out_dir.join("sha.created")).unwrap_or_default();
    let direct = fs::read_to_string(out_dir.join("w.direct")).unwrap_or_default();
    assert_eq!(
        caught.trim(),
        "1",
        "the attacker could not open the created init's exe: {link} {sha} {}",
        diag()
    );
    assert!(
        sha.starts_with(&rt.original.sha256),
        "the attacker's handle on /proc/1/exe is not the runtime binary: {sha} (link {link})"
    );
    assert_ne!(
        link.trim(),
        rt.bin.to_string_lossy(),
        "/proc/1/exe names the host binary"
    );
    assert!(
        write_codes(&direct).iter().all(|&c| c != 0)
            && seal.expected_messages().iter().any(|m| direct.contains(m)),
        "writing /proc/1/exe of the created init: {direct}"
    );
    let out = run(rt.cmd().args(["start", "victim"]));
    assert!(out.ok(), "start victim: {out:?}");
    wait_for(
        "the victim's init to exec its process",
        Duration::from_secs(10),
        || {
            let link = fs::read_link(format!("/proc/{victim_pid}/exe")).ok()?;
            link.ends_with("bin/busybox").then_some(())
        },
    );
    fs::write(out_dir.join("go.created"), "").expect("go");
    wait_file(&out_dir.join("done.created"), t, false);
    let writes = fs::read_to_string(out_dir.join("w.created")).unwrap_or_default();
    let codes = write_codes(&writes);
    assert!(
        codes.len() == 2 && codes.iter().all(|&c| c != 0),
        "the attacker wrote through its handle on the runtime after start: {writes}"
    );
    assert!(
        seal.expected_messages().iter().any(|m| writes.contains(m)),
        "unexpected errors writing through the held handle: {writes}"
    );
    rt.assert_untouched();

    // Control round: the same attack against an ordinary host binary succeeds. A copy of
    // nsenter enters the attacker's pid namespace and runs a copy of sleep; the attacker catches
    // whichever of the two copies the new process executes and overwrites it.
    let control_dir = sb.dir.path().join("control");
    fs::create_dir_all(&control_dir).expect("mkdir control");
    let nsenter = control_dir.join("nsenter");
    let sleep = control_dir.join("sleep");
    for (copy, orig) in [(&nsenter, "nsenter"), (&sleep, "sleep")] {
        let which = run(Command::new("sh").args(["-c", &format!("command -v {orig}")]));
        assert!(which.ok(), "{orig} not found on the host: {which:?}");
        fs::copy(which.stdout.trim(), copy).expect("copy control binary");
    }
    let before = (fingerprint(&nsenter), fingerprint(&sleep));
    let control = attack_round(&out_dir, 1, || {
        let out = run(Command::new(&nsenter)
            .arg("-t")
            .arg(attacker_pid.to_string())
            .args(["-p", "--"])
            .arg(&sleep)
            .arg("0.2"));
        assert!(out.ok(), "nsenter: {out:?}");
    })
    .unwrap_or_else(|| panic!("control round: the attacker caught nothing: {}", diag()));
    let after = (fingerprint(&nsenter), fingerprint(&sleep));
    assert!(
        write_codes(&control.writes).contains(&0) && before != after,
        "control round: the attack did not work against an unprotected binary ({}): {}",
        control.link.trim(),
        control.writes
    );
    eprintln!(
        "control: the attacker overwrote the unprotected {}",
        control.link.trim()
    );

    // Exec path: `hardened exec` into the attacker's container. The attacker catches the exec'd
    // runtime process (the init that joins the container, before it executes the command).
    let mut caught_runtime = 0;
    for round in 2..=4 {
        let capture = attack_round(&out_dir, round, || {
            let out = run(rt.cmd().args(["exec", "attacker", "true"]));
            assert!(out.ok(), "exec: {out:?}");
        });
        let Some(c) = capture else {
            eprintln!("exec round {round}: the attacker caught nothing");
            continue;
        };
        if c.sha256 != rt.original.sha256 {
            eprintln!(
                "exec round {round}: caught {} (not the runtime), ignored",
                c.link.trim()
            );
            continue;
        }
        caught_runtime += 1;
        assert_ne!(c.link.trim(), rt.bin.to_string_lossy());
        let codes = write_codes(&c.writes);
        assert!(
            codes.len() == 2 && codes.iter().all(|&code| code != 0),
            "exec round {round}: the attacker wrote through its handle on the runtime: {}",
            c.writes
        );
        assert!(
            seal.expected_messages()
                .iter()
                .any(|m| c.writes.contains(m)),
            "exec round {round}: unexpected errors: {}",
            c.writes
        );
        rt.assert_untouched();
    }
    assert!(
        caught_runtime > 0,
        "inconclusive: the attacker never caught an exec'd runtime process: {}",
        diag()
    );
    eprintln!("exec path: the attacker held the runtime binary {caught_runtime} time(s) of 3, every write refused");

    fs::write(out_dir.join("stop"), "").ok();
    for id in ["attacker", "victim"] {
        let out = run(rt.cmd().args(["delete", "--force", id]));
        assert!(out.ok(), "delete {id}: {out:?}");
    }
    rt.assert_untouched();
}

// ---------------------------------------------------------------------------------------------
// 2. No host file descriptor leaks into a container
// ---------------------------------------------------------------------------------------------

const LEAKED_FDS: [RawFd; 3] = [5, 7, 9];

/// Make `cmd`'s child inherit `file` as fds 5, 7 and 9, without close-on-exec.
fn leak_into(cmd: &mut Command, file: &File) {
    let fd = file.as_raw_fd();
    // SAFETY: the closure runs in the forked child before exec; it only calls dup2, which is
    // async-signal-safe, and allocates nothing (an Errno becomes an io::Error without
    // allocating).
    unsafe {
        cmd.pre_exec(move || {
            for target in LEAKED_FDS {
                nix::unistd::dup2(fd, target)?;
            }
            Ok(())
        });
    }
}

/// A shell that lists its own descriptors (from a child `ls`, so that the listing's own
/// directory descriptor is not among them).
const LIST_OWN_FDS: [&str; 3] = ["sh", "-c", "ls -l /proc/$$/fd; true"];

#[test]
fn no_host_fd_leaks_into_containers() {
    let sb = Sandbox::new();
    let secret = sb.dir.path().join("host-secret");
    fs::write(&secret, "host secret").expect("write secret");
    let file = File::options()
        .read(true)
        .write(true)
        .open(&secret)
        .expect("open secret");

    // The set-up does leak: a host process started the same way sees 5, 7 and 9.
    let mut host = Command::new("sh");
    host.args(["-c", "ls -l /proc/$$/fd; true"]);
    leak_into(&mut host, &file);
    let out = run(&mut host);
    let fds = fds_in_ls(&out.stdout);
    assert!(
        LEAKED_FDS.iter().all(|fd| fds.contains(fd)),
        "the test set-up does not leak fds into a host process: {out:?}"
    );

    // run
    let bundle = sb.bundle("lister", &LIST_OWN_FDS);
    let mut cmd = sb.hardened();
    cmd.args(["run", "-b"]).arg(&bundle).arg("lister");
    leak_into(&mut cmd, &file);
    let out = run(&mut cmd);
    assert!(out.ok(), "run: {out:?}");
    assert_eq!(
        fds_in_ls(&out.stdout),
        BTreeSet::from([0, 1, 2]),
        "descriptors of the container's process (run): {out:?}"
    );
    assert!(!out.stdout.contains("host-secret"), "{out:?}");

    // exec
    let sleeper = sb.bundle("sleeper", &["sleep", "300"]);
    let log = sb.dir.path().join("sleeper.log");
    let o = run_logged(
        sb.hardened()
            .args(["run", "-d", "-b"])
            .arg(&sleeper)
            .arg("sleeper"),
        &log,
    );
    assert!(o.ok(), "run -d: {o:?}");
    let mut cmd = sb.hardened();
    cmd.args(["exec", "sleeper"]).args(LIST_OWN_FDS);
    leak_into(&mut cmd, &file);
    let out = run(&mut cmd);
    assert!(out.ok(), "exec: {out:?}");
    assert_eq!(
        fds_in_ls(&out.stdout),
        BTreeSet::from([0, 1, 2]),
        "descriptors of the exec'd process: {out:?}"
    );
    assert!(!out.stdout.contains("host-secret"), "{out:?}");

    // exec --detach: the exec'd process outlives the runtime; look at it from another exec.
    let mut cmd = sb.hardened();
    cmd.args(["exec", "-d", "sleeper", "sleep", "300"]);
    leak_into(&mut cmd, &file);
    let o = run_logged(&mut cmd, &log);
    assert!(o.ok(), "exec -d: {o:?}");
    let out = run(sb.hardened().args([
        "exec",
        "sleeper",
        "sh",
        "-c",
        "for p in /proc/[0-9]*; do [ \"$(cat $p/comm)\" = sleep ] && ls -l $p/fd; done; true",
    ]));
    assert!(out.ok(), "exec (inspect): {out:?}");
    assert!(
        !out.stdout.contains("host-secret") && fds_in_ls(&out.stdout).iter().all(|fd| *fd <= 2),
        "descriptors of the container's sleep processes: {out:?}"
    );

    let out = run(sb.hardened().args(["delete", "--force", "sleeper"]));
    assert!(out.ok(), "delete: {out:?}");
}

// ---------------------------------------------------------------------------------------------
// 3. CVE-2024-21626: process.cwd under /proc/<pid>/fd is refused
// ---------------------------------------------------------------------------------------------

const BAD_CWDS: [&str; 5] = [
    "/proc/self/fd/5",
    "/proc/thread-self/fd/5",
    "/proc/1/fd/5",
    "/proc/self/fd/5/..",
    "/tmp/../proc/self/fd/7",
];

#[test]
fn cve_2024_21626_cwd_in_proc_fd_is_refused() {
    let sb = Sandbox::new();
    let bundle = sb.bundle("b", &["true"]);
    for (i, cwd) in BAD_CWDS.iter().enumerate() {
        sb.edit_config(
            &bundle,
            &format!(".process.cwd = {}", serde_json::json!(cwd)),
        );
        for command in ["create", "run"] {
            let id = format!("cwd-{command}-{i}");
            let log = sb.dir.path().join(format!("{id}.log"));
            let out = run_logged(
                sb.hardened().args([command, "-b"]).arg(&bundle).arg(&id),
                &log,
            );
            assert!(
                !out.ok() && out.stderr.contains("CVE-2024-21626"),
                "{command} with process.cwd {cwd}: {out:?}"
            );
            assert_eq!(
                leftovers(&sb.root()),
                Vec::<String>::new(),
                "{command} with process.cwd {cwd} left state behind"
            );
            assert!(processes_mentioning(&id).is_empty());
        }
    }

    // exec --cwd and exec --process into a running container.
    sb.edit_config(
        &bundle,
        ".process.cwd = \"/\" | .process.args = [\"sleep\", \"300\"]",
    );
    let log = sb.dir.path().join("target.log");
    let out = run_logged(
        sb.hardened()
            .args(["run", "-d", "-b"])
            .arg(&bundle)
            .arg("target"),
        &log,
    );
    assert!(out.ok(), "run -d: {out:?}");
    let dir = sb.root().join("target");
    let before = dir_listing(&dir);
    let process_json = sb.dir.path().join("process.json");
    for cwd in BAD_CWDS {
        let out = run(sb.hardened().args(["exec", "--cwd", cwd, "target", "true"]));
        assert!(
            !out.ok() && out.stderr.contains("CVE-2024-21626"),
            "exec --cwd {cwd}: {out:?}"
        );
        let jq = run(Command::new("jq")
            .args([
                "--arg",
                "cwd",
                cwd,
                ".process | .cwd = $cwd | .args = [\"true\"] | .terminal = false",
            ])
            .arg(bundle.join("config.json")));
        assert!(jq.ok(), "jq: {jq:?}");
        fs::write(&process_json, &jq.stdout).expect("write process.json");
        let out = run(sb
            .hardened()
            .args(["exec", "--process"])
            .arg(&process_json)
            .arg("target"));
        assert!(
            !out.ok() && out.stderr.contains("CVE-2024-21626"),
            "exec --process with cwd {cwd}: {out:?}"
        );
        assert_eq!(
            dir_listing(&dir),
            before,
            "a refused exec (cwd {cwd}) left files in the container's state dir"
        );
    }
    // The container is untouched: still running, and only its own process is in it.
    let st = state(sb.hardened(), "target");
    assert_eq!(st["status"], "running", "{st}");
    let out = run(sb.hardened().args([
        "exec",
        "target",
        "sh",
        "-c",
        "cat /proc/[0-9]*/comm | sort | tr '\\n' ' '",
    ]));
    assert!(out.ok(), "{out:?}");
    assert_eq!(
        out.stdout
            .split_whitespace()
            .filter(|c| *c == "sleep")
            .count(),
        1,
        "processes in the container: {out:?}"
    );
    let out = run(sb.hardened().args(["delete", "--force", "target"]));
    assert!(out.ok(), "delete: {out:?}");
}

// ---------------------------------------------------------------------------------------------
// 4. Stdio that is a device is never chowned
// ---------------------------------------------------------------------------------------------

/// (uid, gid, mode including the file type) of an open file.
fn owner_mode(f: &impl AsRawFd) -> (u32, u32, u32) {
    let st = nix::sys::stat::fstat(f.as_raw_fd()).expect("fstat");
    (st.st_uid, st.st_gid, st.st_mode)
}

#[test]
fn device_stdio_is_never_chowned() {
    let sb = Sandbox::new();
    // Every write is checked: a failed echo exits non-zero.
    let bundle = sb.bundle(
        "user",
        &[
            "sh",
            "-c",
            "echo out || exit 3; echo err >&2 || exit 4; exit 0",
        ],
    );
    sb.edit_config(&bundle, ".process.user = {uid: 1000, gid: 1000}");

    let null = || {
        File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .expect("open /dev/null")
    };
    let dev_null = null();
    let before = owner_mode(&dev_null);
    assert_eq!(
        before,
        (0, 0, libc::S_IFCHR | 0o666),
        "the host's /dev/null is not root:root 0666 before the test"
    );
    let status = sb
        .hardened()
        .args(["run", "-b"])
        .arg(&bundle)
        .arg("devnull")
        .stdin(null())
        .stdout(null())
        .stderr(null())
        .status()
        .expect("run");
    assert_eq!(
        status.code(),
        Some(0),
        "a uid 1000 container could not write to its /dev/null stdio"
    );
    assert_eq!(
        owner_mode(&dev_null),
        before,
        "the host's /dev/null changed owner or mode"
    );

    // A pseudo-terminal (a device the caller owns) passed as stdio.
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave = File::from(pty.slave);
    let before = owner_mode(&slave);
    let mut cmd = sb.hardened();
    cmd.args(["run", "-b"])
        .arg(&bundle)
        .arg("pty")
        .stdin(null())
        .stdout(slave.try_clone().expect("dup"))
        .stderr(slave.try_clone().expect("dup"));
    let status = cmd.status().expect("run");
    assert_eq!(
        status.code(),
        Some(0),
        "the container could not write to its pty stdio"
    );
    assert_eq!(
        owner_mode(&slave),
        before,
        "the pty given as stdio changed owner or mode"
    );
    drop(pty.master);
    assert_eq!(leftovers(&sb.root()), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// 5. `run` never hangs
// ---------------------------------------------------------------------------------------------

#[test]
fn run_never_hangs() {
    const RUNS: u32 = 2000;
    const WATCHDOG: Duration = Duration::from_secs(20);
    let sb = Sandbox::new();
    let bundle = sb.bundle("true", &["true"]);
    let log = sb.dir.path().join("run.log");
    let prefix = format!("hang-{}-", std::process::id());
    let started = Instant::now();
    for i in 0..RUNS {
        let id = format!("{prefix}{i}");
        let f = File::create(&log).expect("log");
        let mut child = sb
            .hardened()
            .args(["run", "-b"])
            .arg(&bundle)
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup"))
            .stderr(f)
            .spawn()
            .expect("spawn run");
        let status = poll_for(WATCHDOG, Duration::from_millis(2), || {
            child.try_wait().expect("try_wait")
        })
        .unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            let _ = run(sb.hardened().args(["delete", "--force", &id]));
            panic!(
                "run #{i} ({id}) hung for {WATCHDOG:?}: {}",
                fs::read_to_string(&log).unwrap_or_default()
            );
        });
        assert!(
            status.success(),
            "run #{i} ({id}) exited with {status}: {}",
            fs::read_to_string(&log).unwrap_or_default()
        );
        if (i + 1) % 250 == 0 {
            eprintln!(
                "run_never_hangs: {} runs in {:.1?}",
                i + 1,
                started.elapsed()
            );
        }
    }
    assert_eq!(leftovers(&sb.root()), Vec::<String>::new());
    for h in ["pids", "memory"] {
        let left = cgroups_named(&Path::new("/sys/fs/cgroup").join(h), &prefix);
        assert!(left.is_empty(), "cgroups left behind: {left:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 6. A failing create leaves nothing behind
// ---------------------------------------------------------------------------------------------

fn mountinfo() -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn failing_create_leaves_nothing() {
    let sb = Sandbox::new();
    let bundle = sb.bundle("broken", &["true"]);
    let missing = sb.dir.path().join("does-not-exist");
    sb.edit_config(
        &bundle,
        &format!(
            ".mounts += [{{destination: \"/mnt/x\", type: \"bind\", source: {}, options: [\"rbind\"]}}]",
            serde_json::json!(missing)
        ),
    );
    let id = format!("broken-{}", std::process::id());
    let sandbox_path = sb.dir.path().to_string_lossy().into_owned();
    let mounts_before = mountinfo();
    let cgroup_hierarchies = ["pids", "memory"].map(|h| Path::new("/sys/fs/cgroup").join(h));
    for h in &cgroup_hierarchies {
        assert!(cgroups_named(h, &id).is_empty());
    }

    for command in ["create", "run"] {
        let log = sb.dir.path().join(format!("{command}.log"));
        let out = run_logged(
            sb.hardened().args([command, "-b"]).arg(&bundle).arg(&id),
            &log,
        );
        assert!(
            !out.ok(),
            "{command} with a missing bind source succeeded: {out:?}"
        );
        assert!(
            out.stderr.contains("does-not-exist") || out.stderr.contains("rootfs"),
            "{command} failed for another reason than the mount: {out:?}"
        );

        assert_eq!(
            leftovers(&sb.root()),
            Vec::<String>::new(),
            "{command}: state left"
        );
        assert!(!sb.root().join(&id).exists());
        assert!(!sb.root().join(".bundles").join(&id).exists());
        let st = run(sb.hardened().args(["state", &id]));
        assert!(!st.ok(), "{command}: state still knows {id}: {st:?}");
        for h in &cgroup_hierarchies {
            let left = cgroups_named(h, &id);
            assert!(left.is_empty(), "{command}: cgroups left behind: {left:?}");
        }
        let procs = wait_for(
            "the failed container's processes to go",
            Duration::from_secs(5),
            || {
                let p = processes_mentioning(&id);
                p.is_empty().then_some(p)
            },
        );
        assert!(procs.is_empty());

        // Mounts: the count must come back to what it was. Other people use this machine in
        // parallel, so a difference is only blamed on us if a new mount mentions the sandbox.
        let after = wait_for_mounts(&mounts_before);
        let added: Vec<&String> = after
            .iter()
            .filter(|l| !mounts_before.contains(l))
            .collect();
        let ours: Vec<&&String> = added
            .iter()
            .filter(|l| l.contains(&sandbox_path) || l.contains(&id))
            .collect();
        assert!(ours.is_empty(), "{command}: mounts left behind: {ours:#?}");
        if after.len() != mounts_before.len() {
            eprintln!(
                "note: the mount count changed {} -> {} for reasons outside this test: {added:#?}",
                mounts_before.len(),
                after.len()
            );
        }
    }
}

/// Current mountinfo, given up to 2 s to return to `before`'s length.
fn wait_for_mounts(before: &[String]) -> Vec<String> {
    let mut now = Vec::new();
    let _ = poll_for(Duration::from_secs(2), Duration::from_millis(50), || {
        now = mountinfo();
        (now.len() == before.len()).then_some(())
    });
    now
}
