//! `privileged`: refuse privileged mode (`--privileged`, `--cap-add ALL`): a config that asks for
//! every capability switches every wall off. What counts as privileged is
//! `facts::SpecFacts::privileged`.

use oci_spec::runtime::Spec;

use super::{Ctx, Out, Rule, RuleId};

pub const RULE: Rule = Rule {
    id: RuleId::Privileged,
    evaluate,
};

fn evaluate(ctx: &Ctx, _spec: &mut Spec, out: &mut Out) {
    if ctx.facts.spec.privileged {
        out.refuse(
            "privileged mode: the config asks for every capability (docker run --privileged, --cap-add ALL, privileged: true)",
            ctx.allow("allow_privileged = true"),
        );
    }
}
