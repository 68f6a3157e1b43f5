//! The workload executor: runs inside the container just before `execve`.
//!
//! It applies the process's seccomp filter, capabilities and `no_new_privs`
//! ([`crate::gaps::confine`]), for the container's init and for `exec`'d processes alike: `create` and
//! `exec` hand libcontainer the process without them (libcontainer 0.7 applies them in an order
//! the kernel refuses for some configs, and leaves the container's filter out of `exec`'d
//! processes). The filter is compiled in the parent; nothing is compiled here.
//!
//! It also joins the container's user namespace, which libcontainer 0.7's tenant builder leaves
//! out (it joins ipc, uts, net, pid, mnt, cgroup and time only): `exec` hands libcontainer the
//! process as host root with its capabilities untouched, and the executor then enters the user
//! namespace and takes the process's own identity there (groups, uid/gid; then its capabilities
//! with the rest of `confine`), as the container's init got them. Without this, `docker exec`
//! into a container with a user namespace would run as host root.
//!
//! Validation follows runc: a process whose `args[0]` is a path (it has a `/`) runs without a
//! `PATH` in its environment (Kubernetes sandbox images and `docker import`ed images may have
//! none); libcontainer's default validation would refuse it ("PATH environment variable is not
//! set").

use std::os::unix::fs::PermissionsExt;

use std::os::fd::RawFd;

use libcontainer::capabilities;
use libcontainer::oci_spec::runtime::{Spec, User};
use libcontainer::syscall::syscall::SyscallType;
use libcontainer::workload::default::DefaultExecutor;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use nix::sched::CloneFlags;
use nix::unistd::{Gid, Uid};

#[derive(Clone, Default)]
pub struct HardenedExecutor {
    /// Seccomp filter, capabilities and no_new_privs of the process, applied last (None: left
    /// to libcontainer, e.g. for SCMP_ACT_NOTIFY profiles).
    pub confine: Option<crate::gaps::confine::Confinement>,
    /// For an `exec`'d process of a container with a user namespace: that namespace and the
    /// identity to take in it.
    pub exec_userns: Option<JoinUserns>,
    /// For the container's init: its startContainer hooks and the report to `start`
    /// (`gaps/hooks/`).
    pub init: Option<crate::gaps::hooks::InitStart>,
    /// When a console socket was given: the uid the container's terminal goes to, as the
    /// executor's user namespace sees it when it starts (`gaps/console_owner.rs`).
    pub console_uid: Option<u32>,
}

/// The user namespace of a container, open in the `exec` process (the descriptor is inherited
/// across libcontainer's forks; libcontainer marks it close-on-exec), and the user of the
/// process to run in it (its capabilities are the executor's `confine`).
#[derive(Clone)]
pub struct JoinUserns {
    pub fd: RawFd,
    pub user: User,
}

fn other(what: &str, e: impl std::fmt::Display) -> ExecutorError {
    ExecutorError::Other(format!("{what}: {e}"))
}

impl JoinUserns {
    /// Enter the namespace, then become the process's user: supplementary groups, gid and uid
    /// (keeping capabilities across the uid change).
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
        Ok(())
    }
}

impl Executor for HardenedExecutor {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        let result = self.prepare_and_exec(spec);
        // Reached only on failure (a successful exec does not return): tell `start`.
        if let (Err(e), Some(init)) = (&result, &self.init) {
            crate::gaps::hooks::report(init.report_fd, e.to_string().as_bytes());
        }
        result
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        let result = self.validate_process(spec);
        if let (Err(e), Some(init)) = (&result, &self.init) {
            crate::gaps::hooks::report(init.report_fd, e.to_string().as_bytes());
        }
        result
    }
}

impl HardenedExecutor {
    fn prepare_and_exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        if let Some(uid) = self.console_uid {
            crate::gaps::console_owner::give(uid);
        }
        crate::gaps::console::in_container(spec)
            .map_err(|e| ExecutorError::Other(e.to_string()))?;
        if let Some(join) = &self.exec_userns {
            join.enter()?;
        }
        crate::lsm::selinux::set_exec_label(spec).map_err(ExecutorError::Other)?;
        if let Some(confine) = &self.confine {
            confine
                .apply()
                .map_err(|e| ExecutorError::Other(e.to_string()))?;
        }
        if let Some(init) = &self.init {
            init.run_start_container_hooks()
                .map_err(|e| ExecutorError::Other(format!("{e:#}")))?;
            crate::gaps::hooks::report(init.report_fd, &[crate::gaps::hooks::EXEC_MARK]);
        }
        DefaultExecutor {}.exec(spec)
    }

    fn validate_process(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
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
