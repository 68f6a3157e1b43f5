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
//!
//! Validation follows runc: a process whose `args[0]` is a path (it has a `/`) runs without a
//! `PATH` in its environment (Kubernetes sandbox images and `docker import`ed images may have
//! none); libcontainer's default validation would refuse it ("PATH environment variable is not
//! set").

use std::os::unix::fs::PermissionsExt;

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
        crate::compat::in_container(spec).map_err(ExecutorError::Other)?;
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
        let process = spec.process().as_ref();
        let arg0 = process
            .and_then(|p| p.args().as_ref())
            .and_then(|a| a.first());
        let has_path_env = process
            .and_then(|p| p.env().as_ref())
            .is_some_and(|env| env.iter().any(|e| e.starts_with("PATH=")));
        match arg0 {
            Some(arg0) if arg0.contains('/') && !has_path_env => validate_executable(arg0),
            _ => DefaultExecutor {}.validate(spec),
        }
    }
}

/// `path` (relative to the working directory when not absolute) is an executable file.
fn validate_executable(path: &str) -> Result<(), ExecutorValidationError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        ExecutorValidationError::ArgValidationError(format!("executable '{path}': {e}"))
    })?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(ExecutorValidationError::ArgValidationError(format!(
            "executable '{path}' is not an executable file"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use libcontainer::oci_spec::runtime::{ProcessBuilder, SpecBuilder};

    fn spec(args: &[&str], env: Option<&[&str]>) -> Spec {
        let mut p = ProcessBuilder::default()
            .args(args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .build()
            .expect("process");
        p.set_env(env.map(|e| e.iter().map(|s| s.to_string()).collect()));
        SpecBuilder::default().process(p).build().expect("spec")
    }

    #[test]
    fn a_path_runs_without_path_in_the_environment() {
        let dir = tempfile::tempdir().expect("temp dir");
        let exe = dir.path().join("pause");
        std::fs::write(&exe, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let exe = exe.display().to_string();
        let ex = HardenedExecutor::default();
        ex.validate(&spec(&[&exe], None)).expect("no env");
        ex.validate(&spec(&[&exe], Some(&["HOME=/"])))
            .expect("env without PATH");

        let plain = dir.path().join("data");
        std::fs::write(&plain, "").expect("write");
        let plain = plain.display().to_string();
        assert!(
            ex.validate(&spec(&[&plain], None)).is_err(),
            "not executable"
        );
        assert!(ex.validate(&spec(&["/nonexistent/pause"], None)).is_err());
        assert!(
            ex.validate(&spec(&[dir.path().to_str().expect("utf-8")], None))
                .is_err(),
            "a directory"
        );
    }

    #[test]
    fn a_bare_name_still_needs_path() {
        let ex = HardenedExecutor::default();
        assert!(ex.validate(&spec(&["sh"], None)).is_err());
        ex.validate(&spec(&["sh"], Some(&["PATH=/usr/bin:/bin"])))
            .expect("sh in PATH");
    }
}
