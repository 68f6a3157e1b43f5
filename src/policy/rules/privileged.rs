//! `privileged`: refuse privileged mode (`--privileged`, `--cap-add ALL`): a config that asks for
//! every capability switches every wall off.

use oci_spec::runtime::{Capability, LinuxDeviceType, Spec};

use super::{capabilities, Ctx, Out, Rule};

pub const ID: &str = "privileged";
pub const RULE: Rule = Rule {
    id: ID,
    title: "no privileged mode",
    evaluate,
};

/// A config is privileged when it asks for every classic capability (0 to CAP_AUDIT_READ, 37):
/// engines grant "all" as the set they know, which may stop before the newest ones (PERFMON,
/// BPF, CHECKPOINT_RESTORE). Or when it asks for `CAP_SYS_ADMIN` and access to every device
/// (a device-cgroup rule `a *:* rw`): containerd's CRI grants a privileged pod the capabilities
/// of the host's bounding set, which may lack some (no `CAP_SYS_RESOURCE` on some hosts), but
/// always every device.
pub fn is_privileged(spec: &Spec) -> bool {
    let requested = capabilities::requested(spec.process().as_ref());
    capabilities::classic()
        .iter()
        .all(|c| requested.contains(c))
        || (requested.contains(&Capability::SysAdmin) && allows_every_device(spec))
}

fn allows_every_device(spec: &Spec) -> bool {
    let rules = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().clone())
        .unwrap_or_default();
    rules.iter().any(|r| {
        let access = r.access().clone().unwrap_or_else(|| "rwm".into());
        r.allow()
            && matches!(r.typ(), None | Some(LinuxDeviceType::A))
            && r.major().is_none()
            && r.minor().is_none()
            && access.contains('r')
            && access.contains('w')
    })
}

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    if is_privileged(spec) {
        out.refuse(
            "privileged mode: the config asks for every capability (docker run --privileged, --cap-add ALL, privileged: true)",
            ctx.allow("allow_privileged = true"),
        );
    }
}
