//! The cgroup of a container: its manager, whether it existed before `create`, and the head
//! start of the attach to it.

use anyhow::{Context, Result};
use libcgroups::common::{AnyCgroupManager, CgroupConfig};
use libcontainer::container::Container;

pub fn manager(c: &Container) -> Result<AnyCgroupManager> {
    let config = c
        .spec()
        .with_context(|| format!("load the saved config of container {}", c.id()))?;
    libcgroups::common::create_cgroup_manager(CgroupConfig {
        cgroup_path: config.cgroup_path,
        systemd_cgroup: c.systemd(),
        container_name: c.id().to_string(),
    })
    .with_context(|| format!("open the cgroup of container {}", c.id()))
}

/// Marker that older versions wrote in a container's state directory: its cgroup existed
/// before `create`, so `delete` leaves it (runtime.md Delete). The ledger records this now;
/// the marker is still read for containers those versions made.
pub const PREEXISTING_FILE: &str = "hardened-cgroup-preexisting";

pub fn preexisting(state_dir: &std::path::Path) -> bool {
    state_dir.join(PREEXISTING_FILE).exists()
}

/// Whether the cgroupfs cgroup `cgroup_path` (libcontainer's `get_cgroup_path`) exists already
/// in any cgroup hierarchy mounted here: then it is not the container's own, and neither
/// `delete` nor a signal by cgroup alone may treat it as such (`crate::reap`). Systemd units
/// (`--systemd-cgroup`) are made by systemd's manager: never "existing" here.
pub fn exists(cgroup_path: &std::path::Path, systemd: bool) -> bool {
    use crate::policy::rules::cgroup_path::normalize;
    if systemd {
        return false;
    }
    match normalize(Some(cgroup_path), "", false) {
        Ok(cg) => !crate::reap::hierarchy_dirs(&crate::reap::fs_rel(&cg)).is_empty(),
        // Refused by the cgroup-path rule before this is asked; never "own" if it were not.
        Err(_) => true,
    }
}

/// Start the grace period that putting the container's first process into its cgroup waits
/// for, early and in parallel with the rest of `create`/`exec`.
///
/// Moving a process between cgroups (`cgroup.procs`, cgroup v1 and v2) takes a global
/// per-CPU rwsem for writing; taking it from idle waits for an RCU grace period (about 11 ms
/// on these machines, the largest single cost of a container start: crun and runc pay it too),
/// and it stays cheap to take for about one more grace period after the last writer. So a
/// child process moves *itself* into the cgroup it is already in (a no-op move that still takes
/// the rwsem) at the start of the command, while the parent goes on parsing, idmapping and
/// forking; by the time libcontainer moves the container's process, the grace period has passed
/// or is under way. Nothing changes on the host; any failure only means no head start. The
/// returned guard reaps the child when dropped (it has long exited by the end of a successful
/// create; a create refused early waits at most the rest of one grace period), so no command
/// leaves a process behind.
pub fn prewarm_attach() -> Prewarm {
    Prewarm(fork_prewarm_child())
}

/// The head-start child of [`prewarm_attach`]; waited for on drop.
pub struct Prewarm(Option<i32>);

impl Drop for Prewarm {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            // ECHILD when `run`/`exec` already reaped it while waiting for their process.
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
    }
}

fn fork_prewarm_child() -> Option<i32> {
    let path = own_procs_file()?;
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: the child runs only `prewarm_child`: async-signal-safe system calls (open,
    // write, close, _exit) on a path made before the fork; it allocates nothing and takes no
    // lock, so a lock another thread of the parent held at the fork cannot block it.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => prewarm_child(&path),
        Ok(nix::unistd::ForkResult::Parent { child }) => Some(child.as_raw()),
        Err(_) => None,
    }
}

/// The child of [`fork_prewarm_child`]: write itself into `procs`. Its exit status says whether
/// the move (and so the head start) happened.
fn prewarm_child(procs: &std::ffi::CStr) -> ! {
    use rustix::fs::{open, Mode, OFlags};
    let moved = open(procs, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
        .and_then(|fd| rustix::io::write(&fd, b"0"))
        == Ok(1);
    // SAFETY: _exit(2) has no preconditions; it ends this forked child at once, without
    // running the parent's atexit handlers or flushing its stdio buffers, which a fork must
    // not do.
    unsafe { libc::_exit(if moved { 0 } else { 1 }) }
}

/// `cgroup.procs` of this process's own cgroup in one hierarchy (v1 `pids`, else the v2 one).
fn own_procs_file() -> Option<std::path::PathBuf> {
    let groups = procfs::process::Process::myself().ok()?.cgroups().ok()?;
    own_procs_file_from(&groups, std::path::Path::new("/sys/fs/cgroup"))
}

fn own_procs_file_from(
    groups: &procfs::ProcessCGroups,
    base: &std::path::Path,
) -> Option<std::path::PathBuf> {
    let mut unified = None;
    for g in groups {
        let rel = g.pathname.trim_start_matches('/');
        if g.controllers.iter().any(|c| c == "pids") {
            return Some(base.join("pids").join(rel).join("cgroup.procs"));
        }
        if g.controllers.is_empty() {
            unified = Some(base.join(rel).join("cgroup.procs"));
        }
    }
    unified.filter(|_| base.join("cgroup.controllers").exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> procfs::ProcessCGroups {
        use procfs::FromRead;
        procfs::ProcessCGroups::from_read(text.as_bytes()).expect("parse")
    }

    #[test]
    fn own_cgroup_is_found_in_the_pids_hierarchy_or_the_unified_one() {
        let v1 = parse("12:pids:/user.slice/u.scope\n1:name=systemd:/user.slice\n0::/user.slice\n");
        assert_eq!(
            own_procs_file_from(&v1, std::path::Path::new("/sys/fs/cgroup")),
            Some("/sys/fs/cgroup/pids/user.slice/u.scope/cgroup.procs".into())
        );
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("cgroup.controllers"), "").expect("write");
        assert_eq!(
            own_procs_file_from(&parse("0::/a/b\n"), dir.path()),
            Some(dir.path().join("a/b/cgroup.procs"))
        );
        assert_eq!(
            own_procs_file_from(&parse("0::/a/b\n"), std::path::Path::new("/nonexistent")),
            None
        );
    }

    #[test]
    fn the_guard_leaves_no_child_behind() {
        let guard = prewarm_attach();
        let pid = guard.0.expect("forked");
        drop(guard);
        // Reaped: no such process any more (not even a zombie).
        assert!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err());
    }

    #[test]
    fn the_head_start_moves_the_child_and_leaves_this_process_where_it_was() {
        let before = std::fs::read_to_string("/proc/self/cgroup").expect("read");
        let child = fork_prewarm_child().expect("forked");
        let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None);
        // The child wrote itself into its cgroup.procs (root can): the rwsem was taken.
        assert!(
            matches!(status, Ok(nix::sys::wait::WaitStatus::Exited(_, 0))),
            "{status:?}"
        );
        assert_eq!(
            std::fs::read_to_string("/proc/self/cgroup").expect("read"),
            before
        );
    }
}
