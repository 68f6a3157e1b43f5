//! Gap: libcgroups (like runc) appends `c *:* m` and `b *:* m` after the config's device rules,
//! so a container whose allowlist grants no `m` can still mknod.
//!
//! - **Restores**: config-linux.md Device allowlist: `access` "... `m` (mknod)": a device the
//!   rules do not grant `m` cannot be made.
//! - **Proved by**: `mknod_is_taken_back_only_when_the_allowlist_grants_it_to_nothing`,
//!   `update_keeps_what_create_set_unless_it_says_otherwise` (src/gaps/tests.rs); conformance
//!   case `cgroups/devices-mknod-denied` (runtime-spec-tests/); `mknod_taken_back` in
//!   integration/cgroups.rs (cgroup v1 here, v2 in the guest).
//! - **Goes when**: libcgroups adds its implicit wildcard mknod rules only when the config's
//!   rules leave mknod to them.
//!
//! After create (and after each `update`, which re-applies them): on cgroup v1, `c *:* m` and
//! `b *:* m` go to the init's `devices.deny`; on cgroup v2, the device program libcgroups
//! attached is replaced by one built the same way (libcgroups' emulator and compiler) from the
//! config's rules and the implicit ones without the two wildcards.
//!
//! Also a gap of its own on cgroup v2: libcgroups' systemd manager (`--systemd-cgroup`, what
//! Docker and the kubelet use on a systemd host) attaches no device program at all, so on v2 the
//! program is always built and attached here, with the wildcards when nothing is taken back
//! (runc attaches its own program next to systemd's the same way). Proved by
//! `docker_unlisted_block_device_is_denied_with_mknod` in the guest stage (Docker's systemd
//! cgroup driver).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result};
use libcgroups::v2::devices::{bpf::prog, emulator::Emulator, program::Program};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType};

/// Whether `access` (absent: all of `rwm`) contains `m`.
fn grants_mknod(r: &LinuxDeviceCgroup) -> bool {
    r.access().as_deref().is_none_or(|a| a.contains('m'))
}

fn is_wildcard(r: &LinuxDeviceCgroup) -> bool {
    matches!(r.typ(), None | Some(LinuxDeviceType::A))
        && r.major().is_none_or(|m| m < 0)
        && r.minor().is_none_or(|m| m < 0)
}

/// Whether `r` denies every device (`a *:* ...`).
pub(super) fn is_deny_all(r: &LinuxDeviceCgroup) -> bool {
    !r.allow() && is_wildcard(r)
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
        .rposition(|r| is_deny_all(r) && grants_mknod(r))
    else {
        return false;
    };
    !rules[last_deny_all + 1..]
        .iter()
        .any(|r| r.allow() && grants_mknod(r))
}

/// The rules libcgroups adds after the config's (`default_devices`, `default_allow_devices`),
/// without `c *:* m` and `b *:* m`: `/dev/null`, `zero`, `full`, `tty`, `urandom`, `random`,
/// `console`, `pts/*`, `ptmx`, `net/tun`, all `rwm`.
fn implicit_without_mknod() -> Result<Vec<LinuxDeviceCgroup>> {
    const DEVICES: &[(i64, Option<i64>)] = &[
        (1, Some(3)),
        (1, Some(5)),
        (1, Some(7)),
        (5, Some(0)),
        (1, Some(9)),
        (1, Some(8)),
        (5, Some(1)),
        (136, None),
        (5, Some(2)),
        (10, Some(200)),
    ];
    DEVICES
        .iter()
        .map(|&(major, minor)| {
            let b = LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::C)
                .major(major)
                .access("rwm");
            match minor {
                Some(minor) => b.minor(minor),
                None => b,
            }
            .build()
            .context("build an implicit device rule")
        })
        .collect()
}

/// `c *:* m` and `b *:* m`, which libcontainer adds after the config's rules.
fn wildcard_mknod() -> Result<Vec<LinuxDeviceCgroup>> {
    [LinuxDeviceType::C, LinuxDeviceType::B]
        .into_iter()
        .map(|typ| {
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(typ)
                .access("m")
                .build()
                .context("build an implicit device rule")
        })
        .collect()
}

/// Replace the device programs attached to the v2 cgroup `dir` by one built from `rules` and
/// the implicit rules (the wildcard mknod only when it is not taken back).
fn attach_program(dir: &Path, rules: &[LinuxDeviceCgroup], take_back: bool) -> Result<()> {
    let mut emulator = Emulator::with_default_allow(false);
    emulator.add_rules(rules);
    emulator.add_rules(&implicit_without_mknod()?);
    if !take_back {
        emulator.add_rules(&wildcard_mknod()?);
    }
    let program = Program::from_rules(&emulator.rules, emulator.default_allow)
        .context("compile the cgroup v2 device program")?;
    // The license is read as a C string: give it its NUL.
    let fd = prog::load("Apache\0", program.bytecodes())
        .context("load the cgroup v2 device program (BPF_PROG_LOAD)")?;
    // SAFETY: `load` returned a new descriptor of the program that nothing else owns or closes.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let cgroup =
        std::fs::File::open(dir).with_context(|| format!("open the cgroup {}", dir.display()))?;
    let old = prog::query(cgroup.as_raw_fd())
        .with_context(|| format!("list the device programs of {}", dir.display()))?;
    // SAFETY: `query` opened each descriptor (bpf_prog_get_fd_by_id) for us alone.
    let old: Vec<OwnedFd> = old
        .iter()
        .map(|p| unsafe { OwnedFd::from_raw_fd(p.fd) })
        .collect();
    prog::attach(fd.as_raw_fd(), cgroup.as_raw_fd())
        .with_context(|| format!("attach the device program to {}", dir.display()))?;
    for p in &old {
        prog::detach2(p.as_raw_fd(), cgroup.as_raw_fd())
            .with_context(|| format!("detach an earlier device program from {}", dir.display()))?;
    }
    Ok(())
}

/// Device control for the cgroup of the container's init `pid`, whose device rules are `rules`
/// (as libcontainer was given them): on cgroup v2 the device program, on v1 mknod denied when
/// `take_back`.
pub fn apply(pid: i32, rules: &[LinuxDeviceCgroup], take_back: bool) -> Result<()> {
    if super::cgroup_v1::unified() {
        let dir = super::cgroup_v1::unified_dir(pid)?;
        attach_program(&dir, rules, take_back)?;
    } else if !take_back {
        return Ok(());
    } else if let Some(dir) = super::cgroup_v1::dir(pid, libcgroups::v1::ControllerType::Devices)? {
        let f = dir.join("devices.deny");
        for rule in ["c *:* m", "b *:* m"] {
            std::fs::write(&f, rule)
                .with_context(|| format!("write {rule:?} to {}", f.display()))?;
        }
    }
    Ok(())
}
