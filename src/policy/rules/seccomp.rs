//! `seccomp`: every container runs under a seccomp filter. A config without one gets the
//! built-in default profile; a config with its own keeps it, with the baseline's denied
//! syscalls merged in (they stay denied). An explicit opt-out is refused: a profile that allows
//! everything, or a Docker config without one (Docker always sends its default profile unless
//! told `--security-opt seccomp=unconfined` or `--privileged`).

use oci_spec::runtime::Spec;

use super::{Ctx, Out, Rule, RuleId};
use crate::seccomp;

pub const RULE: Rule = Rule {
    id: RuleId::Seccomp,
    evaluate,
};

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    let mut linux = spec.linux().clone().unwrap_or_default();
    if let Some(own) = &ctx.rules.seccomp_loaded {
        // The policy's profile (a learned one) replaces the caller's, baseline merged in.
        if seccomp::is_unconfined(&own.0) && !ctx.rules.allow_unconfined_seccomp {
            out.refuse(
                "the policy's seccomp_profile allows every system call (unconfined)",
                ctx.allow("allow_unconfined_seccomp = true"),
            );
            return;
        }
        let (merged, _) = seccomp::merge_baseline(&own.0);
        if linux.seccomp().as_ref() != Some(&merged) {
            linux.set_seccomp(Some(merged));
            out.change(format!(
                "applied the policy's seccomp profile {} (baseline merged in)",
                ctx.rules
                    .seccomp_profile
                    .as_deref()
                    .unwrap_or(std::path::Path::new("?"))
                    .display()
            ));
            spec.set_linux(Some(linux));
        }
        return;
    }
    match linux.seccomp().clone() {
        None => {
            if ctx.facts.spec.made_by_docker {
                if !ctx.rules.allow_unconfined_seccomp {
                    out.refuse(
                        "running without a seccomp filter (--security-opt seccomp=unconfined)",
                        ctx.allow("allow_unconfined_seccomp = true"),
                    );
                }
                return;
            }
            linux.set_seccomp(Some(seccomp::default_profile()));
            out.change("applied the built-in default seccomp profile");
        }
        Some(profile) => {
            if seccomp::is_unconfined(&profile) {
                if !ctx.rules.allow_unconfined_seccomp {
                    out.refuse(
                        "a seccomp profile that allows every system call (unconfined)",
                        ctx.allow("allow_unconfined_seccomp = true"),
                    );
                }
                return;
            }
            let (merged, changed) = seccomp::merge_baseline(&profile);
            if changed.is_empty() {
                return;
            }
            linux.set_seccomp(Some(merged));
            out.change(format!(
                "merged the baseline into the config's seccomp profile: {} denied",
                changed.join(", ")
            ));
        }
    }
    spec.set_linux(Some(linux));
}
