//! Gap: libcgroups (like runc) appends `c *:* m` and `b *:* m` after the config's device rules,
//! so a container whose allowlist grants no `m` can still mknod.
//!
//! - **Restores**: config-linux.md Device allowlist: `access` "... `m` (mknod)": a device the
//!   rules do not grant `m` cannot be made.
//! - **Proved by**: `mknod_is_taken_back_only_when_the_allowlist_grants_it_to_nothing`,
//!   `update_keeps_what_create_set_unless_it_says_otherwise` (src/gaps/tests.rs); conformance
//!   case `cgroups/devices-mknod-denied` (runtime-spec-tests/).
//! - **Goes when**: libcgroups adds its implicit wildcard mknod rules only when the config's
//!   rules leave mknod to them.
//!
//! `c *:* m` and `b *:* m` go to the init's v1 `devices.deny` after create (and after each
//! `update`, which re-appends them); on cgroup v2 they stay (a warning).

use anyhow::{Context, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// Whether `access` (absent: all of `rwm`) contains `m`.
fn grants_mknod(r: &LinuxDeviceCgroup) -> bool {
    r.access().as_deref().is_none_or(|a| a.contains('m'))
}

fn is_wildcard(r: &LinuxDeviceCgroup) -> bool {
    matches!(r.typ(), None | Some(LinuxDeviceType::A))
        && r.major().is_none_or(|m| m < 0)
        && r.minor().is_none_or(|m| m < 0)
}

/// Whether to take the implicit `c *:* m` and `b *:* m` back: when the rules, from their last
/// deny-all entry on, grant `m` to nothing.
///
/// Docker's (`oci/defaults.go`) and containerd's (`WithDefaultUnixDevices`, the CRI) configs
/// start with a deny-all and then allow the standard devices with `rwm`, and rely on the
/// implicit wildcard for mknod (a `RUN mknod` in a Dockerfile works under runc): they grant `m`,
/// so they keep it. A config without a deny-all entry is an allow-all one: nothing to take back.
pub fn takes_back_mknod(rules: &[LinuxDeviceCgroup]) -> bool {
    let Some(last_deny_all) = rules
        .iter()
        .rposition(|r| !r.allow() && is_wildcard(r) && grants_mknod(r))
    else {
        return false;
    };
    !rules[last_deny_all + 1..]
        .iter()
        .any(|r| r.allow() && grants_mknod(r))
}

/// Deny mknod of every device in the cgroup of the container's init `pid`.
pub fn take_back(pid: i32) -> Result<()> {
    if super::cgroup_v1::unified() {
        tracing::warn!("the device rules grant mknod to no device, but on cgroup v2 the runtime's implicit c *:* m and b *:* m rules stay");
    } else if let Some(dir) = super::cgroup_v1::dir(pid, libcgroups::v1::ControllerType::Devices)? {
        let f = dir.join("devices.deny");
        for rule in ["c *:* m", "b *:* m"] {
            std::fs::write(&f, rule)
                .with_context(|| format!("write {rule:?} to {}", f.display()))?;
        }
    }
    Ok(())
}
