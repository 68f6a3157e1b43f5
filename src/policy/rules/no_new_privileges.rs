//! `no-new-privileges`: `process.noNewPrivileges = true`, so setuid binaries and file
//! capabilities cannot raise privileges inside the container.

use oci_spec::runtime::{Process, Spec};

use super::{Ctx, Out, Rule, RuleId};

pub const RULE: Rule = Rule {
    id: RuleId::NoNewPrivileges,
    evaluate,
};

pub fn evaluate_process(ctx: &Ctx, process: &mut Process, out: &mut Out) {
    if ctx.rules.no_new_privileges && process.no_new_privileges() != Some(true) {
        process.set_no_new_privileges(Some(true));
        out.change("set noNewPrivileges = true");
    }
}

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    if let Some(mut p) = spec.process().clone() {
        evaluate_process(ctx, &mut p, out);
        spec.set_process(Some(p));
    }
}
