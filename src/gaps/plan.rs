//! The entry points `create` and `update` call for the spec gaps (not a gap of its own): what
//! libcontainer is handed ([`rewrite`], its pure part [`plan`]) and what is done once it created
//! the container ([`Rewrite::after_create`], [`AfterCreate::apply`]).

use std::os::fd::OwnedFd;

use anyhow::Result;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources, Spec};

use super::cgroup_mounts::CgroupMount;
use super::mounts::{split_mount_options, MountFixup};
use super::{cgroup_mounts, device_allowlist, devices, id_ranges, mknod, mounts, oom_killer};

/// What `create` does after libcontainer created the container.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AfterCreate {
    pub mounts: Vec<MountFixup>,
    pub disable_oom_killer: bool,
    pub take_back_mknod: bool,
    /// The device rules libcontainer was given, when known: on cgroup v2 the device program is
    /// built from them after create (libcgroups' systemd manager attaches none at all).
    pub device_rules: Option<Vec<LinuxDeviceCgroup>>,
    pub cgroup_mounts: Vec<CgroupMount>,
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
    after.disable_oom_killer = oom_killer::requested(resources);
    after.take_back_mknod = resources
        .and_then(|r| r.devices().as_deref())
        .is_some_and(mknod::takes_back_mknod);
    changed |= device_allowlist::deny_unlisted(&mut out);
    after.device_rules = Some(device_allowlist::rules(
        out.linux().as_ref().and_then(|l| l.resources().as_ref()),
    ));
    after.cgroup_mounts = cgroup_mounts::planned(spec);
    (changed.then_some(out), after)
}

/// What `update` must do again: libcgroups writes `memory.oom_control` from the
/// `disable_oom_killer` it is given whenever the update has memory settings, and re-appends its
/// implicit device rules (`c *:* m`, `b *:* m` among them) on every update. The rules and the
/// setting are the update's when it has them, else the container's own (`saved`).
pub fn plan_update(saved: Option<&Spec>, update: &LinuxResources) -> AfterCreate {
    let saved = saved.map(|s| plan(s).1).unwrap_or_default();
    let disable_oom_killer = update
        .memory()
        .as_ref()
        .and_then(|m| m.disable_oom_killer())
        .unwrap_or(saved.disable_oom_killer);
    let (take_back_mknod, device_rules) = match update.devices() {
        Some(rules) => (mknod::takes_back_mknod(rules), Some(rules.clone())),
        None => (saved.take_back_mknod, saved.device_rules),
    };
    AfterCreate {
        mounts: Vec::new(),
        disable_oom_killer,
        take_back_mknod,
        device_rules,
        cgroup_mounts: Vec::new(),
    }
}

/// Rewrite `spec` (already hardened by the policy) around libcontainer's gaps. May give this
/// process a private mount namespace (devices outside `/dev`).
pub fn rewrite(spec: &Spec) -> Result<Rewrite> {
    let (planned, after) = plan(spec);
    let mut changed = planned.is_some();
    let mut out = planned.unwrap_or_else(|| spec.clone());
    changed |= devices::move_outside_dev(&mut out)?;
    let userns = id_ranges::own_user_namespace(&mut out)?;
    changed |= userns.is_some();
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
        mounts::apply_mount_fixups(pid, &self.mounts)?;
        cgroup_mounts::apply(pid, &self.cgroup_mounts)?;
        if self.disable_oom_killer {
            oom_killer::disable(pid)?;
        }
        if let Some(rules) = &self.device_rules {
            mknod::apply(pid, rules, self.take_back_mknod)?;
        }
        Ok(())
    }
}
