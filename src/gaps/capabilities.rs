//! Gap: libcontainer 0.7 sets the capability sets one at a time, permitted before inheritable,
//! so an inheritable set outside the new permitted one fails with EPERM (`capset failure`).
//!
//! - **Restores**: runc's behaviour (capset(2) of effective, permitted and inheritable in one
//!   call, which the kernel checks as a whole against the old permitted set): a config runc
//!   runs, runs.
//! - **Proved by**: `inheritable_outside_permitted` (this file).
//! - **Goes when**: libcontainer sets effective, permitted and inheritable in one capset(2).
//!
//! The bounding set first (dropping needs `CAP_SETPCAP`), then effective, permitted and
//! inheritable in one capset(2), then the ambient set. A set absent from the config is left as
//! it is, as libcontainer does.
//!
//! capget/capset stay raw syscalls: the `caps` crate sets one set per capset(2) call (the very
//! order this file exists to avoid) and reads only the capabilities it knows by name, while a
//! set the config leaves out must keep every bit the kernel has.

use libcontainer::capabilities::CapabilityExt;
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

/// A capability set could not be changed. The messages are the ones users see.
#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    #[error("drop {cap} from the bounding set: {source}")]
    DropBounding {
        cap: caps::Capability,
        source: caps::errors::CapsError,
    },
    #[error("read the capabilities: {0}")]
    Read(std::io::Error),
    #[error("set the capabilities (effective {effective:#x}, permitted {permitted:#x}, inheritable {inheritable:#x}): {source}")]
    Set {
        effective: u64,
        permitted: u64,
        inheritable: u64,
        source: std::io::Error,
    },
    #[error("set the ambient capabilities: {0}")]
    Ambient(caps::errors::CapsError),
}

fn mask(set: &Capabilities) -> u64 {
    set.iter().fold(0, |m, c| m | c.to_cap().bitmask())
}

/// Set the process's capability sets (see the module documentation).
pub fn set_capabilities(caps: &LinuxCapabilities) -> Result<(), CapsError> {
    let bounding = caps.bounding().as_ref().map(mask).unwrap_or(0);
    for c in caps::all() {
        if bounding & c.bitmask() != 0 {
            continue;
        }
        // A capability this kernel does not know cannot be read: nothing to drop.
        if caps::has_cap(None, caps::CapSet::Bounding, c).unwrap_or(false) {
            caps::drop(None, caps::CapSet::Bounding, c)
                .map_err(|source| CapsError::DropBounding { cap: c, source })?;
        }
    }
    set_effective_permitted_inheritable(caps)?;
    if let Some(ambient) = caps.ambient() {
        let set = ambient.iter().map(|c| c.to_cap()).collect();
        caps::set(None, caps::CapSet::Ambient, &set).map_err(CapsError::Ambient)?;
    }
    Ok(())
}

/// Effective, permitted and inheritable in one capset(2); a set the config leaves out keeps
/// what capget(2) read.
fn set_effective_permitted_inheritable(caps: &LinuxCapabilities) -> Result<(), CapsError> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: `header` and `data` are the version 3 layout capget(2) expects (a header and two
    // data structs, both `repr(C)`), live and writable for the call; pid 0 is this thread.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return Err(CapsError::Read(std::io::Error::last_os_error()));
    }
    let get = |f: fn(&CapData) -> u32| u64::from(f(&data[0])) | u64::from(f(&data[1])) << 32;
    let pick = |set: &Option<Capabilities>, f: fn(&CapData) -> u32| {
        set.as_ref().map(mask).unwrap_or_else(|| get(f))
    };
    let effective = pick(caps.effective(), |d| d.effective);
    let permitted = pick(caps.permitted(), |d| d.permitted);
    let inheritable = pick(caps.inheritable(), |d| d.inheritable);
    for (i, d) in data.iter_mut().enumerate() {
        let shift = 32 * i;
        d.effective = (effective >> shift) as u32;
        d.permitted = (permitted >> shift) as u32;
        d.inheritable = (inheritable >> shift) as u32;
    }
    // SAFETY: as for capget above: the version 3 header and two data structs, only read by the
    // kernel during the call.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } != 0 {
        return Err(CapsError::Set {
            effective,
            permitted,
            inheritable,
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

pub(crate) const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// capset(2)'s header and data (`linux/capability.h`).
#[repr(C)]
pub(crate) struct CapHeader {
    pub(crate) version: u32,
    pub(crate) pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct CapData {
    pub(crate) effective: u32,
    pub(crate) permitted: u32,
    pub(crate) inheritable: u32,
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

    /// runc's result for bounding KILL CHOWN NET_RAW, effective/permitted KILL, inheritable
    /// CHOWN NET_RAW: libcontainer 0.7 fails with EPERM (permitted set before inheritable).
    #[test]
    fn inheritable_outside_permitted() {
        if !crate::test_support::root_or_skip("inheritable_outside_permitted") {
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
        // SAFETY: the child of this (multi-threaded) test process allocates and prints, which
        // glibc keeps usable after fork (its atfork handlers reset the malloc and stdio locks);
        // it changes only its own capabilities and leaves with _exit.
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
                // SAFETY: _exit ends the forked child without running the parent's destructors.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) };
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).expect("wait");
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }
}
