//! `privileged`: refuse privileged mode (`--privileged`, `--cap-add ALL`): a config that asks for
//! every capability switches every wall off.

use oci_spec::runtime::Spec;

use super::{capabilities, Ctx, Out, Rule};

pub const ID: &str = "privileged";
pub const RULE: Rule = Rule {
    id: ID,
    title: "no privileged mode",
    evaluate,
};

/// A config is privileged when it asks for every classic capability (0 to CAP_AUDIT_READ, 37):
/// engines grant "all" as the set they know, which may stop before the newest ones (PERFMON,
/// BPF, CHECKPOINT_RESTORE).
pub fn is_privileged(spec: &Spec) -> bool {
    let requested = capabilities::requested(spec.process().as_ref());
    capabilities::classic()
        .iter()
        .all(|c| requested.contains(c))
}

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    if is_privileged(spec) {
        out.refuse(
            "privileged mode: the config asks for every capability (docker run --privileged, --cap-add ALL, privileged: true)",
            ctx.allow("allow_privileged = true"),
        );
    }
}
