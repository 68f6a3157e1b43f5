//! `readonly-rootfs`: the root filesystem is read-only; small writable tmpfs scratch mounts
//! (`/tmp`, `/run` by default) are added, `nosuid,nodev,noexec`, unless the config already
//! mounts something there.

use std::path::Path;

use oci_spec::runtime::{Mount, MountBuilder, Root, Spec};

use super::{Ctx, Out, Rule};

pub const ID: &str = "readonly-rootfs";
pub const RULE: Rule = Rule {
    id: ID,
    title: "read-only root filesystem with tmpfs scratch space",
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
            ]
            .map(String::from)
            .to_vec(),
        )
        .build()
        .ok()
}

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    if !ctx.rules.readonly_rootfs {
        return;
    }
    let mut root: Root = spec.root().clone().unwrap_or_default();
    if root.readonly() != Some(true) {
        root.set_readonly(Some(true));
        spec.set_root(Some(root));
        out.change("made the root filesystem read-only");
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
            "added tmpfs scratch mounts {} (nosuid,nodev,noexec,size={})",
            added.join(", "),
            ctx.rules.scratch_size
        ));
        spec.set_mounts(Some(mounts));
    }
}
