//! The workload executor: runs inside the container just before `execve`.
//!
//! `libcontainer` 0.7 rebuilds the spec of an `exec`'d process from the namespaces, cgroup path,
//! personality and time offsets of its container only: the container's seccomp filter is left
//! out, so a process started by `exec` would run unfiltered. The executor re-applies the
//! container's filter to `exec`'d processes. Loading a filter without `CAP_SYS_ADMIN` needs
//! `no_new_privs`, so such a process gets `no_new_privs` too: never weaker than its container.
//!
//! It also joins the container's user namespace, which libcontainer 0.7's tenant builder leaves
//! out (it joins ipc, uts, net, pid, mnt, cgroup and time only): `exec` hands libcontainer the
//! process as host root with its capabilities untouched, and the executor then enters the user
//! namespace and takes the process's own identity there (groups, uid/gid, capabilities), as the
//! container's init got them. Without this, `docker exec` into a container with a user
//! namespace would run as host root.

use std::os::fd::RawFd;

use libcontainer::capabilities;
use libcontainer::oci_spec::runtime::{LinuxCapabilities, LinuxSeccomp, Spec, User};
use libcontainer::syscall::syscall::SyscallType;
use libcontainer::workload::default::DefaultExecutor;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use nix::sched::CloneFlags;
use nix::unistd::{Gid, Uid};

#[derive(Clone, Default)]
pub struct HardenedExecutor {
    /// The container's seccomp profile, applied here for `exec`'d processes (None for init:
    /// libcontainer applies it itself).
    pub exec_seccomp: Option<LinuxSeccomp>,
    /// For an `exec`'d process of a container with a user namespace: that namespace and the
    /// identity to take in it.
    pub exec_userns: Option<JoinUserns>,
}

/// The user namespace of a container, open in the `exec` process (the descriptor is inherited
/// across libcontainer's forks; libcontainer marks it close-on-exec), and the user and
/// capabilities of the process to run in it.
#[derive(Clone)]
pub struct JoinUserns {
    pub fd: RawFd,
    pub user: User,
    pub capabilities: Option<LinuxCapabilities>,
}

fn other(what: &str, e: impl std::fmt::Display) -> ExecutorError {
    ExecutorError::Other(format!("{what}: {e}"))
}

impl JoinUserns {
    /// Enter the namespace, then become the process's user: supplementary groups, gid and uid
    /// (keeping capabilities across the uid change), then the process's capability sets.
    fn enter(&self) -> Result<(), ExecutorError> {
        let syscall = SyscallType::default().create_syscall();
        syscall
            .set_ns(self.fd, CloneFlags::CLONE_NEWUSER)
            .map_err(|e| other("join the container's user namespace", e))?;
        let groups: Vec<Gid> = self
            .user
            .additional_gids()
            .iter()
            .flatten()
            .map(|g| Gid::from_raw(*g))
            .collect();
        syscall.set_groups(&groups).map_err(|e| {
            other(
                &format!("set the supplementary groups {groups:?} in the user namespace"),
                e,
            )
        })?;
        let (uid, gid) = (self.user.uid(), self.user.gid());
        syscall
            .set_id(Uid::from_raw(uid), Gid::from_raw(gid))
            .map_err(|e| {
                other(
                    &format!("become uid {uid} gid {gid} in the container's user namespace (is the id mapped?)"),
                    e,
                )
            })?;
        capabilities::reset_effective(syscall.as_ref())
            .map_err(|e| other("reset effective capabilities", e))?;
        if let Some(caps) = &self.capabilities {
            capabilities::drop_privileges(caps, syscall.as_ref())
                .map_err(|e| other("set the process's capabilities", e))?;
        }
        Ok(())
    }
}

impl Executor for HardenedExecutor {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        if let Some(join) = &self.exec_userns {
            join.enter()?;
        }
        if let Some(seccomp) = &self.exec_seccomp {
            if libcontainer::seccomp::is_notify(seccomp) {
                return Err(ExecutorError::Other(
                    "the container's seccomp profile uses SCMP_ACT_NOTIFY, which exec does not support".into(),
                ));
            }
            nix::sys::prctl::set_no_new_privs().map_err(|e| {
                ExecutorError::Other(format!("set no_new_privs for the exec'd process: {e}"))
            })?;
            libcontainer::seccomp::initialize_seccomp(seccomp).map_err(|e| {
                ExecutorError::Other(format!(
                    "apply the container's seccomp profile to the exec'd process: {e}"
                ))
            })?;
        }
        DefaultExecutor {}.exec(spec)
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        DefaultExecutor {}.validate(spec)
    }
}
