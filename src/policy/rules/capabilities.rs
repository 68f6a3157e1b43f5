//! `capabilities`: all five capability sets emptied, except the capabilities that the policy
//! allows *and* the config asks for. Asking for a capability outside the policy's allowlist is
//! refused, except the baseline set that Docker, containerd and `runc spec` grant by default
//! (those are dropped without a fuss: most programs do not need them).

use std::collections::HashSet;

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, Process, Spec};

use super::{Ctx, Out, Rule, RuleId};

pub const RULE: Rule = Rule {
    id: RuleId::Capabilities,
    evaluate,
};

/// The capabilities container engines grant by default (Docker's 14): dropped silently.
pub const ENGINE_DEFAULTS: &[Capability] = &[
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// "SYS_ADMIN", "CAP_SYS_ADMIN", "sys_admin" -> the capability (the policy trims white space
/// around a name first; `exec --cap` does not).
pub fn parse_cap(name: &str) -> Option<Capability> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    serde_json::from_value(serde_json::Value::String(full)).ok()
}

pub fn name(c: &Capability) -> String {
    format!("CAP_{c}")
}

/// Capabilities 0 to 37 (CAP_CHOWN to CAP_AUDIT_READ), known to every engine.
pub fn classic() -> Vec<Capability> {
    caps::all()
        .iter()
        .filter(|c| c.index() <= 37)
        .filter_map(|c| parse_cap(&c.to_string()))
        .collect()
}

/// Every capability this build knows (the `caps` crate's list, up to CAP_CHECKPOINT_RESTORE).
pub fn all_known() -> Vec<Capability> {
    caps::all()
        .iter()
        .filter_map(|c| parse_cap(&c.to_string()))
        .collect()
}

fn sets(c: &LinuxCapabilities) -> [&Option<Capabilities>; 5] {
    [
        c.bounding(),
        c.effective(),
        c.inheritable(),
        c.permitted(),
        c.ambient(),
    ]
}

/// The union of the five sets a process asks for.
pub fn requested(process: Option<&Process>) -> HashSet<Capability> {
    let mut all = HashSet::new();
    if let Some(c) = process.and_then(|p| p.capabilities().as_ref()) {
        for s in sets(c).into_iter().flatten() {
            all.extend(s.iter().copied());
        }
    }
    all
}

fn sorted_names(caps: &HashSet<Capability>) -> String {
    let mut v: Vec<String> = caps.iter().map(name).collect();
    v.sort();
    v.join(", ")
}

/// Keep only `keep` in every set of `process`; returns what was dropped.
fn restrict(process: &mut Process, keep: &HashSet<Capability>) -> HashSet<Capability> {
    let mut dropped = HashSet::new();
    let mut caps = process.capabilities().clone().unwrap_or_default();
    let filter = |s: &Option<Capabilities>, dropped: &mut HashSet<Capability>| {
        let s = s.clone().unwrap_or_default();
        dropped.extend(s.iter().filter(|c| !keep.contains(c)).copied());
        Some(
            s.into_iter()
                .filter(|c| keep.contains(c))
                .collect::<Capabilities>(),
        )
    };
    let b = filter(caps.bounding(), &mut dropped);
    let e = filter(caps.effective(), &mut dropped);
    let i = filter(caps.inheritable(), &mut dropped);
    let p = filter(caps.permitted(), &mut dropped);
    let a = filter(caps.ambient(), &mut dropped);
    caps.set_bounding(b)
        .set_effective(e)
        .set_inheritable(i)
        .set_permitted(p)
        .set_ambient(a);
    process.set_capabilities(Some(caps));
    dropped
}

/// Apply the policy to one process's capabilities.
fn harden_process(ctx: &Ctx, process: &mut Process, out: &mut Out) {
    let allowed: HashSet<Capability> = ctx
        .rules
        .allow_capabilities
        .iter()
        .filter_map(|c| parse_cap(c.trim()))
        .collect();
    let requested = requested(Some(process));
    let refused: HashSet<Capability> = requested
        .iter()
        .filter(|c| !allowed.contains(c) && !ENGINE_DEFAULTS.contains(c))
        .copied()
        .collect();
    if !refused.is_empty() {
        out.refuse(
            format!("capabilities {}", sorted_names(&refused)),
            ctx.allow(&format!(
                "allow_capabilities = [{}]",
                refused
                    .iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
    }
    // Refused capabilities stay (audit mode runs them; enforce mode does not run at all).
    let keep: HashSet<Capability> = allowed.union(&refused).copied().collect();
    let dropped = restrict(process, &keep);
    if !dropped.is_empty() {
        out.change(format!("dropped capabilities {}", sorted_names(&dropped)));
    }
}

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    let Some(mut process) = spec.process().clone() else {
        return;
    };
    harden_process(ctx, &mut process, out);
    spec.set_process(Some(process));
}

/// An `exec`'d process: the same policy, and nothing its container does not have.
pub fn evaluate_exec(ctx: &Ctx, container: &Spec, process: &mut Process, out: &mut Out) {
    harden_process(ctx, process, out);
    let container_caps = requested(container.process().as_ref());
    let extra: HashSet<Capability> = requested(Some(process))
        .into_iter()
        .filter(|c| !container_caps.contains(c))
        .collect();
    if !extra.is_empty() {
        out.refuse(
            format!(
                "exec asks for capabilities its container does not have: {} (docker exec --privileged, --cap)",
                sorted_names(&extra)
            ),
            ctx.allow("allow_capabilities (for the container itself, then exec may use them)"),
        );
    }
}
