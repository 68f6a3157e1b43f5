//! `user-namespace`: root inside a container is not root on the host. A container without a
//! user namespace (Docker's default) gets one, mapping container IDs 0-65535 to a host range of
//! its own (allocated by `crate::userns`, which also idmaps the root filesystem and bind mounts so
//! that images work unchanged). A user namespace the engine asked for (Kubernetes
//! `hostUsers: false`, Docker `userns-remap`) is honoured, but a mapping that contains host uid
//! or gid 0 is refused.

use oci_spec::runtime::{Linux, LinuxIdMappingBuilder, LinuxNamespace, LinuxNamespaceType, Spec};

use crate::facts::ConfigUserns;
use crate::userns::IdRange;

use super::{Ctx, Out, Rule, RuleId};

pub const RULE: Rule = Rule {
    id: RuleId::UserNamespace,
    evaluate,
};

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    match ctx.facts.spec.user_namespace {
        Some(given) => check_engine_given(ctx, given, out),
        None => add(ctx, spec, out),
    }
}

/// A user namespace the engine asked for is honoured, unless its mapping makes root inside
/// the host's root.
fn check_engine_given(ctx: &Ctx, given: ConfigUserns, out: &mut Out) {
    if given
        == (ConfigUserns::New {
            maps_host_root: true,
        })
        && !ctx.rules.allow_host_root_mapping
    {
        out.refuse(
            "a user namespace whose mapping contains host uid or gid 0 (root inside would be root on the host)",
            ctx.allow("allow_host_root_mapping = true"),
        );
    }
}

/// A container without a user namespace gets the one the pipeline planned
/// (`facts::UsernsFacts`): a new one over the range allocated for it, or the one of the
/// container whose namespaces it joins.
fn add(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    if !ctx.rules.user_namespace {
        return;
    }
    if ctx.facts.spec.shares_host_namespace {
        out.warn("no user namespace added: the container shares a host namespace (allowed by allow_host_namespaces), which a new user namespace would not own");
        return;
    }
    let userns = &ctx.facts.userns;
    if let Some(why) = &userns.blocked {
        out.warn(format!("no user namespace added: {why}"));
        return;
    }
    let Some(range) = userns.range else {
        out.refuse(
            "a container without a user namespace, and no host ID range was allocated for one",
            ctx.allow("user_namespace = false"),
        );
        return;
    };
    let mut linux = spec.linux().clone().unwrap_or_default();
    if !insert_namespace(&mut linux, range, userns.join.as_ref()) {
        return;
    }
    narrow_ping_group_range(&mut linux, range, out);
    spec.set_linux(Some(linux));
    let how = match &userns.join {
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

/// Put the user namespace first among the namespaces: joined by path (the namespaces the
/// container joins belong to another container's user namespace, which it shares rather than
/// make one that could not enter them), or new with `range` as its uid and gid mapping.
/// False when the mapping cannot be built.
fn insert_namespace(linux: &mut Linux, range: IdRange, join: Option<&std::path::PathBuf>) -> bool {
    let mut ns = linux.namespaces().clone().unwrap_or_default();
    let mut user = LinuxNamespace::default();
    user.set_typ(LinuxNamespaceType::User);
    if let Some(path) = join {
        user.set_path(Some(path.clone()));
    } else {
        let Ok(map) = LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(range.host_start)
            .size(range.size)
            .build()
        else {
            return false;
        };
        linux.set_uid_mappings(Some(vec![map]));
        linux.set_gid_mappings(Some(vec![map]));
    }
    ns.insert(0, user);
    linux.set_namespaces(Some(ns));
    true
}

/// Docker grants ping to every group ("0 2147483647") when it has not set up a user namespace
/// itself; inside ours only groups 0-65535 exist, and the kernel refuses a range of unmapped
/// groups.
fn narrow_ping_group_range(linux: &mut Linux, range: IdRange, out: &mut Out) {
    let Some(mut sysctl) = linux.sysctl().clone() else {
        return;
    };
    let Some(v) = sysctl.get("net.ipv4.ping_group_range").cloned() else {
        return;
    };
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
