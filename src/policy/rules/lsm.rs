//! `lsm`: an unconfined AppArmor profile or SELinux type (`--security-opt apparmor=unconfined`,
//! `label=disable`, `spc_t`) is refused.

use oci_spec::runtime::{Process, Spec};

use super::{Ctx, Out, Rule, RuleId};

pub const RULE: Rule = Rule {
    id: RuleId::Lsm,
    evaluate,
};

pub fn evaluate_process(ctx: &Ctx, process: &mut Process, out: &mut Out) {
    if ctx.rules.allow_unconfined_lsm {
        return;
    }
    if process.apparmor_profile().as_deref() == Some("unconfined") {
        out.refuse(
            "the unconfined AppArmor profile (--security-opt apparmor=unconfined)",
            ctx.allow("allow_unconfined_lsm = true"),
        );
    }
    if let Some(label) = process.selinux_label() {
        if ["spc_t", "unconfined_t"].iter().any(|t| label.contains(t)) {
            out.refuse(
                format!("the unconfined SELinux label {label:?} (--security-opt label=disable)"),
                ctx.allow("allow_unconfined_lsm = true"),
            );
        }
    }
}

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    if let Some(mut p) = spec.process().clone() {
        evaluate_process(ctx, &mut p, out);
        spec.set_process(Some(p));
    }
}
