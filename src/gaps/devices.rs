//! Gap: libcontainer 0.7 refuses device paths outside `/dev` (`InvalidDevicePath`).
//!
//! - **Restores**: config-linux.md Devices: "path (string, REQUIRED) - full path to device inside
//!   container."
//! - **Proved by**: `devices_outside_dev`, `host_ids_through_mappings` (src/gaps/tests.rs);
//!   conformance case `devices/outside-dev` (runtime-spec-tests/).
//! - **Goes when**: libcontainer creates device nodes at any path in the container.
//!
//! Such devices become nodes in a tmpfs without `nodev` mounted on [`DEVICE_SCRATCH_DIR`] in
//! `create`'s private mount namespace, bind-mounted at their paths; the host never sees them.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceType, LinuxIdMapping, LinuxNamespaceType, Mount, Spec,
};

/// Where device nodes for paths outside `/dev` are made: a tmpfs (without `nodev`) mounted on
/// this empty host directory in `create`'s private mount namespace only. The container's bind
/// mounts keep the nodes alive; the host never sees them.
pub const DEVICE_SCRATCH_DIR: &str = "/run/hardened-devices";

/// libcontainer accepts device paths under `/dev` only.
pub fn outside_dev(d: &LinuxDevice) -> bool {
    !d.path().starts_with("/dev")
}

/// The host ID of container ID `id` under `maps` (the ID itself without mappings).
pub fn host_id(id: u32, maps: Option<&[LinuxIdMapping]>) -> Option<u32> {
    let Some(maps) = maps.filter(|m| !m.is_empty()) else {
        return Some(id);
    };
    maps.iter().find_map(|m| {
        let off = id.checked_sub(m.container_id())?;
        (off < m.size()).then(|| m.host_id().checked_add(off))?
    })
}

fn device_kind(t: LinuxDeviceType) -> Result<nix::sys::stat::SFlag> {
    use nix::sys::stat::SFlag;
    Ok(match t {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => bail!("device type \"a\" is not a node type: use c, u, b or p"),
    })
}

/// The container's uid and gid mappings, when it gets a user namespace.
fn mappings(spec: &Spec) -> (Option<&[LinuxIdMapping]>, Option<&[LinuxIdMapping]>) {
    let linux = spec.linux().as_ref();
    let has_userns = linux
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| n.iter().any(|n| n.typ() == LinuxNamespaceType::User));
    if !has_userns {
        return (None, None);
    }
    (
        linux.and_then(|l| l.uid_mappings().as_deref()),
        linux.and_then(|l| l.gid_mappings().as_deref()),
    )
}

/// Make the node of `d` at `node`, owned by its uid and gid as the host sees them.
fn make_node(d: &LinuxDevice, node: &Path, spec: &Spec) -> Result<()> {
    let path = d.path().display();
    let kind = device_kind(d.typ()).with_context(|| format!("linux.devices entry {path}"))?;
    let mode = d.file_mode().unwrap_or(0o666) & 0o7777;
    let rdev = if kind == nix::sys::stat::SFlag::S_IFIFO {
        0
    } else {
        let (major, minor) = (u32::try_from(d.major()), u32::try_from(d.minor()));
        let (Ok(major), Ok(minor)) = (major, minor) else {
            bail!("linux.devices entry {path}: major and minor must be between 0 and 4294967295");
        };
        nix::sys::stat::makedev(u64::from(major), u64::from(minor))
    };
    nix::sys::stat::mknod(
        node,
        kind,
        nix::sys::stat::Mode::from_bits_truncate(mode),
        rdev,
    )
    .with_context(|| format!("make the device node for {path}"))?;
    // The umask may have cut the mode.
    std::fs::set_permissions(node, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("set the mode of the device node for {path}"))?;
    let (uids, gids) = mappings(spec);
    let uid = d.uid().unwrap_or(0);
    let gid = d.gid().unwrap_or(0);
    let (Some(huid), Some(hgid)) = (host_id(uid, uids), host_id(gid, gids)) else {
        bail!("linux.devices entry {path}: uid {uid} or gid {gid} is not mapped in the container's user namespace");
    };
    std::os::unix::fs::chown(node, Some(huid), Some(hgid))
        .with_context(|| format!("chown the device node for {path}"))
}

/// Make the nodes of `devices` in a fresh scratch tmpfs and return the bind mounts that put
/// them at their paths.
fn device_binds(devices: &[LinuxDevice], spec: &Spec) -> Result<Vec<Mount>> {
    let dir = crate::userns::idmap::private_tmpfs(
        DEVICE_SCRATCH_DIR,
        nix::mount::MsFlags::empty(),
        "scratch tmpfs for device nodes",
    )?;
    let mut binds = Vec::new();
    for (i, d) in devices.iter().enumerate() {
        let node = dir.join(format!("d{i}"));
        make_node(d, &node, spec)?;
        let m = oci_spec::runtime::MountBuilder::default()
            .destination(d.path().clone())
            .typ("bind")
            .source(node)
            .options(vec!["bind".to_string()])
            .build()
            .context("build the bind mount of a device node")?;
        binds.push(m);
    }
    Ok(binds)
}

/// Replace the devices of `spec` outside `/dev` by bind mounts of nodes made in a scratch tmpfs
/// (this process gets a private mount namespace). Whether `spec` changed.
pub fn move_outside_dev(spec: &mut Spec) -> Result<bool> {
    let outside: Vec<LinuxDevice> = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
        .filter(|d| outside_dev(d))
        .cloned()
        .collect();
    if outside.is_empty() {
        return Ok(false);
    }
    let binds = device_binds(&outside, spec)?;
    if let Some(mut linux) = spec.linux().clone() {
        if let Some(mut devs) = linux.devices().clone() {
            devs.retain(|d| !outside_dev(d));
            linux.set_devices(Some(devs));
        }
        spec.set_linux(Some(linux));
    }
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.extend(binds);
    spec.set_mounts(Some(mounts));
    Ok(true)
}
