//! Gaps: libcontainer 0.7 leaves the container's seccomp filter out of `exec`'d processes, and
//! loads a process's filter after dropping the capabilities whenever `noNewPrivileges` is
//! present (even `false`, when loading then needs `CAP_SYS_ADMIN` the process no longer has).
//! Our executor applies the filter, the capabilities and `no_new_privs` as the last step before
//! `execve`, in runc's order.
//!
//! - **Restores**: config-linux.md Seccomp (the container's filter applies to every process of
//!   the container, `exec`'d ones included); runc's order (`libcontainer/standard_init_linux.go`):
//!   without `no_new_privs` the filter is loaded first, with `CAP_SYS_ADMIN` still held.
//! - **Proved by**: `split_init_takes_over_only_what_libcontainer_gets_wrong` (this file);
//!   `docker_exec_gets_the_container_treatment_and_privileged_exec_is_refused`
//!   (integration/policy.rs); conformance case `seccomp/nonroot-without-no-new-privs`.
//! - **Goes when**: libcontainer's tenant builder keeps the container's `linux.seccomp` for
//!   `exec`, and its init loads the filter before dropping capabilities when `no_new_privs` is
//!   off. The capability half is [`super::capabilities`].
//!
//! So `create` and `exec` hand libcontainer a process without capabilities (it then keeps those
//! it has: all of them, across its uid change) and without `linux.seccomp`, and
//! [`Confinement::apply`] does:
//!
//! - `noNewPrivileges` false: load the filter (with `CAP_SYS_ADMIN` still held), then set the
//!   capabilities;
//! - `noNewPrivileges` true: set the capabilities, set `no_new_privs`, load the filter last.

use std::path::Path;

use oci_spec::runtime::{LinuxCapabilities, Process, Spec};

use super::capabilities::{set_capabilities, CapsError};
use crate::seccomp::bpf::{self, BpfError, Filter};

/// Why the executor could not confine the process. The messages are the ones users see.
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    #[error("load the seccomp filter: {0}{hint}", hint = load_hint(*.0))]
    LoadFilter(nix::errno::Errno),
    #[error("set no_new_privs: {0}")]
    NoNewPrivs(nix::errno::Errno),
    #[error(transparent)]
    Capabilities(#[from] CapsError),
}

#[derive(Clone, Debug, Default)]
pub struct Confinement {
    /// The compiled seccomp filter, if the process gets one.
    pub filter: Option<Filter>,
    /// The process's capabilities; None leaves them as libcontainer left them.
    pub capabilities: Option<LinuxCapabilities>,
    pub no_new_privileges: bool,
    /// Syscall hints: the connection (inherited from `create`) the filter's listener is sent
    /// on right after loading (`crate::syscall_hints`). The filter is then the notifying one.
    pub hints_sock: Option<std::os::fd::RawFd>,
}

fn load_hint(e: nix::errno::Errno) -> &'static str {
    if e == nix::errno::Errno::EACCES {
        " (loading needs no_new_privs or CAP_SYS_ADMIN)"
    } else {
        ""
    }
}

impl Confinement {
    /// Apply everything, in runc's order (see the module documentation).
    pub fn apply(&self) -> Result<(), ConfineError> {
        if !self.no_new_privileges {
            self.load_filter()?;
        }
        if let Some(caps) = &self.capabilities {
            set_capabilities(caps)?;
        }
        if self.no_new_privileges {
            nix::sys::prctl::set_no_new_privs().map_err(ConfineError::NoNewPrivs)?;
            self.load_filter()?;
        }
        Ok(())
    }

    fn load_filter(&self) -> Result<(), ConfineError> {
        let Some(f) = &self.filter else {
            return Ok(());
        };
        let listener = f.load_with_listener().map_err(ConfineError::LoadFilter)?;
        if let (Some(sock), Some(listener)) = (self.hints_sock, listener) {
            // Sent at once: a refused call from here on waits for the daemon. Should the send
            // fail, the listener closes with it and refused calls return ENOSYS: still refused.
            let _ = crate::syscall_hints::send_listener(sock, listener);
        }
        Ok(())
    }
}

/// For `create`: take the container process's filter and capabilities out of `spec` (the spec
/// libcontainer gets) into the returned confinement, the filter compiled through the cache under
/// `root`. None, and `spec` unchanged, when libcontainer gets it right by itself (no profile,
/// and an inheritable set within the permitted one), or when the profile uses SCMP_ACT_NOTIFY
/// (libcontainer's path hands the listener its descriptor; it keeps all of it). Leaving a spec
/// unchanged matters: a changed one goes to libcontainer as a shadow bundle, which hooks then
/// see as the container's bundle.
pub fn split_init(root: &Path, spec: &mut Spec) -> Result<Option<Confinement>, BpfError> {
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().clone());
    if seccomp
        .as_ref()
        .is_some_and(libcontainer::seccomp::is_notify)
    {
        return Ok(None);
    }
    let Some(mut process) = spec.process().clone() else {
        return Ok(None);
    };
    let caps_in_order =
        process
            .capabilities()
            .as_ref()
            .is_none_or(|c| match (c.inheritable(), c.permitted()) {
                (Some(i), Some(p)) => i.is_subset(p),
                _ => true,
            });
    if seccomp.is_none() && caps_in_order {
        return Ok(None);
    }
    let filter = seccomp.as_ref().map(|s| bpf::cached(root, s)).transpose()?;
    let confine = Confinement {
        filter,
        capabilities: process.capabilities().clone(),
        no_new_privileges: process.no_new_privileges() == Some(true),
        hints_sock: None,
    };
    process.set_capabilities(None);
    spec.set_process(Some(process));
    if let Some(mut linux) = spec.linux().clone() {
        linux.set_seccomp(None);
        spec.set_linux(Some(linux));
    }
    Ok(Some(confine))
}

/// For `exec`: the confinement of `process` (its capabilities, taken out of it) in `container`
/// (whose filter it gets, compiled through the cache under `root`). Never weaker than the
/// container: `no_new_privs` when the process or the container's process asks for it.
pub fn split_exec(
    root: &Path,
    container: &Spec,
    process: &mut Process,
) -> Result<Option<Confinement>, BpfError> {
    let mut seccomp = container.linux().as_ref().and_then(|l| l.seccomp().clone());
    if let Some(s) = seccomp.as_mut() {
        if crate::seccomp::migrate_legacy_clone_rule(s) {
            tracing::info!(
                "the container's clone rule has the form of an earlier version: read as it was meant"
            );
        }
    }
    let seccomp = seccomp.as_ref();
    if seccomp.is_some_and(libcontainer::seccomp::is_notify) {
        return Err(BpfError::Invalid(
            "the container's seccomp profile uses SCMP_ACT_NOTIFY, which exec does not support"
                .into(),
        ));
    }
    if seccomp.is_none() && process.capabilities().is_none() {
        return Ok(None);
    }
    let filter = seccomp.map(|s| bpf::cached(root, s)).transpose()?;
    let container_nnp = container
        .process()
        .as_ref()
        .and_then(|p| p.no_new_privileges())
        == Some(true);
    let confine = Confinement {
        filter,
        capabilities: process.capabilities().clone(),
        no_new_privileges: process.no_new_privileges() == Some(true) || container_nnp,
        hints_sock: None,
    };
    process.set_capabilities(None);
    Ok(Some(confine))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{Capabilities, Capability};

    #[test]
    fn split_init_takes_over_only_what_libcontainer_gets_wrong() {
        let root = tempfile::tempdir().expect("temp dir");
        let set = |c: &[Capability]| c.iter().copied().collect::<Capabilities>();
        let with = |inh: &[Capability], seccomp: Option<oci_spec::runtime::LinuxSeccomp>| {
            let mut spec = Spec::default();
            let mut p = spec.process().clone().unwrap_or_default();
            let mut caps = LinuxCapabilities::default();
            caps.set_permitted(Some(set(&[Capability::Kill])))
                .set_inheritable(Some(set(inh)));
            p.set_capabilities(Some(caps));
            spec.set_process(Some(p));
            let mut linux = spec.linux().clone().unwrap_or_default();
            linux.set_seccomp(seccomp);
            spec.set_linux(Some(linux));
            spec
        };
        // No profile, inheritable within permitted: libcontainer's path, spec unchanged.
        let mut spec = with(&[Capability::Kill], None);
        let before = spec.clone();
        assert!(split_init(root.path(), &mut spec).expect("split").is_none());
        assert_eq!(spec, before);
        // Inheritable outside permitted: ours.
        let mut spec = with(&[Capability::Chown], None);
        let c = split_init(root.path(), &mut spec)
            .expect("split")
            .expect("confinement");
        assert!(c.filter.is_none() && c.capabilities.is_some());
        assert!(spec
            .process()
            .as_ref()
            .expect("process")
            .capabilities()
            .is_none());
        // A profile: ours, compiled, out of the spec.
        let mut spec = with(&[], Some(crate::seccomp::default_profile()));
        let c = split_init(root.path(), &mut spec)
            .expect("split")
            .expect("confinement");
        assert!(c.filter.is_some());
        assert!(spec.linux().as_ref().expect("linux").seccomp().is_none());
        // SCMP_ACT_NOTIFY: libcontainer's path.
        let mut notify = crate::seccomp::default_profile();
        let mut rule = oci_spec::runtime::LinuxSyscall::default();
        rule.set_names(vec!["mkdir".into()])
            .set_action(oci_spec::runtime::LinuxSeccompAction::ScmpActNotify);
        notify.set_syscalls(Some(vec![rule]));
        let mut spec = with(&[Capability::Chown], Some(notify));
        let before = spec.clone();
        assert!(split_init(root.path(), &mut spec).expect("split").is_none());
        assert_eq!(spec, before);
    }
}
