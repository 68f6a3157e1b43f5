//! `readonly-rootfs`: the root filesystem is read-only; small writable tmpfs scratch mounts
//! (`/tmp`, `/run` by default) are added, `nosuid,nodev,noexec`, unless the config already
//! mounts something there. They carry `tmpcopyup` (as runc and crun name it): what the image has
//! there (`/run/sshd`, `/run/lock`) is copied into the tmpfs. The I/O that needs the root
//! filesystem (that copy, and making the scratch mounts before the caller's mounts beneath them,
//! symlinks resolved inside the root) is done on the create path (`crate::scratch`), not here.
//! In learn mode the root stays writable, and the scratch mounts are added all the same.

use std::path::Path;

use oci_spec::runtime::{Mount, MountBuilder, Root, Spec};

use super::{Ctx, Out, Rule, RuleId};

pub const RULE: Rule = Rule {
    id: RuleId::ReadonlyRootfs,
    evaluate,
};

pub fn scratch_mount(dest: &Path, size: &str) -> Option<Mount> {
    MountBuilder::default()
        .destination(dest)
        .typ("tmpfs")
        .source("tmpfs")
        .options(
            [
                "nosuid",
                "nodev",
                "noexec",
                "mode=1777",
                &format!("size={size}"),
                "tmpcopyup",
            ]
            .map(String::from)
            .to_vec(),
        )
        .build()
        .ok()
}

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    if ctx.rules.readonly_rootfs {
        let mut root: Root = spec.root().clone().unwrap_or_default();
        if root.readonly() != Some(true) {
            root.set_readonly(Some(true));
            spec.set_root(Some(root));
            out.change("made the root filesystem read-only");
        }
    } else if !ctx.learning {
        return;
    }
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    let mut added = Vec::new();
    for dest in &ctx.rules.scratch_mounts {
        if mounts.iter().any(|m| m.destination() == dest) {
            continue;
        }
        if let Some(m) = scratch_mount(dest, &ctx.rules.scratch_size) {
            mounts.push(m);
            added.push(dest.display().to_string());
        }
    }
    if !added.is_empty() {
        out.change(format!(
            "added tmpfs scratch mounts {} (nosuid,nodev,noexec,size={}, with the image's content)",
            added.join(", "),
            ctx.rules.scratch_size
        ));
        spec.set_mounts(Some(mounts));
    }
}
