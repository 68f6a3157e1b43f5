//! Gap: libcontainer 0.7 never writes `disableOOMKiller`.
//!
//! - **Restores**: config-linux.md memory: "disableOOMKiller (bool, OPTIONAL) disables the OOM
//!   killer for out of memory conditions".
//! - **Proved by**: `plan_reads_disable_oom_killer`,
//!   `update_keeps_what_create_set_unless_it_says_otherwise` (src/gaps/tests.rs); conformance
//!   case `cgroups/memory-disable-oom-killer` (runtime-spec-tests/).
//! - **Goes when**: libcontainer passes `disableOOMKiller` to libcgroups when it creates the
//!   cgroup (libcgroups' v1 memory controller already writes `memory.oom_control`).
//!
//! `1` goes to the init's v1 `memory.oom_control` after create; cgroup v2 has no such setting
//! (a warning). `update` keeps the container's setting ([`super::plan::plan_update`]).

use anyhow::{Context, Result};
use oci_spec::runtime::LinuxResources;

/// Whether `resources` ask for the OOM killer to be disabled.
pub fn requested(resources: Option<&LinuxResources>) -> bool {
    resources
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.disable_oom_killer())
        .unwrap_or(false)
}

/// Disable the OOM killer for the cgroup of the container's init `pid`.
pub fn disable(pid: i32) -> Result<()> {
    if super::cgroup_v1::unified() {
        tracing::warn!(
            "linux.resources.memory.disableOOMKiller is ignored: cgroup v2 has no such setting"
        );
    } else if let Some(dir) = super::cgroup_v1::dir(pid, libcgroups::v1::ControllerType::Memory)? {
        let f = dir.join("memory.oom_control");
        std::fs::write(&f, "1")
            .with_context(|| format!("disable the OOM killer: write 1 to {}", f.display()))?;
    }
    Ok(())
}
