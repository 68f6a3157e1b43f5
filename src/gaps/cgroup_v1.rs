//! Where the cgroup v1 writes of [`super::oom_killer`] and [`super::mknod`] go (not a gap of
//! its own): the init's cgroup in one v1 hierarchy, from `/proc/<pid>/cgroup` and libcgroups'
//! v1 mount points.

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
