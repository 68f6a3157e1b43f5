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
