//! `kernel-paths`: kernel interfaces that leak host information or control the host are masked
//! (`/proc/kcore`, `/proc/keys`, `/proc/timer_list`, `/proc/sched_debug`, `/sys/firmware`, ...)
//! or read-only (`/proc/sys`, `/proc/sysrq-trigger`, `/proc/irq`, `/proc/bus`, `/proc/fs`), and
//! `/sys` is mounted read-only. A Docker config without them (`--security-opt
//! systempaths=unconfined`, `--privileged`) is refused.

use std::path::PathBuf;

use oci_spec::runtime::Spec;

use super::{Ctx, Out, Rule, RuleId};

pub const RULE: Rule = Rule {
    id: RuleId::KernelPaths,
    evaluate,
};

pub const MASKED: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
];

pub const READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

fn add_missing(list: &mut Vec<String>, wanted: &[&str]) -> Vec<String> {
    let mut added = Vec::new();
    for w in wanted {
        if !list.iter().any(|p| p == w) {
            list.push((*w).to_string());
            added.push((*w).to_string());
        }
    }
    added
}

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    let mut linux = spec.linux().clone().unwrap_or_default();
    let mut masked = linux.masked_paths().clone().unwrap_or_default();
    let mut readonly = linux.readonly_paths().clone().unwrap_or_default();
    if masked.is_empty() && readonly.is_empty() && ctx.facts.spec.made_by_docker {
        if !ctx.rules.allow_unconfined_systempaths {
            out.refuse(
                "unmasked, writable kernel paths such as /proc/sys and /proc/kcore (--security-opt systempaths=unconfined)",
                ctx.allow("allow_unconfined_systempaths = true"),
            );
        }
        return;
    }
    let added_m = add_missing(&mut masked, MASKED);
    let added_r = add_missing(&mut readonly, READONLY);
    if !added_m.is_empty() {
        out.change(format!("masked {}", added_m.join(", ")));
    }
    if !added_r.is_empty() {
        out.change(format!("made read-only {}", added_r.join(", ")));
    }
    linux.set_masked_paths(Some(masked));
    linux.set_readonly_paths(Some(readonly));
    spec.set_linux(Some(linux));

    // sysfs read-only.
    if let Some(mut mounts) = spec.mounts().clone() {
        let mut changed = false;
        for m in mounts.iter_mut() {
            if m.typ().as_deref() == Some("sysfs") || m.destination() == &PathBuf::from("/sys") {
                let mut opts = m.options().clone().unwrap_or_default();
                if !opts.iter().any(|o| o == "ro") {
                    opts.retain(|o| o != "rw");
                    opts.push("ro".into());
                    m.set_options(Some(opts));
                    changed = true;
                }
            }
        }
        if changed {
            out.change("mounted /sys read-only");
            spec.set_mounts(Some(mounts));
        }
    }
}
