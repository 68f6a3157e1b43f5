//! Gap: libcontainer 0.7 ignores per-mount propagation options (`shared`, `rslave`,
//! `unbindable`, ...) and passes `nosymfollow` to the filesystem as data (`EINVAL`).
//!
//! - **Restores**: config.md Mounts: `options` "... MUST support ... propagation" and the
//!   `nosymfollow` option of mount(8).
//! - **Proved by**: `propagation_and_nosymfollow_leave_the_options_libcontainer_sees`,
//!   `symfollow_alone_is_dropped_without_a_fixup_and_plain_mounts_are_untouched`
//!   (src/gaps/tests.rs); conformance cases `mounts/propagation-*` and
//!   `mounts/option-nosymfollow` (runtime-spec-tests/).
//! - **Goes when**: libcontainer applies propagation options per mount and maps `nosymfollow`
//!   to `MS_NOSYMFOLLOW`/`MOUNT_ATTR_NOSYMFOLLOW`.
//!
//! The options are taken out of the spec libcontainer sees ([`split_mount_options`]) and applied
//! from the host once the init waits for `start` ([`apply_mount_fixups`]).

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use oci_spec::runtime::Mount;

use crate::userns::idmap::{mount_setattr, MountAttr};

pub(super) const MS_PRIVATE: u64 = libc::MS_PRIVATE;
pub(super) const MS_SHARED: u64 = libc::MS_SHARED;
pub(super) const MS_SLAVE: u64 = libc::MS_SLAVE;
pub(super) const MS_UNBINDABLE: u64 = libc::MS_UNBINDABLE;
const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// A propagation change: the `MS_*` type and whether it applies to the submounts too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Propagation {
    pub flag: u64,
    pub recursive: bool,
}

fn propagation_of(option: &str) -> Option<Propagation> {
    let (flag, recursive) = match option {
        "shared" => (MS_SHARED, false),
        "rshared" => (MS_SHARED, true),
        "slave" => (MS_SLAVE, false),
        "rslave" => (MS_SLAVE, true),
        "private" => (MS_PRIVATE, false),
        "rprivate" => (MS_PRIVATE, true),
        "unbindable" => (MS_UNBINDABLE, false),
        "runbindable" => (MS_UNBINDABLE, true),
        _ => return None,
    };
    Some(Propagation { flag, recursive })
}

/// What to apply to one mount, once it is made, at its destination in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountFixup {
    pub destination: PathBuf,
    /// In the order the options list them.
    pub propagation: Vec<Propagation>,
    pub nosymfollow: bool,
}

/// Split a mount's options into those libcontainer handles, and the fixup for the rest:
/// propagation options (libcontainer ignores them) and `nosymfollow`/`symfollow` (it passes
/// them to the filesystem as data, which refuses them). The last of `nosymfollow`/`symfollow`
/// wins, as with mount(8).
pub fn split_mount_options(m: &Mount) -> (Option<Vec<String>>, Option<MountFixup>) {
    let Some(options) = m.options() else {
        return (None, None);
    };
    let mut kept = Vec::new();
    let mut fixup = MountFixup {
        destination: m.destination().clone(),
        propagation: Vec::new(),
        nosymfollow: false,
    };
    let mut touched = false;
    for o in options {
        if let Some(p) = propagation_of(o) {
            fixup.propagation.push(p);
            touched = true;
        } else if o == "nosymfollow" {
            fixup.nosymfollow = true;
            touched = true;
        } else if o == "symfollow" {
            fixup.nosymfollow = false;
            touched = true;
        } else {
            kept.push(o.clone());
        }
    }
    if !touched {
        return (Some(options.clone()), None);
    }
    let needed = !fixup.propagation.is_empty() || fixup.nosymfollow;
    (Some(kept), needed.then_some(fixup))
}

/// `destination` opened (`O_PATH`) below `root`, symlinks resolved inside it.
fn open_in_root(root: &File, destination: &Path) -> Result<OwnedFd> {
    let rel: PathBuf = destination
        .components()
        .filter(|c| !matches!(c, Component::RootDir))
        .collect();
    let rel = if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    };
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    rustix::fs::openat2(
        root,
        &rel,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .with_context(|| format!("open {} in the container", destination.display()))
}

fn propagation_name(p: Propagation) -> String {
    let base = match p.flag {
        MS_SHARED => "shared",
        MS_SLAVE => "slave",
        MS_PRIVATE => "private",
        _ => "unbindable",
    };
    format!("{}{base}", if p.recursive { "r" } else { "" })
}

/// Apply one fixup at its destination below `root` (the caller is in the container's mount
/// namespace).
fn apply_one(root: &File, f: &MountFixup) -> Result<()> {
    let dest = f.destination.display();
    let fd = open_in_root(root, &f.destination)?;
    for p in &f.propagation {
        let attr = MountAttr {
            attr_set: 0,
            attr_clr: 0,
            propagation: p.flag,
            userns_fd: 0,
        };
        mount_setattr(&fd, p.recursive, &attr)
            .with_context(|| format!("make the mount on {dest} {}", propagation_name(*p)))?;
    }
    if f.nosymfollow {
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_NOSYMFOLLOW,
            attr_clr: 0,
            propagation: 0,
            userns_fd: 0,
        };
        mount_setattr(&fd, false, &attr)
            .with_context(|| format!("set nosymfollow on the mount on {dest}"))?;
    }
    Ok(())
}

/// Apply `fixups` in the mount namespace of the process `pid` (the container's init, waiting
/// for `start`), at the destinations below its root. A thread of our own does it: it unshares
/// its filesystem attributes so that it alone enters that namespace.
pub fn apply_mount_fixups(pid: i32, fixups: &[MountFixup]) -> Result<()> {
    if fixups.is_empty() {
        return Ok(());
    }
    let root = File::open(format!("/proc/{pid}/root"))
        .with_context(|| format!("open the root of the container's process {pid}"))?;
    let ns = File::open(format!("/proc/{pid}/ns/mnt"))
        .with_context(|| format!("open the mount namespace of the container's process {pid}"))?;
    let fixups = fixups.to_vec();
    let worker = std::thread::spawn(move || -> Result<()> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS)
            .context("unshare the filesystem attributes of the mount thread")?;
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNS)
            .context("enter the container's mount namespace")?;
        fixups.iter().try_for_each(|f| apply_one(&root, f))
    });
    worker
        .join()
        .map_err(|_| anyhow::anyhow!("the mount thread panicked"))?
}
