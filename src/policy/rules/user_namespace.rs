//! `user-namespace`: root inside a container is not root on the host. A container without a
//! user namespace (Docker's default) gets one, mapping container IDs 0-65535 to a host range of
//! its own (allocated by `crate::userns`, which also idmaps the root filesystem and bind mounts so
//! that images work unchanged). A user namespace the engine asked for (Kubernetes
//! `hostUsers: false`, Docker `userns-remap`) is honoured, but a mapping that contains host uid
//! or gid 0 is refused.

use oci_spec::runtime::{
    LinuxIdMapping, LinuxIdMappingBuilder, LinuxNamespace, LinuxNamespaceType, Spec,
};

use super::{Ctx, Out, Rule};

pub const ID: &str = "user-namespace";
pub const RULE: Rule = Rule {
    id: ID,
    title: "a user namespace with a host ID range of its own",
    evaluate,
};

pub fn has_user_namespace(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::User))
}

/// Host IDs are unsigned: a mapping's host range [host_id, host_id + size) holds 0 exactly when
/// it starts there.
fn maps_host_root(maps: &Option<Vec<LinuxIdMapping>>) -> bool {
    maps.iter()
        .flatten()
        .any(|m| m.host_id() == 0 && m.size() > 0)
}

/// Whether the config shares one of the host's pid, network, ipc, uts or mount namespaces (only
/// when the policy allows it). A user namespace of ours would not own it, so /proc, sysfs,
/// mqueue and the hostname could not be set up: such a container keeps the host's user
/// namespace (as Docker requires `--userns=host` with `--pid=host`).
pub fn shares_host_namespace(spec: &Spec, host: &crate::policy::HostFacts) -> bool {
    let ns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    super::host_namespaces::CHECKED.iter().any(|(typ, _, _)| {
        match ns.iter().find(|n| n.typ() == *typ) {
            None => true,
            Some(n) => n
                .path()
                .as_ref()
                .is_some_and(|p| host.host_namespace_paths.contains(p)),
        }
    })
}

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    let mut linux = spec.linux().clone().unwrap_or_default();
    if has_user_namespace(spec) {
        let joined = linux
            .namespaces()
            .iter()
            .flatten()
            .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_some());
        if !joined
            && !ctx.rules.allow_host_root_mapping
            && (maps_host_root(linux.uid_mappings()) || maps_host_root(linux.gid_mappings()))
        {
            out.refuse(
                "a user namespace whose mapping contains host uid or gid 0 (root inside would be root on the host)",
                ctx.allow("allow_host_root_mapping = true"),
            );
        }
        return;
    }
    if !ctx.rules.user_namespace {
        return;
    }
    if shares_host_namespace(spec, ctx.host) {
        out.warn("no user namespace added: the container shares a host namespace (allowed by allow_host_namespaces), which a new user namespace would not own");
        return;
    }
    if let Some(why) = &ctx.host.userns_blocked {
        out.warn(format!("no user namespace added: {why}"));
        return;
    }
    let Some(range) = ctx.host.userns_range else {
        out.refuse(
            "a container without a user namespace, and no host ID range was allocated for one",
            ctx.allow("user_namespace = false"),
        );
        return;
    };
    let mut ns = linux.namespaces().clone().unwrap_or_default();
    let mut user = LinuxNamespace::default();
    user.set_typ(LinuxNamespaceType::User);
    if let Some(path) = &ctx.host.userns_join {
        // The namespaces it joins belong to another container's user namespace: join that one
        // (and share its range) rather than make one that could not enter them.
        user.set_path(Some(path.clone()));
        ns.insert(0, user);
        linux.set_namespaces(Some(ns));
    } else {
        let map = match LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(range.host_start)
            .size(range.size)
            .build()
        {
            Ok(m) => m,
            Err(_) => return,
        };
        ns.insert(0, user);
        linux.set_namespaces(Some(ns));
        linux.set_uid_mappings(Some(vec![map]));
        linux.set_gid_mappings(Some(vec![map]));
    }
    // Docker grants ping to every group ("0 2147483647") when it has not set up a user
    // namespace itself; inside ours only groups 0-65535 exist, and the kernel refuses a range
    // of unmapped groups.
    if let Some(mut sysctl) = linux.sysctl().clone() {
        if let Some(v) = sysctl.get("net.ipv4.ping_group_range").cloned() {
            let last = range.size - 1;
            let fits = v
                .split_whitespace()
                .map(|n| n.parse::<u64>().unwrap_or(u64::MAX))
                .all(|n| n <= last as u64);
            if !fits {
                let new = format!("0 {last}");
                out.change(format!(
                    "net.ipv4.ping_group_range {v:?} -> {new:?} (the groups of the user namespace)"
                ));
                sysctl.insert("net.ipv4.ping_group_range".into(), new);
                linux.set_sysctl(Some(sysctl));
            }
        }
    }
    spec.set_linux(Some(linux));
    let how = match &ctx.host.userns_join {
        Some(p) => format!(
            "joined the user namespace {} of the container whose namespaces it shares",
            p.display()
        ),
        None => "added a user namespace".to_string(),
    };
    out.change(format!(
        "{how}: container IDs 0-{} are host IDs {}-{}",
        range.size - 1,
        range.host_start,
        range.host_start as u64 + range.size as u64 - 1
    ));
}
