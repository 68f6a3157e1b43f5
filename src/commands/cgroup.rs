//! The cgroup manager of an existing container.

use anyhow::{Context, Result};
use libcgroups::common::{AnyCgroupManager, CgroupConfig};
use libcontainer::container::Container;

pub fn manager(c: &Container) -> Result<AnyCgroupManager> {
    let config = c
        .spec()
        .with_context(|| format!("load the saved config of container {}", c.id()))?;
    libcgroups::common::create_cgroup_manager(CgroupConfig {
        cgroup_path: config.cgroup_path,
        systemd_cgroup: c.systemd(),
        container_name: c.id().to_string(),
    })
    .with_context(|| format!("open the cgroup of container {}", c.id()))
}

/// Marker in a container's state directory: its cgroup existed before `create`, so `delete`
/// leaves it (runtime.md Delete: resources not created by the container MUST NOT be deleted).
pub const PREEXISTING_FILE: &str = "hardened-cgroup-preexisting";

pub fn preexisting(state_dir: &std::path::Path) -> bool {
    state_dir.join(PREEXISTING_FILE).exists()
}

/// Whether the cgroupfs cgroup `cgroup_path` (libcontainer's `get_cgroup_path`) exists already
/// in any hierarchy that libcontainer would put the container in. Systemd slices (`a:b:c`)
/// are the systemd manager's business: never "existing" here.
pub fn exists(cgroup_path: &std::path::Path) -> bool {
    use std::path::Path;
    let text = cgroup_path.to_string_lossy();
    if text.contains(':') {
        return false;
    }
    let rel = text.trim_start_matches('/');
    let base = Path::new("/sys/fs/cgroup");
    if base.join("cgroup.controllers").exists() {
        return base.join(rel).is_dir();
    }
    ["memory", "pids", "cpu", "devices", "freezer", "blkio"]
        .iter()
        .any(|sub| base.join(sub).join(rel).is_dir())
}
