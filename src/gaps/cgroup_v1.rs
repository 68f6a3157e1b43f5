//! Where the cgroup writes of [`super::oom_killer`] and [`super::mknod`] go (not a gap of its
//! own): the init's cgroup in one v1 hierarchy, or in the unified (v2) hierarchy, from
//! `/proc/<pid>/cgroup` and libcgroups' mount points.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// The directory of the v1 `controller` hierarchy's cgroup of process `pid`, or None when that
/// controller is not mounted as v1.
pub(super) fn dir(pid: i32, controller: libcgroups::v1::ControllerType) -> Result<Option<PathBuf>> {
    let name = controller.to_string();
    let cgroups = procfs::process::Process::new(pid)
        .and_then(|p| p.cgroups())
        .with_context(|| format!("read /proc/{pid}/cgroup"))?;
    let Some(rel) = cgroups
        .0
        .iter()
        .find(|c| c.controllers.contains(&name))
        .map(|c| c.pathname.clone())
    else {
        return Ok(None);
    };
    let Ok(mount) = libcgroups::v1::util::get_subsystem_mount_point(&controller) else {
        return Ok(None);
    };
    Ok(Some(mount.join(rel.trim_start_matches('/'))))
}

/// Whether the host runs cgroup v2 only.
pub(super) fn unified() -> bool {
    matches!(
        libcgroups::common::get_cgroup_setup(),
        Ok(libcgroups::common::CgroupSetup::Unified)
    )
}

/// The directory of process `pid`'s cgroup in the unified (v2) hierarchy.
pub(super) fn unified_dir(pid: i32) -> Result<PathBuf> {
    let cgroups = procfs::process::Process::new(pid)
        .and_then(|p| p.cgroups())
        .with_context(|| format!("read /proc/{pid}/cgroup"))?;
    let rel = cgroups
        .0
        .iter()
        .find(|c| c.hierarchy == 0)
        .map(|c| c.pathname.clone())
        .with_context(|| format!("/proc/{pid}/cgroup names no cgroup v2 (0::) entry"))?;
    let mount = libcgroups::v2::util::get_unified_mount_point()
        .context("find the cgroup v2 mount point in /proc/self/mountinfo")?;
    Ok(mount.join(rel.trim_start_matches('/')))
}
