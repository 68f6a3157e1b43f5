//! `sensitive-mounts`: bind mounts of sensitive host paths are refused: the host's root and
//! kernel interfaces, its configuration, the container engines' sockets and state, and this
//! runtime's own; also anything *above* them (which would expose them: `/var` exposes
//! `/var/lib/docker`) or *below* them. The engines' per-container files (`/etc/hosts`,
//! `/etc/resolv.conf`, `/etc/hostname`, `/dev/shm` of a pod, Docker named volumes) live in
//! their state directories and stay allowed: a path below engine state that names this
//! container or its pod sandbox, or a Docker volume's `_data`.

use std::path::Path;

use oci_spec::runtime::Spec;

use super::{Ctx, Out, Rule, RuleId};
use crate::facts::{is_bind, normalize};

pub const RULE: Rule = Rule {
    id: RuleId::SensitiveMounts,
    evaluate,
};

/// Sensitive host paths, in the order they are reported (`sensitive()`): the host's own, the
/// engines' state (`ENGINE_STATE`), then the rest. For each: the path itself, its ancestors and
/// its descendants are refused (for `/`, only `/` itself).
const HOST: &[&str] = &[
    "/",
    "/proc",
    "/sys",
    "/dev",
    "/etc",
    "/boot",
    "/root",
    "/lib/modules",
    "/usr/lib/modules",
    "/var/run/docker.sock",
    "/run/docker.sock",
];

/// Engine state directories whose per-container entries are the engine's own mounts.
const ENGINE_STATE: &[&str] = &[
    "/var/lib/docker",
    "/run/docker",
    "/var/run/docker",
    "/run/containerd",
    "/var/run/containerd",
    "/var/lib/containerd",
    "/run/crio",
    "/var/run/crio",
    "/var/lib/containers",
];

/// Other engines' sockets and secrets, and this runtime's own state and logs.
const OTHER: &[&str] = &[
    "/run/podman",
    "/var/lib/kubelet/pki",
    "/run/hardened",
    "/var/run/hardened",
    "/var/log/hardened",
];

/// Every sensitive host path, in order.
fn sensitive() -> impl Iterator<Item = &'static str> {
    HOST.iter().chain(ENGINE_STATE).chain(OTHER).copied()
}

/// Why `source` is sensitive (the sensitive path it exposes), or None.
fn exposes(source: &Path, own_ids: &[&str]) -> Option<&'static str> {
    for s in sensitive() {
        let s_path = Path::new(s);
        if source == s_path {
            return Some(s);
        }
        if s_path.starts_with(source) {
            // An ancestor of a sensitive path exposes it.
            return Some(s);
        }
        if s != "/" && source.starts_with(s_path) {
            if ENGINE_STATE.contains(&s) && engine_own(source, s_path, own_ids) {
                continue;
            }
            return Some(s);
        }
    }
    None
}

/// A path below engine state that belongs to this container: it names the container or its
/// sandbox, or it is a Docker named volume's data.
fn engine_own(source: &Path, state: &Path, own_ids: &[&str]) -> bool {
    let Ok(rel) = source.strip_prefix(state) else {
        return false;
    };
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts
        .iter()
        .any(|p| own_ids.iter().any(|id| !id.is_empty() && p == id))
    {
        return true;
    }
    parts.len() >= 3 && parts[0] == "volumes" && parts[2] == "_data"
}

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    let sandbox = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get("io.kubernetes.cri.sandbox-id").cloned())
        .unwrap_or_default();
    let own_ids = [ctx.container_id, sandbox.as_str()];
    for m in spec.mounts().iter().flatten() {
        if !is_bind(m) {
            continue;
        }
        let Some(source) = m.source() else { continue };
        let lexical = normalize(source);
        let resolved = ctx.facts.host.canonical_sources.get(source).cloned();
        let candidates = std::iter::once(lexical.clone()).chain(resolved);
        for path in candidates {
            let allowed = ctx
                .rules
                .allow_mounts
                .iter()
                .any(|a| path.starts_with(normalize(a)));
            if allowed {
                continue;
            }
            if let Some(hit) = exposes(&path, &own_ids) {
                let via = if path != lexical {
                    format!(" (it resolves to {})", path.display())
                } else {
                    String::new()
                };
                let what = if Path::new(hit) == path {
                    format!(
                        "a bind mount of the host's {} at {}{via}",
                        source.display(),
                        m.destination().display()
                    )
                } else {
                    format!(
                        "a bind mount of the host's {} at {}{via}, which exposes {hit}",
                        source.display(),
                        m.destination().display()
                    )
                };
                out.refuse(
                    what,
                    ctx.allow(&format!("allow_mounts = [\"{}\"]", path.display())),
                );
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposure() {
        let ids = ["abc123", ""];
        for path in ["/var", "/run", "/usr"] {
            assert!(exposes(Path::new(path), &ids).is_some(), "{path}");
        }
        for (path, exposed) in [
            ("/", Some("/")),
            ("/etc/shadow", Some("/etc")),
            ("/var/run/docker.sock", Some("/var/run/docker.sock")),
            ("/tmp/data", None),
            ("/home/app", None),
            ("/var/lib/docker/containers/abc123/hosts", None),
            (
                "/var/lib/docker/containers/other/hosts",
                Some("/var/lib/docker"),
            ),
            ("/var/lib/docker/volumes/data/_data", None),
            ("/var/lib/docker/volumes", Some("/var/lib/docker")),
        ] {
            assert_eq!(exposes(Path::new(path), &ids), exposed, "{path}");
        }
    }
}
