//! `pids-limit`: a pids limit is set when the config has none, and lowered when it is above the
//! policy's maximum (or unlimited): a fork bomb stops at the limit.

use oci_spec::runtime::{LinuxPids, Spec};

use super::{Ctx, Out, Rule, RuleId};

pub const RULE: Rule = Rule {
    id: RuleId::PidsLimit,
    evaluate,
};

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    let mut linux = spec.linux().clone().unwrap_or_default();
    let mut res = linux.resources().clone().unwrap_or_default();
    let current = res.pids().as_ref().map(|p| p.limit());
    let new = match current {
        None => {
            out.change(format!("set pids limit {}", ctx.rules.pids_limit));
            ctx.rules.pids_limit
        }
        Some(l) if l <= 0 => {
            out.change(format!(
                "lowered pids limit from unlimited to {}",
                ctx.rules.pids_max
            ));
            ctx.rules.pids_max
        }
        Some(l) if l > ctx.rules.pids_max => {
            out.change(format!(
                "lowered pids limit from {l} to {}",
                ctx.rules.pids_max
            ));
            ctx.rules.pids_max
        }
        Some(_) => return,
    };
    let mut pids = LinuxPids::default();
    pids.set_limit(new);
    res.set_pids(Some(pids));
    linux.set_resources(Some(res));
    spec.set_linux(Some(linux));
}
