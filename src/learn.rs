//! Learn mode, the runtime's side: record what a container uses, and write a least-privilege
//! profile of it when the container is deleted.
//!
//! The policy side (`mode = "learn"`, what such a container gets) is in `crate::policy`. Here:
//!
//! 1. [`begin`] (end of `create`): a recorder process of our own (`hardened __learn-record ID`,
//!    detached, outside the container) makes a trace instance for the container (`crate::trace`)
//!    that follows its init and every process forked from it (`options/event-fork`), with the
//!    events `capability:cap_capable` (every capability check: which, and whether granted),
//!    `raw_syscalls:sys_enter` (the system calls; those that switch users and groups with their
//!    arguments), `sched:sched_process_exec` (to tell the runtime's own set-up, before the init
//!    execs the user's program, from the program), `sched:sched_process_fork` and
//!    `task:task_rename` (which program made a switch). `create` returns only once the recorder
//!    is ready, so nothing the program does is missed.
//! 2. The recorder reads the events as they come ([`record`]), and when the container's init
//!    exits it writes what it saw (`record.json`), removes the instance and exits.
//! 3. [`conclude`] (`delete`): waits for the record, adds the paths the container wrote in its
//!    root filesystem (the overlay's upper directory, or files changed since `create`), and writes
//!    the profile into the policy's `learn_dir`: `NAME.toml` (`[profiles.NAME]`),
//!    `NAME.seccomp.json` (the system calls seen) and `NAME.learned.json` (the evidence).
//!
//! The state of a learning container is `<root>/.learn/<id>/`: `start.json` (written by
//! `create`), `record.json` (by the recorder), `recorder.err` (the recorder's failure, if any).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::trace::{self, Tracefs};

/// The annotation that names the learned profile (else the CRI container name, else the
/// container's short id).
pub const NAME_ANNOTATION: &str = "io.hardened.learn";
const CRI_CONTAINER_NAME: &str = "io.kubernetes.cri.container-name";
/// The hidden command that runs the recorder.
pub const RECORD_COMMAND: &str = "__learn-record";
/// The recorder's per-CPU trace buffer (KiB): room for the bursts of a start-up between reads.
const BUFFER_KB: &str = "2048";
/// How long `create` waits for the recorder to be ready, and `delete` for its record.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
const RECORD_TIMEOUT: Duration = Duration::from_secs(10);
/// The events the recorder needs.
pub const EVENTS: [&str; 5] = [
    "capability/cap_capable",
    "raw_syscalls/sys_enter",
    "sched/sched_process_exec",
    "sched/sched_process_fork",
    // The name a process has at each moment (exec and prctl(PR_SET_NAME) rename it): a line's
    // comm is the one its pid has when the line is read.
    "task/task_rename",
];
/// At most this many entries of the root filesystem are looked at for writes.
const WALK_LIMIT: usize = 500_000;

/// What `create` tells the recorder and `delete`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Start {
    pub id: String,
    /// The learned profile's name.
    pub name: String,
    /// Where the profile goes (the policy's `learn_dir`).
    pub learn_dir: PathBuf,
    /// The policy's audit log, for the record of what was learned.
    pub audit_log: PathBuf,
    pub init_pid: i32,
    pub init_starttime: u64,
    /// The root filesystem on the host, and the overlay's upper directory when it is one.
    pub rootfs: PathBuf,
    pub upperdir: Option<PathBuf>,
    /// The scratch mounts the container has (writes there are not the root filesystem's).
    pub scratch_mounts: Vec<PathBuf>,
    /// The end of `create`, in nanoseconds since the Unix epoch: what changed before is the
    /// set-up's (mount points), not the program's.
    pub started_ns: u64,
    /// The recorder (pid, starttime).
    pub recorder: Option<(i32, u64)>,
}

#[cfg(test)]
impl Start {
    /// A container `abc` learned as profile `name`, with these scratch mounts; every path is
    /// one that does not exist (nothing is read or written through it).
    pub fn for_test(name: &str, scratch_mounts: &[&str]) -> Start {
        Start {
            id: "abc".into(),
            name: name.into(),
            learn_dir: PathBuf::from("/nonexistent"),
            audit_log: PathBuf::from("/nonexistent/audit.log"),
            init_pid: 1,
            init_starttime: 1,
            rootfs: PathBuf::from("/nonexistent"),
            upperdir: None,
            scratch_mounts: scratch_mounts.iter().map(PathBuf::from).collect(),
            started_ns: 0,
            recorder: None,
        }
    }
}

/// What the recorder saw.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Record {
    /// Per capability number: granted and denied checks, and the programs that made them.
    pub capabilities: BTreeMap<u32, CapUse>,
    /// System call numbers of the native architecture.
    pub syscalls: BTreeSet<i64>,
    /// Events the kernel dropped because the recorder fell behind.
    pub lost_events: u64,
    pub events: u64,
    /// The programs the container executed.
    pub programs: BTreeSet<String>,
    /// The user and group switches its programs asked for (at most [`MAX_ID_SWITCHES`]).
    #[serde(default)]
    pub id_switches: BTreeSet<IdSwitch>,
}

/// At most this many different user and group switches are kept.
pub const MAX_ID_SWITCHES: usize = 64;

/// The system calls that switch users or groups (what `SETUID` and `SETGID` are checked for),
/// and how many of their arguments are IDs (`setgroups`: its first is the number of groups).
pub const ID_SYSCALLS: [(&str, usize); 9] = [
    ("setuid", 1),
    ("setgid", 1),
    ("setreuid", 2),
    ("setregid", 2),
    ("setresuid", 3),
    ("setresgid", 3),
    ("setfsuid", 1),
    ("setfsgid", 1),
    ("setgroups", 1),
];

/// One user or group switch a program of the container asked for: the system call (its number
/// on the native architecture) and its ID arguments as the kernel traced them (low 32 bits;
/// `u32::MAX` is -1, "unchanged").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdSwitch {
    pub program: String,
    pub nr: i64,
    pub args: Vec<u32>,
}

/// [`ID_SYSCALLS`] by their numbers on this machine's architecture: number -> how many ID
/// arguments.
fn id_syscall_numbers() -> std::collections::HashMap<i64, usize> {
    ID_SYSCALLS
        .iter()
        .filter_map(|(name, argc)| {
            let nr = i32::from(libseccomp::ScmpSyscall::from_name(name).ok()?);
            (nr >= 0).then_some((i64::from(nr), *argc))
        })
        .collect()
}

/// The switch of a traced `sys_enter` of system call `nr` taking `argc` ID arguments.
fn id_switch(program: &str, nr: i64, argc: usize, fields: &str) -> IdSwitch {
    IdSwitch {
        program: program.to_string(),
        nr,
        args: trace::syscall_args(fields)
            .into_iter()
            .take(argc)
            // IDs are 32-bit: a -1 passed in a 64-bit register may carry either upper half.
            .map(|a| (a & u64::from(u32::MAX)) as u32)
            .collect(),
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CapUse {
    pub granted: u64,
    pub denied: u64,
    pub processes: BTreeSet<String>,
}

fn state_dir(root: &Path, id: &str) -> PathBuf {
    root.join(".learn").join(id)
}

fn instance_name(id: &str) -> String {
    // Instance names are directory names: the id is a valid one (validate_id), but keep it short.
    let short: String = id.chars().take(48).collect();
    format!("hardened-learn-{short}")
}

/// Nanoseconds since the Unix epoch.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A file name is what a profile name may be: letters, digits, `-`, `_`, `.`, not leading `.`.
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && !n.starts_with('.')
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The learned profile's name for a container.
pub fn profile_name(spec: &oci_spec::runtime::Spec, id: &str) -> Result<String> {
    let ann = spec.annotations().clone().unwrap_or_default();
    if let Some(n) = ann.get(NAME_ANNOTATION).filter(|n| !n.is_empty()) {
        if !valid_name(n) {
            bail!("the annotation {NAME_ANNOTATION}={n:?} is not a profile name: use letters, digits, '-', '_' and '.', at most 64");
        }
        return Ok(n.clone());
    }
    if let Some(n) = ann.get(CRI_CONTAINER_NAME).filter(|n| valid_name(n)) {
        return Ok(n.clone());
    }
    let short: String = id.chars().take(12).collect();
    if valid_name(&short) {
        Ok(short)
    } else {
        Ok("container".into())
    }
}

/// End of `create` in learn mode: start the recorder and wait until it follows the init.
pub fn begin(root: &Path, mut start: Start) -> Result<()> {
    let dir = state_dir(root, &start.id);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("create {}", dir.display()))?;
    write_json(&dir.join("start.json"), &start)?;
    let (child_pid, line) = spawn_recorder(root, &start.id)?;
    if line.trim() != "ready" {
        let why = line.trim().strip_prefix("error: ").unwrap_or(line.trim());
        bail!(
            "learn mode: the recorder could not follow the container: {}",
            if why.is_empty() {
                "it exited without a word"
            } else {
                why
            }
        );
    }
    start.recorder = crate::reap::starttime(child_pid).map(|st| (child_pid, st));
    write_json(&dir.join("start.json"), &start)
}

/// Run `hardened --root ROOT __learn-record ID`, detached (its own session, no stdio but the
/// pipe it answers on, no inherited descriptors), and read its first line.
fn spawn_recorder(root: &Path, id: &str) -> Result<(i32, String)> {
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.arg("--root").arg(root).arg(RECORD_COMMAND).arg(id);
    crate::detached::spawn(cmd, READY_TIMEOUT, "learn-mode recorder")
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let bytes = serde_json::to_vec_pretty(value)?;
    fs::write(&tmp, bytes).with_context(|| format!("write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("write {}", path.display()))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parse {}", path.display()))
}

/// The recorder (`hardened __learn-record ID`): answers `ready` or `error: WHY` on stdout, then
/// records until the container's init exits.
pub fn record_main(root: &Path, id: &str) -> Result<i32> {
    let dir = state_dir(root, id);
    let mut out = std::io::stdout();
    let result = (|| -> Result<Recording> {
        let start: Start = read_json(&dir.join("start.json"))?;
        Recording::new(&start, &dir)
    })();
    let recording = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(out, "error: {e:#}");
            return Ok(1);
        }
    };
    let _ = writeln!(out, "ready");
    let _ = out.flush();
    // From here on, the pipe is closed: `create` has returned.
    if let Ok(null) = fs::OpenOptions::new().write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        let _ = nix::unistd::dup2(null.as_raw_fd(), 1);
    }
    let outcome = recording.run(&dir);
    if let Err(e) = &outcome {
        let _ = fs::write(dir.join("recorder.err"), format!("{e:#}\n"));
    }
    outcome.map(|()| 0)
}

struct Recording {
    instance: trace::Instance,
    pipe: fs::File,
    pidfd: std::os::fd::OwnedFd,
    init_pid: i32,
    /// The program's processes: the init once it executed the user's program, and what they
    /// fork. A process the init forks before (a hook: Docker's prestart hook runs as the host's
    /// root) is the runtime's, not the program's.
    program: std::collections::HashSet<i32>,
    /// `exec` processes of the runtime (from `exec-roots`) and what they fork: what executes a
    /// program below them joins `program`.
    exec_tree: std::collections::HashSet<i32>,
    exec_roots: PathBuf,
    /// The name each followed process had at the latest event read (`task_rename`, inherited at
    /// fork). A line's `comm` is not this: the kernel prints the name a pid has when the line is
    /// read, so a switch `su` made shows as `sh` once su executed the shell.
    program_of: std::collections::HashMap<i32, String>,
    /// The host's user namespace as the events name it. A check against it is not the
    /// container's: its processes hold no capability there, and what is granted there is
    /// overlayfs acting with the credentials of whoever mounted the root filesystem.
    host_ns: String,
    record: Record,
    /// The user- and group-switching system calls (number -> ID arguments): kept in the stream
    /// (rare, and each one's arguments matter).
    id_syscalls: std::collections::HashMap<i64, usize>,
    /// The filter that keeps known system calls out of the stream.
    filter_ids: Vec<i64>,
    filter_ok: bool,
    /// Every event as read, for whoever debugs the recorder (`HARDENED_LEARN_RAW=FILE`).
    raw: Option<fs::File>,
}

impl Recording {
    fn new(start: &Start, dir: &Path) -> Result<Recording> {
        let pid = rustix::process::Pid::from_raw(start.init_pid)
            .context("the container has no init process")?;
        let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
            .with_context(|| format!("follow the container's init (pid {})", start.init_pid))?;
        if crate::reap::starttime(start.init_pid) != Some(start.init_starttime) {
            bail!(
                "the container's init (pid {}) is no longer running",
                start.init_pid
            );
        }
        let tf = Tracefs::reach()?;
        for event in EVENTS {
            if !tf.has_event(event) {
                return Err(trace::TraceError::NoEvent(event.into()).into());
            }
        }
        let instance = tf.instance(&instance_name(&start.id))?;
        let setup = (|| -> Result<(fs::File, String)> {
            instance.set("buffer_size_kb", BUFFER_KB)?;
            let pipe = instance.pipe(true)?;
            let host_ns = host_user_ns(&instance, &pipe, &dir.join("nsprobe"))?;
            instance.set("options/event-fork", "1")?;
            instance.set("set_event_pid", &start.init_pid.to_string())?;
            for event in EVENTS {
                instance.enable(event, None)?;
            }
            Ok((pipe, host_ns))
        })();
        let (pipe, host_ns) = match setup {
            Ok(v) => v,
            Err(e) => {
                let _ = instance.remove();
                return Err(e);
            }
        };
        Ok(Recording {
            instance,
            pipe,
            pidfd,
            init_pid: start.init_pid,
            program: std::collections::HashSet::new(),
            exec_tree: std::collections::HashSet::new(),
            exec_roots: dir.join("exec-roots"),
            program_of: std::collections::HashMap::new(),
            host_ns,
            record: Record::default(),
            id_syscalls: id_syscall_numbers(),
            filter_ids: Vec::new(),
            filter_ok: true,
            raw: std::env::var_os("HARDENED_LEARN_RAW").and_then(|p| fs::File::create(p).ok()),
        })
    }

    /// Read until the init exits, then write the record and remove the instance.
    fn run(mut self, dir: &Path) -> Result<()> {
        use nix::poll::{poll, PollFd, PollFlags};
        let mut pending = Vec::new();
        loop {
            let init_gone = {
                let mut fds = [
                    PollFd::new(self.pidfd.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.pipe.as_fd(), PollFlags::POLLIN),
                ];
                // trace_pipe wakes a poller only past `buffer_percent`: read every 200 ms anyway.
                let _ = poll(&mut fds, 200u16);
                fds[0]
                    .revents()
                    .is_some_and(|r| r.contains(PollFlags::POLLIN))
            };
            self.drain(&mut pending)?;
            if init_gone {
                // What the last processes did is in the buffer already; one more read after
                // the kernel finished writing it.
                std::thread::sleep(Duration::from_millis(100));
                self.drain(&mut pending)?;
                break;
            }
        }
        drop(self.pipe);
        write_json(&dir.join("record.json"), &self.record)?;
        self.instance.remove()?;
        Ok(())
    }

    /// Read what the pipe has now (non-blocking) and take in every whole line.
    fn drain(&mut self, pending: &mut Vec<u8>) -> Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match self.pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    let mut consumed = 0;
                    while let Some(nl) = pending[consumed..].iter().position(|&b| b == b'\n') {
                        let line =
                            String::from_utf8_lossy(&pending[consumed..consumed + nl]).into_owned();
                        self.take(&line);
                        consumed += nl + 1;
                    }
                    pending.drain(..consumed);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("read the container's trace events"),
            }
        }
        self.narrow_filter();
        Ok(())
    }

    fn take(&mut self, line: &str) {
        if let Some(raw) = &mut self.raw {
            let _ = writeln!(raw, "{line}");
        }
        if let Some(n) = crate::trace::lost_events(line) {
            self.record.lost_events += n;
            return;
        }
        let Some(ev) = trace::parse_line(line) else {
            return;
        };
        self.record.events += 1;
        match ev.name {
            "sched_process_exec" => {
                if ev.pid == self.init_pid || self.exec_tree.contains(&ev.pid) {
                    self.program.insert(ev.pid);
                }
                if self.program.contains(&ev.pid) {
                    if let Some(f) = trace::field(ev.fields, "filename") {
                        self.record.programs.insert(f.to_string());
                    }
                }
            }
            "sched_process_fork" => {
                let parent = trace::field(ev.fields, "pid").and_then(|p| p.parse().ok());
                let child = trace::field(ev.fields, "child_pid").and_then(|p| p.parse().ok());
                if let (Some(parent), Some(child)) = (parent, child) {
                    if let Some(p) = self.program_of.get(&parent).cloned() {
                        self.program_of.insert(child, p);
                    }
                    if self.program.contains(&parent) {
                        self.program.insert(child);
                    } else {
                        if !self.exec_tree.contains(&parent) && parent != self.init_pid {
                            // A parent not seen before: an `exec` of the runtime's, listed first.
                            self.read_exec_roots();
                        }
                        if self.exec_tree.contains(&parent) {
                            self.exec_tree.insert(child);
                        }
                    }
                }
            }
            "task_rename" => {
                // `pid=42 oldcomm=sh newcomm=su oom_score_adj=0`: a name holding a space is cut
                // at it.
                let pid = trace::field(ev.fields, "pid").and_then(|p| p.parse().ok());
                if let (Some(pid), Some(name)) = (pid, trace::field(ev.fields, "newcomm")) {
                    self.program_of.insert(pid, name.to_string());
                }
            }
            "sys_enter" => {
                // The init's own steps before the exec count too: the container's filter is
                // loaded just before `execve`, and they run under it.
                if ev.pid != self.init_pid && !self.program.contains(&ev.pid) {
                    return;
                }
                if let Some(nr) = trace::syscall_nr(ev.fields) {
                    self.record.syscalls.insert(nr);
                    // A switch of the program's, not the init's own before its exec (the
                    // runtime's switch to the config's user).
                    if let Some(&argc) = self.id_syscalls.get(&nr) {
                        if self.program.contains(&ev.pid)
                            && self.record.id_switches.len() < MAX_ID_SWITCHES
                        {
                            let program =
                                self.program_of.get(&ev.pid).map_or(ev.comm, String::as_str);
                            self.record
                                .id_switches
                                .insert(id_switch(program, nr, argc, ev.fields));
                        }
                    }
                }
            }
            "cap_capable" => {
                // Before the init's exec, capability checks are the runtime's (its user switch).
                if !self.program.contains(&ev.pid)
                    || trace::field(ev.fields, "target_ns") == Some(self.host_ns.as_str())
                {
                    return;
                }
                let cap = trace::field(ev.fields, "cap").and_then(|c| c.parse::<u32>().ok());
                let ret = trace::field(ev.fields, "ret").and_then(|c| c.parse::<i64>().ok());
                if let (Some(cap), Some(ret)) = (cap, ret) {
                    let u = self.record.capabilities.entry(cap).or_default();
                    if ret == 0 {
                        u.granted += 1;
                    } else {
                        u.denied += 1;
                    }
                    if u.processes.len() < 16 {
                        u.processes.insert(ev.comm.to_string());
                    }
                }
            }
            _ => {}
        }
    }

    fn read_exec_roots(&mut self) {
        if let Ok(text) = fs::read_to_string(&self.exec_roots) {
            self.exec_tree
                .extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
    }

    /// Keep the system calls already seen out of the stream (a server makes millions of the
    /// same few). The kernel's filters have a size limit; past it, the stream stays as it is.
    fn narrow_filter(&mut self) {
        if !self.filter_ok {
            return;
        }
        let seen: Vec<i64> = self
            .record
            .syscalls
            .iter()
            .copied()
            .filter(|nr| !self.id_syscalls.contains_key(nr))
            .collect();
        if seen == self.filter_ids {
            return;
        }
        let filter = seen
            .iter()
            .map(|nr| format!("id != {nr}"))
            .collect::<Vec<_>>()
            .join(" && ");
        if filter.len() > 3800 || self.instance.filter(EVENTS[1], &filter).is_err() {
            self.filter_ok = false;
            return;
        }
        self.filter_ids = seen;
    }
}

/// How the events name the host's user namespace: the recorder (the host's root) follows
/// itself for one capability check of its own, a chown of a file of its own to another owner.
fn host_user_ns(instance: &trace::Instance, pipe: &fs::File, scratch: &Path) -> Result<String> {
    instance.set("set_event_pid", &std::process::id().to_string())?;
    instance.enable(EVENTS[0], None)?;
    let _ = fs::remove_file(scratch);
    fs::write(scratch, b"").with_context(|| format!("create {}", scratch.display()))?;
    let chowned = nix::unistd::chown(
        scratch,
        Some(nix::unistd::Uid::from_raw(1)),
        Some(nix::unistd::Gid::from_raw(1)),
    );
    let _ = fs::remove_file(scratch);
    chowned.context("learn mode: find the host's user namespace (chown a file of its own)")?;
    let mut text = String::new();
    let mut reader = pipe;
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    instance.set(&format!("events/{}/enable", EVENTS[0]), "0")?;
    let me = std::process::id() as i32;
    text.lines()
        .filter_map(trace::parse_line)
        .find(|e| e.pid == me && e.name == "cap_capable")
        .and_then(|e| trace::field(e.fields, "target_ns").map(String::from))
        .context("learn mode: the kernel did not report the recorder's own capability check")
}

/// `create` failed after [`begin`], or `delete` of a container whose learning is abandoned:
/// forget its state (the recorder ends with the init).
pub fn discard(root: &Path, id: &str) {
    let dir = state_dir(root, id);
    if dir.exists() {
        let _ = fs::remove_dir_all(&dir);
    }
}

/// `exec` into a learning container: from this process on (its children through
/// `options/event-fork`), what it starts is followed, and what executes a program below it is
/// the container's program too. The recorder learns this process's pid from `exec-roots`,
/// written before the pid is followed. Best effort: a failure leaves the exec'd process out of
/// the profile, with a warning.
pub fn follow_exec(root: &Path, id: &str) {
    let result = (|| -> Result<()> {
        let me = std::process::id();
        let file = state_dir(root, id).join("exec-roots");
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)
            .with_context(|| format!("open {}", file.display()))?;
        writeln!(f, "{me}")?;
        let tf = Tracefs::reach()?;
        let instance = tf
            .existing(&instance_name(id))
            .context("the recorder's trace instance is gone")?;
        instance.append("set_event_pid", &format!("{me}\n"))?;
        Ok(())
    })();
    if let Err(e) = result {
        tracing::warn!("learn mode: the exec'd process of {id} is not recorded: {e:#}");
    }
}

/// Whether the container `id` is being learned.
pub fn learning(root: &Path, id: &str) -> bool {
    state_dir(root, id).join("start.json").exists()
}

/// `delete` of a learning container (its processes are gone): write the learned profile into
/// the policy's `learn_dir`. Returns the profile's TOML file.
pub fn conclude(root: &Path, id: &str) -> Result<PathBuf> {
    let dir = state_dir(root, id);
    let start: Start = read_json(&dir.join("start.json"))?;
    let record = wait_for_record(&dir, &start)?;
    let writes = written_paths(&start);
    let learned = crate::learn_profile::Learned::new(&start, &record, writes);
    let toml = learned.write(&start.learn_dir)?;
    crate::audit::append(&start.audit_log, &learned.audit_record(&toml));
    let _ = fs::remove_dir_all(&dir);
    Ok(toml)
}

/// The recorder's record, once it wrote it (it does when the init has exited).
fn wait_for_record(dir: &Path, start: &Start) -> Result<Record> {
    let path = dir.join("record.json");
    let deadline = Instant::now() + RECORD_TIMEOUT;
    loop {
        if path.exists() {
            return read_json(&path);
        }
        let alive = start
            .recorder
            .is_some_and(|(pid, st)| crate::reap::starttime(pid) == Some(st));
        if !alive || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if path.exists() {
        return read_json(&path);
    }
    let why = fs::read_to_string(dir.join("recorder.err")).unwrap_or_default();
    remove_instance_of(&start.id);
    bail!(
        "learn mode: nothing was recorded for container {}: {}",
        start.id,
        if why.trim().is_empty() {
            "the recorder ended without a record"
        } else {
            why.trim()
        }
    )
}

/// Remove a trace instance that a recorder left (it died): through a child of our own, which
/// may mount tracefs privately.
fn remove_instance_of(id: &str) {
    let _ = std::process::Command::new("/proc/self/exe")
        .args([RECORD_COMMAND, "--remove", id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// `hardened __learn-record --remove ID`.
pub fn remove_main(id: &str) -> Result<i32> {
    let tf = Tracefs::reach()?;
    if let Some(i) = tf.existing(&instance_name(id)) {
        i.remove()?;
    }
    Ok(0)
}

/// What the container wrote in its root filesystem: the overlay's upper directory (every entry
/// there is a write, a whiteout a removal), or, for a plain directory, what changed since
/// `create` ended. Paths are the container's; the set-up's own mount points are older.
pub fn written_paths(start: &Start) -> Vec<PathBuf> {
    let base = start
        .upperdir
        .clone()
        .unwrap_or_else(|| start.rootfs.clone());
    let since = start.started_ns;
    let Ok(meta) = fs::symlink_metadata(&base) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen = 0usize;
    walk(
        &base,
        Path::new("/"),
        meta.dev(),
        since,
        &mut seen,
        &mut out,
    );
    out.retain(|p| {
        !start
            .scratch_mounts
            .iter()
            .any(|s| p.starts_with(s) && p != s)
    });
    out.sort();
    out
}

fn walk(host: &Path, rel: &Path, dev: u64, since: u64, seen: &mut usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(host) else {
        return;
    };
    for entry in entries.flatten() {
        *seen += 1;
        if *seen > WALK_LIMIT {
            return;
        }
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if meta.dev() != dev {
            continue;
        }
        let path = rel.join(entry.file_name());
        let ctime_ns = u64::try_from(meta.ctime())
            .unwrap_or(0)
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::try_from(meta.ctime_nsec()).unwrap_or(0));
        let changed = ctime_ns >= since;
        if meta.is_dir() {
            let before = out.len();
            walk(&entry.path(), &path, dev, since, seen, out);
            // A new directory with nothing new below it (an empty one the program made).
            if changed && out.len() == before {
                out.push(path);
            }
        } else if changed {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_group_switches_are_known_by_number_and_read_from_the_trace() {
        let nrs = id_syscall_numbers();
        assert_eq!(nrs.len(), ID_SYSCALLS.len(), "{nrs:?}");
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!(nrs.get(&105), Some(&1), "setuid");
            assert_eq!(nrs.get(&119), Some(&3), "setresgid");
            assert_eq!(nrs.get(&116), Some(&1), "setgroups");
            assert_eq!(nrs.get(&257), None, "openat");
        }
        // The kernel prints the arguments in hex; -1 as a 32-bit or a 64-bit value.
        let s = id_switch(
            "su",
            117,
            3,
            "NR 117 (ffffffffffffffff, 21, ffffffff, 7ffd0000, 0, 0)",
        );
        assert_eq!(
            s,
            IdSwitch {
                program: "su".into(),
                nr: 117,
                args: vec![u32::MAX, 33, u32::MAX],
            }
        );
        assert!(id_switch("x", 105, 1, "NR 105").args.is_empty());
    }

    #[test]
    fn a_record_without_switches_still_reads() {
        let r: Record = serde_json::from_str(
            r#"{"capabilities":{},"syscalls":[0],"lost_events":0,"events":1,"programs":[]}"#,
        )
        .expect("parses");
        assert!(r.id_switches.is_empty());
    }
}
