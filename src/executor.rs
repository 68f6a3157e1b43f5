//! The workload executor: runs inside the container just before `execve`.
//!
//! `libcontainer` 0.7 rebuilds the spec of an `exec`'d process from the namespaces, cgroup path,
//! personality and time offsets of its container only: the container's seccomp filter is left
//! out, so a process started by `exec` would run unfiltered. The executor re-applies the
//! container's filter to `exec`'d processes. Loading a filter without `CAP_SYS_ADMIN` needs
//! `no_new_privs`, so such a process gets `no_new_privs` too: never weaker than its container.

use libcontainer::oci_spec::runtime::{LinuxSeccomp, Spec};
use libcontainer::workload::default::DefaultExecutor;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};

#[derive(Clone, Default)]
pub struct HardenedExecutor {
    /// The container's seccomp profile, applied here for `exec`'d processes (None for init:
    /// libcontainer applies it itself).
    pub exec_seccomp: Option<LinuxSeccomp>,
}

impl Executor for HardenedExecutor {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
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
