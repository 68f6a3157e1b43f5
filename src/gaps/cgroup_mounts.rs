//! Gap: libcontainer 0.7 mounts cgroups writable, and not always at the container's own cgroup.
//! On cgroup v1 every hierarchy was read-write whatever the config said (`rw,rbind` binds, or
//! fresh `cgroup` mounts in a cgroup namespace), and a hierarchy the container has no cgroup of
//! its own in (`name=systemd`) was mounted at the cgroup the runtime is in, on this host the
//! hierarchy's root: the container saw `release_agent` and every host cgroup's name. On cgroup
//! v2 without a cgroup namespace and without a user namespace, its fresh `cgroup2` mount shows
//! the host's whole hierarchy.
//!
//! - **Restores**: runc: the `cgroup` mount of the config with its options (Docker, containerd
//!   and `spec` ask for `ro,nosuid,noexec,nodev`), every hierarchy rooted at the container's own
//!   cgroup.
//! - **Proved by**: `cgroup_mounts_are_read_only_and_the_containers_own` and
//!   `docker_cgroup_mounts_are_read_only_and_the_containers_own` (integration/cgroups.rs; cgroup
//!   v1 here, v2 in the guest); `planned_from_the_cgroup_mounts_of_the_spec` (below).
//! - **Goes when**: libcontainer applies the cgroup mount's options and mounts only the
//!   container's own cgroups.
//!
//! After create, from the host, in the init's mount namespace: whatever libcontainer mounted at
//! the destination goes (a lazy unmount), and in its place go bind mounts of the container's own
//! cgroup directories (`open_tree` clones made on the host, `nosuid,nodev,noexec`, read-only
//! unless the config's options end with `rw`): on v2 one of the unified hierarchy; on v1 a tmpfs
//! (read-only too) holding one per hierarchy libcontainer placed the container in (a hierarchy
//! where it has no cgroup of its own is left out), with runc's symlinks for comounted
//! controllers (`cpu -> cpu,cpuacct`).

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::mount::{MntFlags, MsFlags};
use oci_spec::runtime::Spec;

use crate::userns::idmap::{attach, mount_setattr, MountAttr};

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// A `cgroup` mount of the config: where, and whether read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    pub destination: PathBuf,
    pub readonly: bool,
}

/// The config's `cgroup` mounts. Read-only unless the last of `ro`/`rw` in its options is `rw`.
pub fn planned(spec: &Spec) -> Vec<CgroupMount> {
    spec.mounts()
        .iter()
        .flatten()
        .filter(|m| m.typ().as_deref() == Some("cgroup"))
        .map(|m| CgroupMount {
            destination: m.destination().clone(),
            readonly: m
                .options()
                .iter()
                .flatten()
                .rev()
                .find(|o| *o == "ro" || *o == "rw")
                .is_none_or(|o| o == "ro"),
        })
        .collect()
}

/// A detached clone of a host cgroup directory, and its name under the destination (None: the
/// destination itself, cgroup v2).
struct Clone {
    name: Option<String>,
    tree: OwnedFd,
}

/// A detached, non-recursive clone of `dir` with the mount flags of a cgroup mount.
fn clone_of(dir: &Path, readonly: bool) -> Result<OwnedFd> {
    use rustix::mount::OpenTreeFlags as F;
    let tree = rustix::mount::open_tree(
        rustix::fs::CWD,
        dir,
        F::OPEN_TREE_CLONE | F::OPEN_TREE_CLOEXEC,
    )
    .with_context(|| format!("open_tree({})", dir.display()))?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_NOSUID
            | MOUNT_ATTR_NODEV
            | MOUNT_ATTR_NOEXEC
            | if readonly { MOUNT_ATTR_RDONLY } else { 0 },
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    mount_setattr(&tree, false, &attr)
        .with_context(|| format!("set the flags of the clone of {}", dir.display()))?;
    Ok(tree)
}

/// Whether the v1 mount `m` is the hierarchy of `controllers` (`["cpu", "cpuacct"]`,
/// `["name=systemd"]`).
fn is_hierarchy(m: &procfs::process::MountInfo, controllers: &[String]) -> bool {
    !controllers.is_empty()
        && controllers.iter().all(|c| match c.strip_prefix("name=") {
            Some(name) => m.super_options.get("name") == Some(&Some(name.to_string())),
            None => m.super_options.contains_key(c),
        })
}

/// `path` (a cgroup as `/proc/*/cgroup` names it) below the host mount `m` of its hierarchy.
fn host_dir(m: &procfs::process::MountInfo, path: &str) -> Option<PathBuf> {
    let rel = Path::new(path).strip_prefix(&m.root).ok()?;
    Some(m.mount_point.join(rel))
}

/// The clones of the cgroup v1 hierarchies in which libcontainer placed the init `pid`: those
/// where its cgroup is neither ours (the runtime's, which it inherited) nor a hierarchy root.
fn v1_clones(pid: i32, readonly: bool) -> Result<Vec<Clone>> {
    let cgroups_of = |p: procfs::ProcResult<procfs::process::Process>, who: &str| {
        p.and_then(|p| p.cgroups())
            .map(|c| c.0)
            .with_context(|| format!("read the cgroups of {who}"))
    };
    let init = cgroups_of(procfs::process::Process::new(pid), "the container's init")?;
    let ours = cgroups_of(procfs::process::Process::myself(), "the runtime")?;
    let mounts = procfs::process::Process::myself()
        .and_then(|p| p.mountinfo())
        .context("read /proc/self/mountinfo")?;
    let mut clones = Vec::new();
    for m in mounts.0.iter().filter(|m| {
        m.fs_type == "cgroup"
            && m.mount_point
                .starts_with(libcgroups::common::DEFAULT_CGROUP_ROOT)
    }) {
        let Some(name) = m.mount_point.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(own) = init.iter().find(|c| is_hierarchy(m, &c.controllers)) else {
            continue;
        };
        let inherited = ours
            .iter()
            .any(|c| c.hierarchy == own.hierarchy && c.pathname == own.pathname);
        if inherited || own.pathname == "/" {
            continue;
        }
        let Some(dir) = host_dir(m, &own.pathname) else {
            continue;
        };
        clones.push(Clone {
            name: Some(name.to_string()),
            tree: clone_of(&dir, readonly)?,
        });
    }
    Ok(clones)
}

/// Whether something is mounted at `dest` in the mount table of process `pid` (as its root
/// sees it).
fn mounted_at(pid: i32, dest: &Path) -> Result<bool> {
    let mounts = procfs::process::Process::new(pid)
        .and_then(|p| p.mountinfo())
        .with_context(|| format!("read /proc/{pid}/mountinfo"))?;
    Ok(mounts.0.iter().any(|m| m.mount_point == dest))
}

/// Put `clones` at `m.destination`, in place of the mount libcontainer made there, the topmost
/// (this thread is in the container's mount namespace, chrooted to its root). What lies beneath
/// stays covered: with a prejoined network namespace `/sys` is the host's, and its cgroup
/// mounts, locked into the container's user namespace, cannot be unmounted.
fn replace(m: &CgroupMount, clones: &[Clone], v1: bool) -> Result<()> {
    let dest = &m.destination;
    nix::mount::umount2(dest, MntFlags::MNT_DETACH)
        .with_context(|| format!("unmount libcontainer's cgroup mount on {}", dest.display()))?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if !v1 {
        return clones.iter().try_for_each(|c| attach(&c.tree, dest));
    }
    nix::mount::mount(Some("tmpfs"), dest, Some("tmpfs"), flags, Some("mode=755")).with_context(
        || {
            format!(
                "mount a tmpfs for the cgroup hierarchies on {}",
                dest.display()
            )
        },
    )?;
    for c in clones {
        let Some(name) = &c.name else { continue };
        let target = dest.join(name);
        std::fs::create_dir(&target)
            .with_context(|| format!("make the mount point {}", target.display()))?;
        attach(&c.tree, &target)?;
        // Comounted controllers (`cpu,cpuacct`) are reached by each name too, as under runc.
        for part in name.split(',').filter(|p| *p != name) {
            let link = dest.join(part);
            if !link.exists() {
                std::os::unix::fs::symlink(name, &link)
                    .with_context(|| format!("make the symlink {}", link.display()))?;
            }
        }
    }
    let ro = if m.readonly {
        MsFlags::MS_RDONLY
    } else {
        MsFlags::empty()
    };
    nix::mount::mount(
        None::<&str>,
        dest,
        None::<&str>,
        MsFlags::MS_REMOUNT | flags | ro,
        None::<&str>,
    )
    .with_context(|| format!("make the tmpfs on {} read-only", dest.display()))
}

/// Replace libcontainer's cgroup mounts `mounts` in the container whose init (waiting for
/// `start`) is `pid` by the container's own cgroups (see the module's doc).
pub fn apply(pid: i32, mounts: &[CgroupMount]) -> Result<()> {
    if mounts.is_empty() {
        return Ok(());
    }
    let v1 = !super::cgroup_v1::unified();
    let unified = if v1 {
        None
    } else {
        Some(super::cgroup_v1::unified_dir(pid)?)
    };
    let mut work = Vec::new();
    for m in mounts {
        let clones = match &unified {
            Some(dir) => vec![Clone {
                name: None,
                tree: clone_of(dir, m.readonly)?,
            }],
            None => v1_clones(pid, m.readonly)?,
        };
        if !mounted_at(pid, &m.destination)? {
            anyhow::bail!(
                "the container has no mount on {}, where its config mounts cgroups",
                m.destination.display()
            );
        }
        work.push((m.clone(), clones));
    }
    let root = File::open(format!("/proc/{pid}/root"))
        .with_context(|| format!("open the root of the container's process {pid}"))?;
    let ns = File::open(format!("/proc/{pid}/ns/mnt"))
        .with_context(|| format!("open the mount namespace of the container's process {pid}"))?;
    let worker = std::thread::spawn(move || -> Result<()> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS)
            .context("unshare the filesystem attributes of the mount thread")?;
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNS)
            .context("enter the container's mount namespace")?;
        nix::unistd::fchdir(root.as_raw_fd()).context("enter the container's root")?;
        nix::unistd::chroot(".").context("chroot to the container's root")?;
        work.iter()
            .try_for_each(|(m, clones)| replace(m, clones, v1))
    });
    worker
        .join()
        .map_err(|_| anyhow::anyhow!("the cgroup mount thread panicked"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_from_the_cgroup_mounts_of_the_spec() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "mounts": [
                { "destination": "/proc", "type": "proc", "source": "proc" },
                { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                  "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] },
                { "destination": "/a", "type": "cgroup", "source": "cgroup", "options": ["ro", "rw"] },
                { "destination": "/b", "type": "cgroup", "source": "cgroup" }
            ]
        }))
        .expect("spec");
        let p = |d: &str, readonly| CgroupMount {
            destination: PathBuf::from(d),
            readonly,
        };
        assert_eq!(
            planned(&spec),
            vec![p("/sys/fs/cgroup", true), p("/a", false), p("/b", true)]
        );
    }
}
