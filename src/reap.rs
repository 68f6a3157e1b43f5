//! Signalling a container's processes, and only them.
//!
//! libcontainer 0.7 kills "all of a container" by listing the pids of the container's cgroup
//! and signalling each one, and removes a cgroup by SIGKILLing whatever its `cgroup.procs`
//! holds. With a cgroupsPath that resolves to a hierarchy root, that is every process of the
//! host; with a pre-existing cgroup it is whatever else lives there; with a pid recycled between
//! the listing and the signal it is a stranger. Every path of ours that signals more than one
//! known process (`kill --all`, `delete` of a created container, `delete --force`, the clean-up
//! of a failed `create` or `run`) comes here instead, and a pid is signalled only when:
//! - it is in the container's cgroup (or below it), checked in `/proc/<pid>/cgroup` after a
//!   pidfd pins the process, and the signal goes through that pidfd, so a pid recycled after
//!   the check is never hit;
//! - and it is in the container's own PID namespace (or one nested in it), when the container
//!   has one; a container without one is signalled by cgroup alone only when its cgroup is its
//!   own (made by its `create`, recorded in the ledger). Otherwise `kill --all` is refused.
//!
//! Nothing is signalled when the recorded cgroup is a hierarchy root or climbs with `..`
//! (checked again here, whatever `create` checked: the state may come from an older version).

use std::collections::BTreeSet;
use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ledger::{Init, Ledger};
use crate::policy::rules::cgroup_path::{self, CgroupPath};
use crate::userns::join::{related_ns, NsRelation};

/// A namespace's identity: the device and inode of its `/proc/<pid>/ns/*` file.
pub type NsId = (u64, u64);

#[derive(Debug, thiserror::Error)]
pub enum ReapError {
    #[error("container {id}: its recorded cgroup is not safe to signal ({problem}); nothing was signalled: remove its state by hand after checking which processes are its own")]
    UnsafeCgroup { id: String, problem: String },
    #[error("kill --all of container {id} is refused: it has no PID namespace of its own and its cgroup {cgroup} existed before it, so its processes cannot be told from the others in that cgroup; signal its init (without --all), or give such containers a cgroup of their own")]
    Ambiguous { id: String, cgroup: String },
    #[error("container {id}: {what}: {error}")]
    Io {
        id: String,
        what: String,
        error: std::io::Error,
    },
    #[error("container {id}: {count} of its processes are still alive after SIGKILL (pids {pids}): they may be in uninterruptible sleep or frozen; try again")]
    Survivors {
        id: String,
        count: usize,
        pids: String,
    },
}

/// Who a container's processes are.
#[derive(Debug, Clone)]
pub struct Scope {
    pub id: String,
    pub cgroup: CgroupPath,
    /// The cgroup as the runtime was given it (for messages and libcgroups).
    pub cgroup_raw: PathBuf,
    pub systemd: bool,
    /// The container's `create` made the cgroup: every process in it is the container's.
    pub own_cgroup: bool,
    /// The container's own PID namespace, when it has one and it is known.
    pub pidns: Option<NsId>,
}

impl Scope {
    /// The scope the ledger records.
    pub fn from_ledger(id: &str, ledger: &Ledger) -> Result<Scope, ReapError> {
        let cgroup = checked(id, &ledger.cgroup, ledger.systemd)?;
        Ok(Scope {
            id: id.to_string(),
            cgroup,
            cgroup_raw: ledger.cgroup.clone(),
            systemd: ledger.systemd,
            own_cgroup: !ledger.cgroup_preexisting,
            pidns: ledger.init.and_then(|i| i.pidns),
        })
    }

    /// A container without a ledger (made by an older version): its cgroup from libcontainer's
    /// saved config, `own_cgroup` as that version recorded it, and its PID namespace from its
    /// init, when that init is alive, in the cgroup, and in a PID namespace other than ours.
    pub fn legacy(
        id: &str,
        cgroup_raw: &Path,
        systemd: bool,
        init_pid: Option<i32>,
        own_cgroup: bool,
    ) -> Result<Scope, ReapError> {
        let cgroup = checked(id, cgroup_raw, systemd)?;
        let rel = fs_rel(&cgroup);
        let ours = ns_id("/proc/self/ns/pid");
        let pidns = init_pid
            .filter(|&p| in_cgroup(p, &rel))
            .and_then(|p| ns_id(&format!("/proc/{p}/ns/pid")))
            .filter(|ns| Some(*ns) != ours);
        Ok(Scope {
            id: id.to_string(),
            cgroup,
            cgroup_raw: cgroup_raw.to_path_buf(),
            systemd,
            own_cgroup,
            pidns,
        })
    }

    /// The cgroup's path below each hierarchy's root (`/a/b`).
    pub fn rel(&self) -> PathBuf {
        fs_rel(&self.cgroup)
    }

    /// The container's processes now: pidfds of every process in its cgroup (every hierarchy,
    /// descendants included) that passes the checks of this module.
    pub fn members(&self) -> Result<Vec<(i32, OwnedFd)>, ReapError> {
        if self.pidns.is_none() && !self.own_cgroup {
            return Err(ReapError::Ambiguous {
                id: self.id.clone(),
                cgroup: self.cgroup_raw.display().to_string(),
            });
        }
        let rel = self.rel();
        let mut out = Vec::new();
        for pid in pids_below(&hierarchy_dirs(&rel)) {
            if pid <= 1 || pid == std::process::id() as i32 {
                continue;
            }
            let Some(p) = rustix::process::Pid::from_raw(pid) else {
                continue;
            };
            // Pin the process first: every check below is then of this process or, if it
            // died meanwhile, fails (or is moot: the pidfd of a dead process signals nothing).
            let Ok(fd) = rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty())
            else {
                continue;
            };
            if !in_cgroup(pid, &rel) {
                continue;
            }
            if let Some(ns) = self.pidns {
                if !in_pidns(pid, ns) {
                    continue;
                }
            }
            out.push((pid, fd));
        }
        Ok(out)
    }

    /// Send `signal` to every process of the container; returns how many were signalled.
    pub fn signal_all(&self, signal: i32) -> Result<usize, ReapError> {
        let members = self.members()?;
        let mut sent = 0;
        for (_, fd) in &members {
            if send(fd, signal) {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// SIGKILL every process of the container, again until none is left (processes forked
    /// between a listing and the signals are found by the next round); a fixed number of
    /// rounds, each waiting briefly for the killed ones to exit.
    pub fn kill_all(&self) -> Result<(), ReapError> {
        const ROUNDS: usize = 50;
        for _ in 0..ROUNDS {
            let members = self.members()?;
            if members.is_empty() {
                return Ok(());
            }
            for (_, fd) in &members {
                send(fd, libc::SIGKILL);
            }
            wait_exited(&members, Duration::from_millis(100));
        }
        let alive: Vec<String> = self.members()?.iter().map(|(p, _)| p.to_string()).collect();
        if alive.is_empty() {
            return Ok(());
        }
        Err(ReapError::Survivors {
            id: self.id.clone(),
            count: alive.len(),
            pids: alive.join(","),
        })
    }

    /// Remove the container's cgroup in every hierarchy (deepest first), when it is its own.
    /// After [`kill_all`](Self::kill_all) it holds no process; a process that is not the
    /// container's (moved in by someone else) makes this fail rather than be killed, as
    /// libcgroups' own remove would.
    pub fn remove_cgroup(&self) -> Result<(), ReapError> {
        if !self.own_cgroup {
            return Ok(());
        }
        if self.systemd {
            // The systemd manager stops the container's own transient unit.
            let manager =
                libcgroups::common::create_cgroup_manager(libcgroups::common::CgroupConfig {
                    cgroup_path: self.cgroup_raw.clone(),
                    systemd_cgroup: true,
                    container_name: self.id.clone(),
                })
                .map_err(|e| self.io("open the systemd cgroup", std::io::Error::other(e)))?;
            use libcgroups::common::CgroupManager;
            return manager
                .remove()
                .map_err(|e| self.io("remove the systemd cgroup", std::io::Error::other(e)));
        }
        let rel = self.rel();
        for dir in hierarchy_dirs(&rel) {
            remove_tree(&dir)
                .map_err(|e| self.io(&format!("remove its cgroup {}", dir.display()), e))?;
        }
        Ok(())
    }

    fn io(&self, what: &str, error: std::io::Error) -> ReapError {
        ReapError::Io {
            id: self.id.clone(),
            what: what.to_string(),
            error,
        }
    }
}

fn checked(id: &str, raw: &Path, systemd: bool) -> Result<CgroupPath, ReapError> {
    cgroup_path::normalize(Some(raw), id, systemd).map_err(|p| ReapError::UnsafeCgroup {
        id: id.to_string(),
        problem: p.to_string(),
    })
}

/// Send `signal` through a pidfd; false when the process is gone (or `signal` has no name).
fn send(fd: &OwnedFd, signal: i32) -> bool {
    // Every caller's signal is a named one (nix's `Signal`, SIGKILL): 1..=31.
    let Some(sig) = rustix::process::Signal::from_named_raw(signal) else {
        return false;
    };
    rustix::process::pidfd_send_signal(fd, sig).is_ok()
}

/// Wait until every pidfd reports its process exited, or `timeout`.
fn wait_exited(members: &[(i32, OwnedFd)], timeout: Duration) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let deadline = std::time::Instant::now() + timeout;
    for (_, fd) in members {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ms =
            PollTimeout::try_from(left.as_millis().min(10_000) as u32).unwrap_or(PollTimeout::ZERO);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, ms);
    }
}

/// SIGKILL the helper processes of a `create` that did not finish (libcontainer's clones of it,
/// named `youki:*`, with its command line), and wait for them to exit: they may not have reached
/// the container's cgroup yet, or may still create it. Returns how many were killed.
pub fn kill_strays(creator: &crate::ledger::Creator) -> usize {
    let mut killed = Vec::new();
    let Ok(all) = procfs::process::all_processes() else {
        return 0;
    };
    for p in all.flatten() {
        let pid = p.pid();
        if pid <= 1 || pid == creator.pid || pid == std::process::id() as i32 {
            continue;
        }
        let Some(rp) = rustix::process::Pid::from_raw(pid) else {
            continue;
        };
        let Ok(fd) = rustix::process::pidfd_open(rp, rustix::process::PidfdFlags::empty()) else {
            continue;
        };
        let Ok(stat) = p.stat() else { continue };
        // Clones of the creator: started after it, named by libcontainer, its command line.
        if !stat.comm.starts_with("youki:")
            || stat.starttime < creator.starttime
            || p.cmdline().ok().as_ref() != Some(&creator.cmdline)
        {
            continue;
        }
        if send(&fd, libc::SIGKILL) {
            killed.push((pid, fd));
        }
    }
    wait_exited(&killed, Duration::from_millis(500));
    killed.len()
}

/// SIGKILL an init checked to be the one recorded, and wait for it to exit.
pub fn kill_init(init: &Init) -> std::io::Result<()> {
    if let Some(fd) = pin_init(init)? {
        if send(&fd, libc::SIGKILL) {
            wait_exited(&[(init.pid, fd)], Duration::from_secs(5));
        }
    }
    Ok(())
}

/// A pidfd of the recorded init, when it still exists (its pid with the recorded start time).
fn pin_init(init: &Init) -> std::io::Result<Option<OwnedFd>> {
    let Some(pid) = rustix::process::Pid::from_raw(init.pid) else {
        return Ok(None);
    };
    let fd = match rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::SRCH) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    // Read after the pidfd pinned the process: a recycled pid shows another start time.
    Ok((starttime(init.pid) == Some(init.starttime)).then_some(fd))
}

/// Whether the `create` process the ledger names is still running.
pub fn creator_alive(creator: &crate::ledger::Creator) -> bool {
    running(creator.pid).is_some_and(|starttime| starttime == creator.starttime)
}

/// Whether `pid` names a process that has not exited (a zombie has).
pub fn alive(pid: i32) -> bool {
    running(pid).is_some()
}

/// The start time of `pid`, when it names a process that has not exited.
fn running(pid: i32) -> Option<u64> {
    let stat = procfs::process::Process::new(pid).ok()?.stat().ok()?;
    (!matches!(stat.state, 'Z' | 'X')).then_some(stat.starttime)
}

/// Signal an init checked to be the one recorded: `Ok(false)` when it is gone (or its pid now
/// names another process).
pub fn signal_init(init: &Init, signal: i32) -> std::io::Result<bool> {
    Ok(pin_init(init)?.is_some_and(|fd| send(&fd, signal)))
}

/// `/proc/<pid>/stat`'s start time (clock ticks since boot).
pub fn starttime(pid: i32) -> Option<u64> {
    procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .ok()
        .map(|s| s.starttime)
}

/// The identity of the init process `pid` as the ledger records it.
pub fn init_record(pid: i32, own_pidns: bool) -> Option<Init> {
    let starttime = starttime(pid)?;
    let pidns = if own_pidns {
        Some(ns_id(&format!("/proc/{pid}/ns/pid"))?)
    } else {
        None
    };
    Some(Init {
        pid,
        starttime,
        pidns,
    })
}

pub fn ns_id(path: &str) -> Option<NsId> {
    fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Whether the process is in the PID namespace `ns` or one nested in it.
fn in_pidns(pid: i32, ns: NsId) -> bool {
    let Ok(file) = fs::File::open(format!("/proc/{pid}/ns/pid")) else {
        return false;
    };
    let mut fd: OwnedFd = file.into();
    // A PID namespace is at most 32 levels deep.
    for _ in 0..33 {
        let Ok(st) = nix::sys::stat::fstat(fd.as_raw_fd()) else {
            return false;
        };
        if (st.st_dev, st.st_ino) == ns {
            return true;
        }
        match related_ns(fd.as_fd(), NsRelation::Parent) {
            Ok(parent) => fd = parent,
            Err(_) => return false,
        }
    }
    false
}

/// Whether `/proc/<pid>/cgroup` puts the process in `rel` or below, in any hierarchy.
fn in_cgroup(pid: i32, rel: &Path) -> bool {
    let Ok(groups) = procfs::process::Process::new(pid).and_then(|p| p.cgroups()) else {
        return false;
    };
    groups
        .into_iter()
        .any(|g| Path::new(&g.pathname).starts_with(rel))
}

/// The cgroupfs path below each hierarchy root of a checked cgroup path. A systemd path
/// `slice:prefix:name` is, as libcgroups makes it (for a runtime run as root, with systemd's
/// cgroup root at the hierarchy root), the unit `prefix-name.scope` (or the slice `name`, when
/// it is one) in the slice, whose parents are the slices its dashes name (`a-b.slice` is
/// `/a.slice/a-b.slice`); no slice is `system.slice`, `-.slice` the root.
pub fn fs_rel(cg: &CgroupPath) -> PathBuf {
    match cg {
        CgroupPath::Fs(parts) => PathBuf::from(format!("/{}", parts.join("/"))),
        CgroupPath::Systemd {
            slice,
            prefix,
            name,
        } => {
            let mut p = PathBuf::from("/");
            let slice = if slice.is_empty() {
                "system.slice"
            } else {
                slice
            };
            if let Some(stem) = slice.strip_suffix(".slice").filter(|s| *s != "-") {
                let mut acc = String::new();
                for part in stem.split('-') {
                    if !acc.is_empty() {
                        acc.push('-');
                    }
                    acc.push_str(part);
                    p.push(format!("{acc}.slice"));
                }
            }
            if name.ends_with(".slice") {
                p.push(name);
            } else {
                p.push(format!("{prefix}-{name}.scope"));
            }
            p
        }
    }
}

/// The container's directory in every cgroup hierarchy mounted here (v1 controllers, named
/// hierarchies, the unified one) where it exists. `rel` is never a hierarchy root.
pub fn hierarchy_dirs(rel: &Path) -> Vec<PathBuf> {
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    if rel.as_os_str().is_empty() {
        return Vec::new();
    }
    let mut dirs = BTreeSet::new();
    for m in cgroup_mounts() {
        let d = m.join(rel);
        if d.is_dir() {
            dirs.insert(d);
        }
    }
    dirs.into_iter().collect()
}

/// The mount points of every cgroup hierarchy (read once per process: a command's life is too
/// short for them to change). A cgroup mount of a sub-tree (its root is not "/") is not where
/// cgroupsPath is resolved.
fn cgroup_mounts() -> &'static [PathBuf] {
    static MOUNTS: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    MOUNTS.get_or_init(|| {
        procfs::process::Process::myself()
            .and_then(|p| p.mountinfo())
            .map(|m| m.0)
            .unwrap_or_default()
            .into_iter()
            .filter(|m| (m.fs_type == "cgroup" || m.fs_type == "cgroup2") && m.root == "/")
            .map(|m| m.mount_point)
            .collect()
    })
}

/// Every pid in the cgroup directories and their descendants.
fn pids_below(dirs: &[PathBuf]) -> BTreeSet<i32> {
    fn walk(dir: &Path, out: &mut BTreeSet<i32>, depth: usize) {
        if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
            out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
        if depth == 0 {
            return;
        }
        if let Ok(entries) = fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&e.path(), out, depth - 1);
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    for d in dirs {
        walk(d, &mut out, 64);
    }
    out
}

/// rmdir a cgroup directory and its descendants, deepest first; a few tries while the last
/// killed processes leave it.
fn remove_tree(dir: &Path) -> std::io::Result<()> {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path())?;
            }
        }
    }
    let mut tries = 0;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 50 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_paths_map_to_their_scope() {
        let sd = |raw: &str| {
            fs_rel(&cgroup_path::normalize(Some(Path::new(raw)), "c", true).expect(raw))
        };
        assert_eq!(
            sd("kubepods-burstable-pod1.slice:cri-containerd:abc"),
            PathBuf::from(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-abc.scope"
            )
        );
        assert_eq!(
            sd("system.slice:docker:abc"),
            PathBuf::from("/system.slice/docker-abc.scope")
        );
        assert_eq!(sd(":youki:c"), PathBuf::from("/system.slice/youki-c.scope"));
        assert_eq!(
            sd("docker:c"),
            PathBuf::from("/system.slice/docker-c.scope")
        );
        assert_eq!(sd("-.slice:p:c"), PathBuf::from("/p-c.scope"));
    }

    #[test]
    fn every_signal_kill_takes_has_a_name() {
        // `send` sends only named signals: every signal `kill` parses (nix's) is one.
        for sig in nix::sys::signal::Signal::iterator() {
            let raw = sig as i32;
            let named = rustix::process::Signal::from_named_raw(raw).map(|s| s.as_raw());
            assert_eq!(named, Some(raw), "{sig}");
        }
    }

    #[test]
    fn unsafe_recorded_cgroups_signal_nothing() {
        for raw in ["/", "//", "/..", "a/../..", ""] {
            let l = Ledger {
                cgroup: raw.into(),
                ..Default::default()
            };
            let err = Scope::from_ledger("c", &l).expect_err(raw);
            assert!(
                matches!(err, ReapError::UnsafeCgroup { .. }),
                "{raw}: {err}"
            );
            assert!(Scope::legacy("c", Path::new(raw), false, Some(1), true).is_err());
            assert!(Scope::legacy("c", Path::new(raw), false, None, false).is_err());
        }
    }

    #[test]
    fn a_shared_cgroup_without_a_pid_namespace_is_refused() {
        let l = Ledger {
            cgroup: "/hardened-unit/c".into(),
            cgroup_preexisting: true,
            ..Default::default()
        };
        let s = Scope::from_ledger("c", &l).expect("scope");
        assert!(matches!(s.members(), Err(ReapError::Ambiguous { .. })));
        assert!(matches!(
            s.signal_all(libc::SIGTERM),
            Err(ReapError::Ambiguous { .. })
        ));
    }

    #[test]
    fn this_process_is_in_its_own_pid_namespace_and_cgroup() {
        let me = std::process::id() as i32;
        let ns = ns_id("/proc/self/ns/pid").expect("ns");
        assert!(in_pidns(me, ns));
        assert!(!in_pidns(me, (0, 0)));
        let groups = procfs::process::Process::myself()
            .and_then(|p| p.cgroups())
            .expect("cgroups");
        let own = &groups.0.first().expect("a cgroup").pathname;
        assert!(in_cgroup(me, Path::new(own)));
        assert!(!in_cgroup(me, Path::new("/hardened-no-such-cgroup")));
        let init = init_record(me, true).expect("record");
        assert_eq!(init.pidns, Some(ns));
        // A record whose start time does not match is another process: never signalled.
        let stale = Init {
            starttime: init.starttime + 1,
            ..init
        };
        assert!(!signal_init(&stale, libc::SIGKILL).expect("signal"));
    }
}
