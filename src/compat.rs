//! Gaps of `libcontainer` 0.7, worked around in our own code (libcontainer is used as it is, not
//! forked). Each workaround names the specification sentence it implements and the case of our
//! conformance suite (`runtime-spec-tests/`) that checks it.
//!
//! | gap | spec | case | where |
//! | --- | --- | --- | --- |
//! | duplicated namespace types accepted | config-linux.md Namespaces: "If a namespaces field contains duplicated namespaces with same type, the runtime MUST generate an error." | `namespaces/duplicate-type-errors` | [`validate`] |
//! | `nosymfollow` passed to the filesystem as data (`EINVAL`) | config.md Mounts: `nosymfollow` | `mounts/option-nosymfollow` | [`rewrite`], [`Rewrite::after_create`] |
//! | per-mount propagation (`shared`, `rslave`, `unbindable`, ...) ignored | config.md Mounts: propagation options | `mounts/propagation-*` | [`rewrite`], [`Rewrite::after_create`] |
//! | several `uidMappings`/`gidMappings` lines need `newuidmap`/`newgidmap`, even as root | config-linux.md User namespace mappings | `userns/several-ranges` | [`rewrite`] |
//! | device paths outside `/dev` refused (`InvalidDevicePath`) | config-linux.md Devices: `path` full path to device inside container | `devices/outside-dev` | [`rewrite`] |
//! | `disableOOMKiller` never written | config-linux.md memory: `disableOOMKiller` | `cgroups/memory-disable-oom-killer` | [`Rewrite::after_create`] |
//! | `c *:* m` and `b *:* m` appended after the config's device rules | config-linux.md Device allowlist: `access` ... `m` (mknod) | `cgroups/devices-mknod-denied` | [`Rewrite::after_create`] |
//! | `consoleSize` not applied | config.md Process: `consoleSize` | `process/terminal-console-size` | [`in_container`] |
//!
//! Entry points: [`validate`] (pure, in the pipeline: nothing is created when it fails),
//! [`rewrite`] (in `create`, before the spec is handed to libcontainer), [`Rewrite::after_create`]
//! (in `create`, once the container's init waits for `start`), [`in_container`] (in the
//! executor, just before `execve`).

use std::collections::BTreeSet;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::userns::idmap::{mount_setattr, MountAttr};
use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxIdMapping, LinuxNamespaceType, Mount,
    Spec,
};

// ---------------------------------------------------------------------------------------------
// Validation

/// Spec checks libcontainer 0.7 leaves out. The message names what is wrong and how to fix it.
/// Absurd sizes (`crate::limits`) are refused first.
pub fn validate(spec: &Spec) -> Result<(), String> {
    crate::limits::validate(spec)?;
    let mut seen = BTreeSet::new();
    for ns in spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
    {
        let name = namespace_name(ns.typ());
        if !seen.insert(name.clone()) {
            return Err(format!(
                "linux.namespaces lists the {name} namespace more than once (config-linux.md: duplicated namespace types MUST generate an error): keep one \"{name}\" entry"
            ));
        }
    }
    Ok(())
}

/// The spec's name of a namespace type (`network`, `mount`, ...).
fn namespace_name(t: LinuxNamespaceType) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| format!("{t:?}").to_lowercase())
}

// ---------------------------------------------------------------------------------------------
// Mount options libcontainer does not apply

const MS_PRIVATE: u64 = libc::MS_PRIVATE;
const MS_SHARED: u64 = libc::MS_SHARED;
const MS_SLAVE: u64 = libc::MS_SLAVE;
const MS_UNBINDABLE: u64 = libc::MS_UNBINDABLE;
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

/// Apply `fixups` in the mount namespace of the process `pid` (the container's init, waiting
/// for `start`), at the destinations below its root. A thread of our own does it: it unshares
/// its filesystem attributes so that it alone enters that namespace.
fn apply_mount_fixups(pid: i32, fixups: &[MountFixup]) -> Result<()> {
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
        for f in &fixups {
            let dest = f.destination.display();
            let fd = open_in_root(&root, &f.destination)?;
            for p in &f.propagation {
                let attr = MountAttr {
                    attr_set: 0,
                    attr_clr: 0,
                    propagation: p.flag,
                    userns_fd: 0,
                };
                mount_setattr(&fd, p.recursive, &attr).with_context(|| {
                    format!("make the mount on {dest} {}", propagation_name(*p))
                })?;
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
        }
        Ok(())
    });
    worker
        .join()
        .map_err(|_| anyhow::anyhow!("the mount thread panicked"))?
}

// ---------------------------------------------------------------------------------------------
// Devices outside /dev

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

fn device_kind(t: LinuxDeviceType) -> Result<libc::mode_t> {
    Ok(match t {
        LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
        LinuxDeviceType::B => libc::S_IFBLK,
        LinuxDeviceType::P => libc::S_IFIFO,
        LinuxDeviceType::A => bail!("device type \"a\" is not a node type: use c, u, b or p"),
    })
}

/// Make the nodes of `devices` in a fresh scratch tmpfs and return the bind mounts that put
/// them at their paths.
fn device_binds(devices: &[LinuxDevice], spec: &Spec) -> Result<Vec<Mount>> {
    let linux = spec.linux().as_ref();
    let has_userns = linux
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| n.iter().any(|n| n.typ() == LinuxNamespaceType::User));
    let (uids, gids) = if has_userns {
        (
            linux.and_then(|l| l.uid_mappings().as_deref()),
            linux.and_then(|l| l.gid_mappings().as_deref()),
        )
    } else {
        (None, None)
    };
    let dir = crate::userns::idmap::private_tmpfs(
        DEVICE_SCRATCH_DIR,
        nix::mount::MsFlags::empty(),
        "scratch tmpfs for device nodes",
    )?;
    let mut binds = Vec::new();
    for (i, d) in devices.iter().enumerate() {
        let path = d.path().display();
        let node = dir.join(format!("d{i}"));
        let kind = device_kind(d.typ()).with_context(|| format!("linux.devices entry {path}"))?;
        let mode = d.file_mode().unwrap_or(0o666) & 0o7777;
        let rdev = if kind == libc::S_IFIFO {
            0
        } else {
            let (major, minor) = (u32::try_from(d.major()), u32::try_from(d.minor()));
            let (Ok(major), Ok(minor)) = (major, minor) else {
                bail!(
                    "linux.devices entry {path}: major and minor must be between 0 and 4294967295"
                );
            };
            libc::makedev(major, minor)
        };
        nix::sys::stat::mknod(
            &node,
            nix::sys::stat::SFlag::from_bits_truncate(kind),
            nix::sys::stat::Mode::from_bits_truncate(mode),
            rdev,
        )
        .with_context(|| format!("make the device node for {path}"))?;
        // The umask may have cut the mode.
        std::fs::set_permissions(&node, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("set the mode of the device node for {path}"))?;
        let uid = d.uid().unwrap_or(0);
        let gid = d.gid().unwrap_or(0);
        let (Some(huid), Some(hgid)) = (host_id(uid, uids), host_id(gid, gids)) else {
            bail!("linux.devices entry {path}: uid {uid} or gid {gid} is not mapped in the container's user namespace");
        };
        std::os::unix::fs::chown(&node, Some(huid), Some(hgid))
            .with_context(|| format!("chown the device node for {path}"))?;
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

// ---------------------------------------------------------------------------------------------
// Device cgroup: mknod

/// Whether `access` (absent: all of `rwm`) contains `m`.
fn grants_mknod(r: &LinuxDeviceCgroup) -> bool {
    r.access().as_deref().is_none_or(|a| a.contains('m'))
}

fn is_wildcard(r: &LinuxDeviceCgroup) -> bool {
    matches!(r.typ(), None | Some(LinuxDeviceType::A))
        && r.major().is_none_or(|m| m < 0)
        && r.minor().is_none_or(|m| m < 0)
}

/// libcgroups (like runc) appends `c *:* m` and `b *:* m` after the config's device rules, so a
/// container whose allowlist grants no `m` can still mknod. Whether to take those two back:
/// when the rules, from their last deny-all entry on, grant `m` to nothing.
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

/// The directory of the v1 `controller` hierarchy's cgroup of process `pid`, or None when that
/// controller is not mounted as v1.
fn v1_cgroup_dir(pid: i32, controller: libcgroups::v1::ControllerType) -> Result<Option<PathBuf>> {
    let name = controller.to_string();
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .with_context(|| format!("read /proc/{pid}/cgroup"))?;
    let Some(rel) = text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        ctrls.split(',').any(|c| c == name).then_some(path)
    }) else {
        return Ok(None);
    };
    let Ok(mount) = libcgroups::v1::util::get_subsystem_mount_point(&controller) else {
        return Ok(None);
    };
    Ok(Some(mount.join(rel.trim_start_matches('/'))))
}

fn unified() -> bool {
    matches!(
        libcgroups::common::get_cgroup_setup(),
        Ok(libcgroups::common::CgroupSetup::Unified)
    )
}

// ---------------------------------------------------------------------------------------------
// The rewrite and what follows it

/// What `create` does after libcontainer created the container.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AfterCreate {
    pub mounts: Vec<MountFixup>,
    pub disable_oom_killer: bool,
    pub take_back_mknod: bool,
}

/// The spec for libcontainer, and what `create` must keep and do around it.
pub struct Rewrite {
    /// The spec to hand libcontainer, when it differs from the input.
    pub spec: Option<Spec>,
    pub after: AfterCreate,
    /// The user namespace made for several mapping ranges: libcontainer joins it through
    /// `/proc/<us>/fd/<n>`, so it stays open until the container is created.
    userns: Option<OwnedFd>,
}

/// The part of the rewrite that needs no I/O: mount options and the post-create plan.
pub fn plan(spec: &Spec) -> (Option<Spec>, AfterCreate) {
    let mut out = spec.clone();
    let mut changed = false;
    let mut after = AfterCreate::default();
    if let Some(mut mounts) = spec.mounts().clone() {
        for m in mounts.iter_mut() {
            let (options, fixup) = split_mount_options(m);
            if options.as_ref() != m.options().as_ref() {
                m.set_options(options);
                changed = true;
            }
            after.mounts.extend(fixup);
        }
        if changed {
            out.set_mounts(Some(mounts));
        }
    }
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    after.disable_oom_killer = resources
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.disable_oom_killer())
        .unwrap_or(false);
    after.take_back_mknod = resources
        .and_then(|r| r.devices().as_deref())
        .is_some_and(takes_back_mknod);
    (changed.then_some(out), after)
}

/// What `update` must do again: libcgroups writes `memory.oom_control` from the
/// `disable_oom_killer` it is given whenever the update has memory settings, and re-appends its
/// implicit device rules (`c *:* m`, `b *:* m` among them) on every update. The rules and the
/// setting are the update's when it has them, else the container's own (`saved`).
pub fn plan_update(
    saved: Option<&Spec>,
    update: &oci_spec::runtime::LinuxResources,
) -> AfterCreate {
    let saved = saved.map(|s| plan(s).1).unwrap_or_default();
    let disable_oom_killer = update
        .memory()
        .as_ref()
        .and_then(|m| m.disable_oom_killer())
        .unwrap_or(saved.disable_oom_killer);
    let take_back_mknod = match update.devices() {
        Some(rules) => takes_back_mknod(rules),
        None => saved.take_back_mknod,
    };
    AfterCreate {
        mounts: Vec::new(),
        disable_oom_killer,
        take_back_mknod,
    }
}

/// Several mapping lines: libcontainer would need newuidmap/newgidmap.
fn several_ranges(spec: &Spec) -> bool {
    let Some(linux) = spec.linux() else {
        return false;
    };
    let new_userns = linux
        .namespaces()
        .iter()
        .flatten()
        .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
    let len = |m: &Option<Vec<LinuxIdMapping>>| m.as_ref().map_or(0, |m| m.len());
    new_userns && (len(linux.uid_mappings()) > 1 || len(linux.gid_mappings()) > 1)
}

/// Rewrite `spec` (already hardened by the policy) around libcontainer's gaps. May give this
/// process a private mount namespace (devices outside `/dev`).
pub fn rewrite(spec: &Spec) -> Result<Rewrite> {
    let (planned, after) = plan(spec);
    let mut changed = planned.is_some();
    let mut out = planned.unwrap_or_else(|| spec.clone());
    let mut userns = None;

    // Devices outside /dev: nodes in a scratch tmpfs, bind-mounted at their paths.
    let outside: Vec<LinuxDevice> = out
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
        .filter(|d| outside_dev(d))
        .cloned()
        .collect();
    if !outside.is_empty() {
        let binds = device_binds(&outside, &out)?;
        if let Some(mut linux) = out.linux().clone() {
            if let Some(mut devs) = linux.devices().clone() {
                devs.retain(|d| !outside_dev(d));
                linux.set_devices(Some(devs));
            }
            out.set_linux(Some(linux));
        }
        let mut mounts = out.mounts().clone().unwrap_or_default();
        mounts.extend(binds);
        out.set_mounts(Some(mounts));
        changed = true;
    }

    // Several mapping ranges: a user namespace of our own, with all the lines written as root,
    // which libcontainer joins by path (as it joins a donor container's).
    if several_ranges(&out) {
        if let Some(mut linux) = out.linux().clone() {
            let text = |m: &Option<Vec<LinuxIdMapping>>| {
                crate::userns::idmap::map_text(m.as_deref().unwrap_or(&[]))
            };
            let fd = crate::userns::idmap::userns_fd_maps(
                &text(linux.uid_mappings()),
                &text(linux.gid_mappings()),
            )
            .context("make the user namespace with several mapping ranges")?;
            let path = PathBuf::from(format!(
                "/proc/{}/fd/{}",
                std::process::id(),
                fd.as_raw_fd()
            ));
            if let Some(mut ns) = linux.namespaces().clone() {
                for n in ns.iter_mut() {
                    if n.typ() == LinuxNamespaceType::User {
                        n.set_path(Some(path.clone()));
                    }
                }
                linux.set_namespaces(Some(ns));
            }
            linux.set_uid_mappings(None);
            linux.set_gid_mappings(None);
            out.set_linux(Some(linux));
            userns = Some(fd);
            changed = true;
        }
    }

    Ok(Rewrite {
        spec: changed.then_some(out),
        after,
        userns,
    })
}

impl Rewrite {
    /// Once libcontainer created the container (its init, `pid`, waits for `start`): what it
    /// left out. The user namespace made for the rewrite is released.
    pub fn after_create(mut self, pid: i32) -> Result<()> {
        self.userns = None;
        self.after.apply(pid)
    }
}

impl AfterCreate {
    /// Apply the plan to the container whose init is `pid`.
    pub fn apply(&self, pid: i32) -> Result<()> {
        apply_mount_fixups(pid, &self.mounts)?;
        if self.disable_oom_killer {
            if unified() {
                tracing::warn!("linux.resources.memory.disableOOMKiller is ignored: cgroup v2 has no such setting");
            } else if let Some(dir) = v1_cgroup_dir(pid, libcgroups::v1::ControllerType::Memory)? {
                let f = dir.join("memory.oom_control");
                std::fs::write(&f, "1").with_context(|| {
                    format!("disable the OOM killer: write 1 to {}", f.display())
                })?;
            }
        }
        if self.take_back_mknod {
            if unified() {
                tracing::warn!("the device rules grant mknod to no device, but on cgroup v2 the runtime's implicit c *:* m and b *:* m rules stay");
            } else if let Some(dir) = v1_cgroup_dir(pid, libcgroups::v1::ControllerType::Devices)? {
                let f = dir.join("devices.deny");
                for rule in ["c *:* m", "b *:* m"] {
                    std::fs::write(&f, rule)
                        .with_context(|| format!("write {rule:?} to {}", f.display()))?;
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// In the container

/// Run in the container's process just before `execve` (init and `exec`).
pub fn in_container(spec: &Spec) -> Result<(), String> {
    let Some(process) = spec.process() else {
        return Ok(());
    };
    // config.md: "Runtimes MUST ignore consoleSize if terminal is false or unset."
    if process.terminal() != Some(true) {
        return Ok(());
    }
    if let Some(size) = process.console_size() {
        let ws = libc::winsize {
            ws_row: u16::try_from(size.height()).unwrap_or(u16::MAX),
            ws_col: u16::try_from(size.width()).unwrap_or(u16::MAX),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ on stdin (the terminal) with a winsize we own.
        if unsafe { libc::ioctl(0, libc::TIOCSWINSZ, &ws) } != 0 {
            return Err(format!(
                "set the terminal's size to {}x{} (process.consoleSize): {}",
                size.width(),
                size.height(),
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
