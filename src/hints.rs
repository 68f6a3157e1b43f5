//! Hints: when the hardening stops a container's program, the audit log says what was denied,
//! to which program, and the policy key that would allow it (`hardened explain ID`).
//!
//! What is caught: a capability check that fails (`capability:cap_capable` with `ret != 0`),
//! for the capabilities an ordinary image may need (Docker's default set: the ones a profile
//! grants; the kernel also checks others, `SYS_ADMIN` above all, opportunistically, on paths
//! where a denial changes nothing, and a hint for each would be noise).
//!
//! How, at no cost to a container that is denied nothing: one trace instance for the whole
//! host ([`INSTANCE`], made by the first `create` and kept, with a small buffer), with the event
//! `capability:cap_capable` filtered in the kernel to failed checks of those capabilities: the
//! rest of the host's capability checks are dropped before they reach the buffer, and no pid
//! list is kept (a write to `set_event_pid` waits for an RCU grace period, 40-70 ms). Events are
//! told apart by the user namespace they check (`target_ns`): every container has its own.
//! `create` learns how the events name the container's namespace from one check of its own that
//! fails on purpose: a child enters the container's user namespace, drops its capabilities there
//! and asks for `setuid(0)` (EPERM, nothing changes). The events wait in the kernel's buffer
//! until the next `create`, `delete` or `explain` reads them. The tracker
//! (`/run/hardened/hints/tracker.json`, under a lock) keeps each container's namespace and its
//! hints so far. `delete` writes the container's hints into the audit log (one
//! `"decision":"hint"` record each) and forgets it. A container without a user namespace of
//! its own gets no hints.
//!
//! The buffer is small and overwritten when full: a host that is denied a great deal between
//! two reads can lose events, which the tracker counts and `explain` reports.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::gaps::capabilities::{CapData, CapHeader, LINUX_CAPABILITY_VERSION_3};
use crate::trace::{self, Tracefs};

/// Where the tracker lives (a tmpfs on every host: it lasts as long as the containers).
pub const DIR: &str = "/run/hardened/hints";
/// The host's one trace instance for hints.
pub const INSTANCE: &str = "hardened-capability-denials";
/// Per-CPU buffer (KiB).
const BUFFER_KB: &str = "256";

/// The capabilities a hint is given for (numbers, `linux/capability.h`): Docker's default set,
/// the one learn mode grants (`policy::DOCKER_DEFAULT_CAPS`).
pub fn hinted_caps() -> Vec<u32> {
    crate::policy::DOCKER_DEFAULT_CAPS
        .iter()
        .filter_map(|n| format!("CAP_{n}").parse::<caps::Capability>().ok())
        .map(|c| u32::from(c.index()))
        .collect()
}

/// The event, and its filter: failed checks of the hinted capabilities.
const EVENT: &str = "capability/cap_capable";

fn filter() -> String {
    let caps = hinted_caps()
        .iter()
        .map(|c| format!("cap == {c}"))
        .collect::<Vec<_>>()
        .join(" || ");
    format!("ret != 0 && ({caps})")
}

/// One hint: what was denied, to whom, how often, and what would allow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hint {
    /// "capability".
    pub kind: String,
    /// What was denied (e.g. "CHOWN").
    pub denied: String,
    /// The programs (`comm`) it was denied to.
    pub processes: Vec<String>,
    pub count: u64,
    /// In words.
    pub what: String,
    /// The policy key that would allow it.
    pub allow: String,
}

/// A followed container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Tracked {
    id: String,
    root: PathBuf,
    init_pid: i32,
    /// The policy's audit log, where `delete` writes the hints.
    audit_log: PathBuf,
    hints: BTreeMap<String, Hint>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Tracker {
    /// The container's user namespace as the events name it (`target_ns`) -> container key.
    namespaces: BTreeMap<String, String>,
    /// Probes made, not yet read: pid of the probe -> container key.
    probes: BTreeMap<i32, String>,
    containers: BTreeMap<String, Tracked>,
    /// Events the kernel dropped since the tracker began (its buffer was full).
    lost: u64,
}

fn key(root: &Path, id: &str) -> String {
    format!("{}\u{0}{id}", root.display())
}

/// The tracker, locked for as long as this lives.
struct Locked {
    _lock: nix::fcntl::Flock<fs::File>,
    path: PathBuf,
    tracker: Tracker,
}

impl Locked {
    fn open() -> Result<Locked> {
        let dir = Path::new(DIR);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("create {DIR}"))?;
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))
            .with_context(|| format!("open {DIR}/lock"))?;
        let lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .with_context(|| format!("lock {DIR}/lock"))?;
        let path = dir.join("tracker.json");
        let tracker = match fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_default(),
            Err(_) => Tracker::default(),
        };
        Ok(Locked {
            _lock: lock,
            path,
            tracker,
        })
    }

    fn save(&mut self) -> Result<()> {
        let tmp = self.path.with_extension("tmp");
        fs::write(&tmp, serde_json::to_vec(&self.tracker)?)
            .with_context(|| format!("write {}", tmp.display()))?;
        fs::rename(&tmp, &self.path).with_context(|| format!("write {}", self.path.display()))
    }

    /// Read every event the kernel has buffered, and take each in.
    /// Forget containers whose ledger is gone without a `delete` that said goodbye (a state
    /// root removed by hand, a host whose /run outlived it): the tracker never grows with them.
    /// The ledger, not the state directory: `delete` removes the ledger last, after it read
    /// the hints.
    fn prune(&mut self) {
        let t = &mut self.tracker;
        t.containers
            .retain(|_, c| crate::ledger::path(&c.root, &c.id).exists());
        let live = &t.containers;
        t.namespaces.retain(|_, k| live.contains_key(k));
        t.probes.retain(|_, k| live.contains_key(k));
    }

    fn drain(&mut self, instance: &trace::Instance) -> Result<()> {
        let mut pipe = instance.pipe(true)?;
        let mut bytes = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("read the hints' trace events"),
            }
        }
        for line in String::from_utf8_lossy(&bytes).lines() {
            self.take(line);
        }
        Ok(())
    }

    fn take(&mut self, line: &str) {
        if let Some(n) = trace::lost_events(line) {
            self.tracker.lost += n;
            return;
        }
        let Some(ev) = trace::parse_line(line) else {
            return;
        };
        if ev.name != "cap_capable" {
            return;
        }
        let t = &mut self.tracker;
        let Some(ns) = trace::field(ev.fields, "target_ns") else {
            return;
        };
        if let Some(k) = t.probes.remove(&ev.pid) {
            // The probe of `follow`: how the events name this container's namespace.
            t.namespaces.insert(ns.to_string(), k);
            return;
        }
        let Some(c) = t.namespaces.get(ns).and_then(|k| t.containers.get_mut(k)) else {
            return;
        };
        let Some(cap) = trace::field(ev.fields, "cap").and_then(|c| c.parse().ok()) else {
            return;
        };
        add_capability_hint(c, cap, ev.comm);
    }
}

fn add_capability_hint(c: &mut Tracked, cap: u32, comm: &str) {
    let name = crate::learn_profile::cap_name(cap).unwrap_or_else(|| format!("capability {cap}"));
    let h = c.hints.entry(format!("cap:{name}")).or_insert_with(|| Hint {
        kind: "capability".into(),
        denied: name.clone(),
        processes: Vec::new(),
        count: 0,
        what: String::new(),
        allow: format!(
            "allow_capabilities = [\"{name}\"] in the container's profile (its config must ask for it: Docker's default set does){}",
            builtin_for(&name)
        ),
    });
    h.count += 1;
    if !h.processes.iter().any(|p| p == comm) && h.processes.len() < 8 {
        h.processes.push(comm.to_string());
    }
    h.what = format!(
        "CAP_{name} was denied {} time(s) to {}: {}",
        h.count,
        h.processes.join(", "),
        cap_meaning(&name)
    );
}

/// What a denied capability usually means for a program.
fn cap_meaning(name: &str) -> &'static str {
    match name {
        "CHOWN" => "the program changes the owner of files (an entrypoint that chowns its volume)",
        "SETUID" | "SETGID" => "the program switches to another user (an entrypoint or server that drops to its service user)",
        "DAC_OVERRIDE" => "root in the container writes or reads a file it does not own",
        "FOWNER" => "the program changes the mode or times of a file it does not own",
        "NET_BIND_SERVICE" => "the program binds a port below 1024",
        "SYS_CHROOT" => "the program chroots (sshd's privilege separation)",
        "KILL" => "the program signals a process of another user",
        "NET_RAW" => "the program uses raw sockets (ping)",
        "SETPCAP" | "SETFCAP" => "the program changes capabilities",
        "FSETID" => "the program keeps set-id bits on files it changes",
        "MKNOD" => "the program makes device nodes",
        _ => "the defaults drop every capability",
    }
}

/// A built-in profile that grants `cap`, as a suggestion.
fn builtin_for(cap: &str) -> &'static str {
    match cap {
        "SETUID" | "SETGID" => {
            ", or the built-in profile drop-to-user (builtin_profiles = [\"drop-to-user\"])"
        }
        "CHOWN" | "FOWNER" | "DAC_OVERRIDE" => {
            ", or the built-in profile chown-and-drop (builtin_profiles = [\"chown-and-drop\"])"
        }
        _ => "",
    }
}

/// The host's hints instance, made (once) if missing. `None` where the kernel lacks the event.
fn instance(tf: &Tracefs) -> Result<Option<trace::Instance>> {
    if let Some(i) = tf.existing(INSTANCE) {
        return Ok(Some(i));
    }
    if !tf.has_event(EVENT) {
        return Ok(None);
    }
    let i = tf.instance(INSTANCE)?;
    let setup = (|| -> Result<()> {
        i.set("buffer_size_kb", BUFFER_KB)?;
        i.enable(EVENT, Some(&filter()))?;
        Ok(())
    })();
    match setup {
        Ok(()) => Ok(Some(i)),
        Err(e) => {
            let _ = i.remove();
            Err(e)
        }
    }
}

/// One capability check that fails on purpose in the user namespace of process `pid`: a child
/// enters it, drops every capability and asks for `setuid(0)`; the kernel checks `SETUID` there
/// and refuses (nothing changes). Returns the child's pid once it has exited.
fn probe(pid: i32) -> Result<i32> {
    use nix::unistd::{fork, ForkResult};
    let path = std::ffi::CString::new(format!("/proc/{pid}/ns/user"))?;
    // SAFETY: the child makes only system calls (open, setns, capset, setuid, _exit) on data
    // prepared before the fork: nothing that could wait on a lock another thread held.
    match unsafe { fork() }.context("fork the hints probe")? {
        ForkResult::Child => {
            // SAFETY: raw system calls on valid arguments; the child exits without unwinding.
            unsafe {
                let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                if fd < 0 || libc::setns(fd, libc::CLONE_NEWUSER) != 0 {
                    libc::_exit(1);
                }
                let mut header = CapHeader {
                    version: LINUX_CAPABILITY_VERSION_3,
                    pid: 0,
                };
                let data = [CapData::default(); 2];
                if libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) != 0 {
                    libc::_exit(1);
                }
                libc::setuid(0);
                libc::_exit(0);
            }
        }
        ForkResult::Parent { child } => {
            let status =
                nix::sys::wait::waitpid(child, None).context("wait for the hints probe")?;
            if !matches!(status, nix::sys::wait::WaitStatus::Exited(_, 0)) {
                bail!(
                    "the hints probe could not enter the container's user namespace ({status:?})"
                );
            }
            Ok(child.as_raw())
        }
    }
}

/// Follow the container's init from now on (end of `create`). Best effort: a host without the
/// events gets no hints, and a failure here never stops a container.
pub fn follow(root: &Path, id: &str, init_pid: i32, audit_log: &Path) {
    if let Err(e) = try_follow(root, id, init_pid, audit_log) {
        tracing::debug!("hints: cannot follow container {id}: {e:#}");
    }
}

fn try_follow(root: &Path, id: &str, init_pid: i32, audit_log: &Path) -> Result<()> {
    let tf = Tracefs::reach()?;
    let mut locked = Locked::open()?;
    let Some(inst) = instance(&tf)? else {
        return Ok(());
    };
    locked.drain(&inst)?;
    locked.prune();
    let k = key(root, id);
    locked.tracker.containers.insert(
        k.clone(),
        Tracked {
            id: id.to_string(),
            root: root.to_path_buf(),
            init_pid,
            audit_log: audit_log.to_path_buf(),
            ..Tracked::default()
        },
    );
    let probe_pid = probe(init_pid)?;
    locked.tracker.probes.insert(probe_pid, k);
    locked.drain(&inst)?;
    locked.save()
}

/// The hints of a container so far (it goes on being followed). `None`: not followed.
pub fn peek(root: &Path, id: &str) -> Result<Option<(Vec<Hint>, u64)>> {
    let syscalls = crate::syscall_hints::read(root, id);
    let caps = peek_capabilities(root, id)?;
    Ok(match (caps, syscalls) {
        (None, None) => None,
        (caps, syscalls) => {
            let (mut hints, lost) = caps.unwrap_or_default();
            hints.extend(
                syscalls
                    .as_ref()
                    .map(crate::syscall_hints::hints)
                    .unwrap_or_default(),
            );
            Some((hints, lost))
        }
    })
}

fn peek_capabilities(root: &Path, id: &str) -> Result<Option<(Vec<Hint>, u64)>> {
    if !Path::new(DIR).join("tracker.json").exists() {
        return Ok(None);
    }
    let mut locked = Locked::open()?;
    if !locked.tracker.containers.contains_key(&key(root, id)) {
        return Ok(None);
    }
    if let Some(inst) = Tracefs::reach()?.existing(INSTANCE) {
        locked.drain(&inst)?;
    }
    let lost = locked.tracker.lost;
    let out = locked
        .tracker
        .containers
        .get(&key(root, id))
        .map(|c| (c.hints.values().cloned().collect(), lost));
    locked.save()?;
    Ok(out)
}

/// `delete`: the container's hints, into the policy's audit log; it is no longer followed.
pub fn conclude(root: &Path, id: &str) {
    let syscalls = crate::syscall_hints::take(root, id);
    let (mut hints, mut audit_log) = take(root, id).unwrap_or_else(|e| {
        tracing::debug!("hints: container {id}: {e:#}");
        (Vec::new(), PathBuf::new())
    });
    if let Some(r) = &syscalls {
        hints.extend(crate::syscall_hints::hints(r));
        if audit_log.as_os_str().is_empty() {
            audit_log = r.audit_log.clone();
        }
    }
    for h in &hints {
        crate::audit::append(&audit_log, &record(id, h));
        tracing::info!(
            "hint for container {id}: {}; to allow it: {}",
            h.what,
            h.allow
        );
    }
}

/// A container that never ran or whose delete could not say goodbye (an aborted create, a
/// leftover removed by `delete --force`): no longer followed, its hints dropped.
pub fn forget(root: &Path, id: &str) {
    let _ = crate::syscall_hints::take(root, id);
    if let Err(e) = take(root, id) {
        tracing::debug!("hints: container {id}: {e:#}");
    }
}

fn take(root: &Path, id: &str) -> Result<(Vec<Hint>, PathBuf)> {
    let none = || (Vec::new(), PathBuf::new());
    if !Path::new(DIR).join("tracker.json").exists() {
        return Ok(none());
    }
    let mut locked = Locked::open()?;
    let k = key(root, id);
    if !locked.tracker.containers.contains_key(&k) {
        return Ok(none());
    }
    let tf = Tracefs::reach()?;
    if let Some(inst) = instance(&tf)? {
        locked.drain(&inst)?;
    }
    let c = locked.tracker.containers.remove(&k).unwrap_or_default();
    locked.tracker.namespaces.retain(|_, v| *v != k);
    locked.tracker.probes.retain(|_, v| *v != k);
    locked.save()?;
    Ok((c.hints.into_values().collect(), c.audit_log))
}

/// The audit log's record of one hint.
pub fn record(id: &str, h: &Hint) -> serde_json::Value {
    serde_json::json!({
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "command": "delete",
        "id": id,
        "decision": "hint",
        "hint": h,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tracker in memory, locked in a directory of its own (kept by the caller).
    fn locked(t: Tracker) -> (tempfile::TempDir, Locked) {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = fs::File::create(dir.path().join("lock")).expect("lock file");
        let lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .expect("lock");
        let path = dir.path().join("tracker.json");
        (
            dir,
            Locked {
                _lock: lock,
                path,
                tracker: t,
            },
        )
    }

    fn feed(t: Tracker, lines: &[&str]) -> Tracker {
        // `take` without the tracker's file: the same logic on a tracker in memory.
        let (_dir, mut l) = locked(t);
        for line in lines {
            l.take(line);
        }
        l.tracker
    }

    #[test]
    fn the_hinted_capabilities_are_dockers_default_set() {
        let mut caps = hinted_caps();
        caps.sort_unstable();
        assert_eq!(caps, vec![0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31]);
    }

    #[test]
    fn containers_whose_ledger_is_gone_are_forgotten() {
        let state = tempfile::tempdir().expect("tempdir");
        let ledger = crate::ledger::path(state.path(), "alive");
        std::fs::create_dir_all(ledger.parent().expect("ledger dir")).expect("ledger dir");
        std::fs::write(&ledger, "{}").expect("ledger");
        let mut t = Tracker::default();
        for id in ["alive", "gone"] {
            let k = key(state.path(), id);
            t.containers.insert(
                k.clone(),
                Tracked {
                    id: id.into(),
                    root: state.path().to_path_buf(),
                    ..Tracked::default()
                },
            );
            t.namespaces.insert(format!("ns-{id}"), k.clone());
            t.probes.insert(if id == "alive" { 1 } else { 2 }, k);
        }
        let (_dir, mut l) = locked(t);
        l.prune();
        let alive = key(state.path(), "alive");
        assert_eq!(
            l.tracker.containers.keys().collect::<Vec<_>>(),
            vec![&alive]
        );
        assert_eq!(l.tracker.namespaces.len(), 1);
        assert_eq!(l.tracker.probes.keys().collect::<Vec<_>>(), vec![&1]);
    }

    #[test]
    fn denials_are_told_apart_by_the_user_namespace_checked() {
        let mut t = Tracker::default();
        let k = key(Path::new("/run/x"), "c1");
        t.containers.insert(
            k.clone(),
            Tracked {
                id: "c1".into(),
                root: "/run/x".into(),
                init_pid: 100,
                ..Tracked::default()
            },
        );
        t.probes.insert(200, k.clone());
        let t = feed(
            t,
            &[
                // The probe: how the events name c1's namespace (not a hint).
                "       hardened-200 [000] ..... 1.0: cap_capable: cred 1, target_ns 00000000aaaa, capable_ns 00000000aaaa, cap 7, ret -1",
                "           chown-101 [001] ..... 1.3: cap_capable: cred 1, target_ns 00000000aaaa, capable_ns 00000000aaaa, cap 0, ret -1",
                "           chown-102 [001] ..... 1.4: cap_capable: cred 1, target_ns 00000000aaaa, capable_ns 00000000aaaa, cap 0, ret -1",
                // Another namespace (the host's, another container's): not c1's.
                "           other-555 [001] ..... 1.5: cap_capable: cred 1, target_ns 00000000bbbb, capable_ns 0000000000000000, cap 0, ret -1",
                "CPU:1 [LOST 3 EVENTS]",
            ],
        );
        assert_eq!(t.namespaces.get("00000000aaaa"), Some(&k));
        assert!(t.probes.is_empty());
        let c = &t.containers[&k];
        assert_eq!(c.hints.len(), 1, "{:?}", c.hints);
        let h = &c.hints["cap:CHOWN"];
        assert_eq!(
            (h.count, h.processes.clone()),
            (2, vec!["chown".to_string()])
        );
        assert!(
            h.allow.contains("allow_capabilities = [\"CHOWN\"]"),
            "{}",
            h.allow
        );
        assert!(
            h.what.contains("CAP_CHOWN was denied 2 time(s) to chown"),
            "{}",
            h.what
        );
        assert_eq!(t.lost, 3);
    }

    #[test]
    fn the_filter_names_every_hinted_capability() {
        let f = filter();
        assert!(f.starts_with("ret != 0 && (cap == 0 || "), "{f}");
        assert!(!f.contains("cap == 21"), "SYS_ADMIN is not hinted: {f}");
    }
}
