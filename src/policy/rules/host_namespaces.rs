//! `host-namespaces`: a container gets its own pid, network, ipc, uts and mount namespaces.
//! Sharing the host's (`--pid host`, `--network host`, `--ipc host`, `--uts host`, hostPID,
//! hostNetwork, hostIPC) is refused. Joining another container's namespace by path (a
//! Kubernetes pod's sandbox, `--network container:x`) is not the host's and is fine.

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::{Ctx, Out, Rule, RuleId};

pub const RULE: Rule = Rule {
    id: RuleId::HostNamespaces,
    evaluate,
};

pub const CHECKED: &[(LinuxNamespaceType, &str, &str)] = &[
    (LinuxNamespaceType::Pid, "pid", "--pid host / hostPID"),
    (
        LinuxNamespaceType::Network,
        "network",
        "--network host / hostNetwork",
    ),
    (LinuxNamespaceType::Ipc, "ipc", "--ipc host / hostIPC"),
    (LinuxNamespaceType::Uts, "uts", "--uts host"),
    (LinuxNamespaceType::Mount, "mount", "no mount namespace"),
];

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for (typ, name, how) in CHECKED {
        let entry = namespaces.iter().find(|n| n.typ() == *typ);
        let host = match entry {
            None => true,
            Some(n) => n
                .path()
                .as_ref()
                .is_some_and(|p| ctx.facts.host.host_namespace_paths.contains(p)),
        };
        if host && !ctx.rules.allow_host_namespaces.iter().any(|a| a == name) {
            out.refuse(
                format!("the host's {name} namespace ({how})"),
                ctx.allow(&format!("allow_host_namespaces = [\"{name}\"]")),
            );
        }
    }
}
