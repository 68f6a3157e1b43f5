//! The last step of a container process before `execve`: its seccomp filter, capabilities and
//! `no_new_privs`, applied by our executor in runc's order.
//!
//! libcontainer 0.7 sets the capability sets one at a time (permitted before inheritable, so an
//! inheritable set outside the new permitted one fails with EPERM), and loads the filter after
//! dropping the capabilities whenever `noNewPrivileges` is present in the config (even `false`,
//! when loading then needs `CAP_SYS_ADMIN` the process no longer has). So `create` and `exec` hand
//! libcontainer a process without capabilities (it then keeps those it has: all of them, across
//! its uid change) and without `linux.seccomp`, and [`Confinement::apply`] does:
//!
//! - `noNewPrivileges` false: load the filter (with `CAP_SYS_ADMIN` still held), then set the
//!   capabilities;
//! - `noNewPrivileges` true: set the capabilities, set `no_new_privs`, load the filter last.
//!
//! Capabilities: the bounding set first (dropping needs `CAP_SETPCAP`), then effective, permitted
//! and inheritable in one capset(2) (which the kernel checks as a whole, against the old
//! permitted set), then the ambient set. A set absent from the config is left as it is, as
//! libcontainer does.

use std::path::Path;

use libcontainer::capabilities::CapabilityExt;
use oci_spec::runtime::{Capabilities, LinuxCapabilities, Process, Spec};

use crate::seccomp::bpf::{self, BpfError, Filter};

#[derive(Clone, Debug, Default)]
pub struct Confinement {
    /// The compiled seccomp filter, if the process gets one.
    pub filter: Option<Filter>,
    /// The process's capabilities; None leaves them as libcontainer left them.
    pub capabilities: Option<LinuxCapabilities>,
    pub no_new_privileges: bool,
}

impl Confinement {
    /// Apply everything, in runc's order (see the module documentation).
    pub fn apply(&self) -> Result<(), String> {
        if !self.no_new_privileges {
            self.load_filter()?;
        }
        if let Some(caps) = &self.capabilities {
            set_capabilities(caps)?;
        }
        if self.no_new_privileges {
            nix::sys::prctl::set_no_new_privs().map_err(|e| format!("set no_new_privs: {e}"))?;
            self.load_filter()?;
        }
        Ok(())
    }

    fn load_filter(&self) -> Result<(), String> {
        match &self.filter {
            Some(f) => f.load().map_err(|e| {
                format!(
                    "load the seccomp filter: {e}{}",
                    if e == nix::errno::Errno::EACCES {
                        " (loading needs no_new_privs or CAP_SYS_ADMIN)"
                    } else {
                        ""
                    }
                )
            }),
            None => Ok(()),
        }
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
    };
    process.set_capabilities(None);
    Ok(Some(confine))
}

fn mask(set: &Capabilities) -> u64 {
    set.iter().fold(0, |m, c| m | c.to_cap().bitmask())
}

/// Set the process's capability sets (see the module documentation).
pub fn set_capabilities(caps: &LinuxCapabilities) -> Result<(), String> {
    let bounding = caps.bounding().as_ref().map(mask).unwrap_or(0);
    for c in caps::all() {
        if bounding & c.bitmask() != 0 {
            continue;
        }
        // A capability this kernel does not know cannot be read: nothing to drop.
        if caps::has_cap(None, caps::CapSet::Bounding, c).unwrap_or(false) {
            caps::drop(None, caps::CapSet::Bounding, c)
                .map_err(|e| format!("drop {c} from the bounding set: {e}"))?;
        }
    }

    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and data are the version 3 layout (two data structs).
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return Err(format!(
            "read the capabilities: {}",
            std::io::Error::last_os_error()
        ));
    }
    let get = |f: fn(&CapData) -> u32| u64::from(f(&data[0])) | u64::from(f(&data[1])) << 32;
    let effective = caps
        .effective()
        .as_ref()
        .map(mask)
        .unwrap_or_else(|| get(|d| d.effective));
    let permitted = caps
        .permitted()
        .as_ref()
        .map(mask)
        .unwrap_or_else(|| get(|d| d.permitted));
    let inheritable = caps
        .inheritable()
        .as_ref()
        .map(mask)
        .unwrap_or_else(|| get(|d| d.inheritable));
    for (i, d) in data.iter_mut().enumerate() {
        let shift = 32 * i;
        d.effective = (effective >> shift) as u32;
        d.permitted = (permitted >> shift) as u32;
        d.inheritable = (inheritable >> shift) as u32;
    }
    // SAFETY: as above.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } != 0 {
        return Err(format!(
            "set the capabilities (effective {effective:#x}, permitted {permitted:#x}, inheritable {inheritable:#x}): {}",
            std::io::Error::last_os_error()
        ));
    }

    if let Some(ambient) = caps.ambient() {
        let set = ambient.iter().map(|c| c.to_cap()).collect();
        caps::set(None, caps::CapSet::Ambient, &set)
            .map_err(|e| format!("set the ambient capabilities: {e}"))?;
    }
    Ok(())
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{Capability, LinuxCapabilitiesBuilder};

    fn status_field(name: &str) -> String {
        let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        s.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    }

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

    /// runc's result for bounding KILL CHOWN NET_RAW, effective/permitted KILL, inheritable
    /// CHOWN NET_RAW: libcontainer 0.7 fails with EPERM (permitted set before inheritable).
    #[test]
    fn inheritable_outside_permitted() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let set = |c: &[Capability]| c.iter().copied().collect::<Capabilities>();
        let caps = LinuxCapabilitiesBuilder::default()
            .bounding(set(&[
                Capability::Kill,
                Capability::Chown,
                Capability::NetRaw,
            ]))
            .effective(set(&[Capability::Kill]))
            .permitted(set(&[Capability::Kill]))
            .inheritable(set(&[Capability::Chown, Capability::NetRaw]))
            .ambient(set(&[]))
            .build()
            .expect("caps");
        match unsafe { nix::unistd::fork() }.expect("fork") {
            nix::unistd::ForkResult::Child => {
                let r = set_capabilities(&caps);
                eprintln!(
                    "{r:?} CapInh {} CapPrm {} CapEff {} CapBnd {}",
                    status_field("CapInh"),
                    status_field("CapPrm"),
                    status_field("CapEff"),
                    status_field("CapBnd")
                );
                let ok = r.is_ok()
                    && status_field("CapInh") == "0000000000002001"
                    && status_field("CapPrm") == "0000000000000020"
                    && status_field("CapEff") == "0000000000000020"
                    && status_field("CapBnd") == "0000000000002021";
                unsafe { libc::_exit(if ok { 0 } else { 1 }) };
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).expect("wait");
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }
}
