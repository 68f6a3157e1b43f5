//! What the runtime knows about one container before it decides anything, worked out once per
//! `create` (or `check`) and read by the pipeline and by the rules alike:
//!
//! - [`SpecFacts`]: facts about the caller's spec (pure: no I/O);
//! - [`HostFacts`]: facts that need the host (which namespace paths are the host's own, bind
//!   sources resolved through symlinks), gathered by [`HostFacts::gather`];
//! - [`UsernsFacts`]: the user namespace the pipeline planned for the container (the range
//!   allocated, or the container whose user namespace it joins, or why it gets none).
//!
//! The pipeline decides from them whether to allocate a user-namespace range, and
//! `policy::evaluate` hands them to every rule, so a rule never works a fact out again and the
//! pipeline never calls a rule as a helper.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{
    Capability, LinuxDeviceType, LinuxIdMapping, LinuxNamespaceType, Mount, Spec,
};

use crate::policy::rules::{capabilities, host_namespaces};

/// Facts about a spec and the host, as the pipeline hands them to `policy::evaluate`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub spec: SpecFacts,
    pub host: HostFacts,
    pub userns: UsernsFacts,
}

impl Facts {
    /// The facts of `spec` on this host; `userns` is filled in by the pipeline once it has
    /// planned the container's user namespace.
    pub fn gather(spec: &Spec) -> Self {
        Facts::with_host(spec, HostFacts::gather(spec))
    }

    /// The facts of `spec` with the given host facts (no I/O: tests, and `exec`, which needs none).
    pub fn with_host(spec: &Spec, host: HostFacts) -> Self {
        Facts {
            spec: SpecFacts::of(spec, &host),
            host,
            userns: UsernsFacts::default(),
        }
    }
}

/// Facts about the caller's spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecFacts {
    /// The config asks for every classic capability (0 to CAP_AUDIT_READ, 37): engines grant
    /// "all" as the set they know, which may stop before the newest ones (PERFMON, BPF,
    /// CHECKPOINT_RESTORE). Or it asks for `CAP_SYS_ADMIN` and access to every device (a
    /// device-cgroup rule `a *:* rw`): containerd's CRI grants a privileged pod the capabilities
    /// of the host's bounding set, which may lack some (no `CAP_SYS_RESOURCE` on some hosts), but
    /// always every device.
    pub privileged: bool,
    /// The config's own user namespace, if it has one.
    pub user_namespace: Option<ConfigUserns>,
    /// The config shares one of the host's pid, network, ipc, uts or mount namespaces (by
    /// leaving it out, or by a path that is the host's). A user namespace of ours would not own
    /// it, so /proc, sysfs, mqueue and the hostname could not be set up.
    pub shares_host_namespace: bool,
    /// The spec was made by dockerd: Docker always adds its `libnetwork-setkey` prestart hook.
    /// Docker also always sends its default seccomp profile and masked paths unless the user
    /// opted out (`--security-opt seccomp=unconfined`, `systempaths=unconfined`,
    /// `--privileged`), so for Docker an absent one is an explicit opt-out.
    pub made_by_docker: bool,
}

/// A user namespace the config (the engine) asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigUserns {
    /// One made for the container, with the config's mappings.
    New {
        /// Its uid or gid mapping contains host ID 0 (root inside would be root on the host).
        maps_host_root: bool,
    },
    /// An existing one, joined by path (its mappings are its owner's business).
    Joined,
}

impl SpecFacts {
    pub fn of(spec: &Spec, host: &HostFacts) -> Self {
        SpecFacts {
            privileged: is_privileged(spec),
            user_namespace: config_userns(spec),
            shares_host_namespace: shares_host_namespace(spec, host),
            made_by_docker: made_by_docker(spec),
        }
    }
}

/// Facts about the host the rules need (the I/O that `policy::evaluate` does not do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// Namespace paths in the spec that resolve to the host's own namespaces.
    pub host_namespace_paths: BTreeSet<PathBuf>,
    /// Bind-mount sources of the spec resolved through symlinks (source -> resolved path), so
    /// that a symlink cannot hide a sensitive path.
    pub canonical_sources: BTreeMap<PathBuf, PathBuf>,
    /// AppArmor is enabled on this host (`crate::lsm::apparmor::host_enabled`).
    pub apparmor: bool,
}

impl HostFacts {
    pub fn gather(spec: &Spec) -> Self {
        HostFacts {
            host_namespace_paths: host_namespace_paths(spec),
            canonical_sources: canonical_sources(spec),
            apparmor: crate::lsm::apparmor::host_enabled(),
        }
    }
}

/// The user namespace the pipeline planned for a container that has none of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsernsFacts {
    /// The host ID range allocated (or, for `check`, that would be) for a new user namespace.
    pub range: Option<crate::userns::IdRange>,
    /// The user namespace (`/proc/<pid>/ns/user`) of the container whose namespaces this one
    /// joins: joined rather than made (`range` is then that container's range).
    pub join: Option<PathBuf>,
    /// Why no user namespace can be added (a joined namespace no user namespace could enter).
    pub blocked: Option<String>,
}

/// The namespace paths of `spec` that are the host's: the runtime's own (it runs in the host's,
/// called by dockerd or containerd), and PID 1's where this process may read them.
fn host_namespace_paths(spec: &Spec) -> BTreeSet<PathBuf> {
    let mut paths = BTreeSet::new();
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    for ns in namespaces.into_iter().flatten() {
        let Some(path) = ns.path() else { continue };
        let kind = crate::userns::join::proc_name(ns.typ());
        let Ok(theirs) = std::fs::metadata(path) else {
            continue;
        };
        let is_host = ["self", "1"].iter().any(|p| {
            std::fs::metadata(format!("/proc/{p}/ns/{kind}"))
                .is_ok_and(|h| h.dev() == theirs.dev() && h.ino() == theirs.ino())
        });
        if is_host {
            paths.insert(path.clone());
        }
    }
    paths
}

/// Bind-mount sources that are (or pass through) symlinks, resolved.
fn canonical_sources(spec: &Spec) -> BTreeMap<PathBuf, PathBuf> {
    let mut sources = BTreeMap::new();
    let binds = spec.mounts().iter().flatten().filter(|m| is_bind(m));
    for src in binds.filter_map(|m| m.source().as_ref()) {
        if let Ok(c) = std::fs::canonicalize(src) {
            if &c != src {
                sources.insert(src.clone(), c);
            }
        }
    }
    sources
}

pub fn is_privileged(spec: &Spec) -> bool {
    let requested = capabilities::requested(spec.process().as_ref());
    every_classic(&requested)
        || (requested.contains(&Capability::SysAdmin) && allows_every_device(spec))
}

/// Whether `requested` holds every classic capability (what engines grant as "all").
fn every_classic(requested: &std::collections::HashSet<Capability>) -> bool {
    capabilities::classic()
        .iter()
        .all(|c| requested.contains(c))
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

fn config_userns(spec: &Spec) -> Option<ConfigUserns> {
    let linux = spec.linux().as_ref()?;
    let user = linux
        .namespaces()
        .iter()
        .flatten()
        .find(|n| n.typ() == LinuxNamespaceType::User)?;
    if user.path().is_some() {
        return Some(ConfigUserns::Joined);
    }
    Some(ConfigUserns::New {
        maps_host_root: maps_host_root(linux.uid_mappings())
            || maps_host_root(linux.gid_mappings()),
    })
}

/// Host IDs are unsigned: a mapping's host range [host_id, host_id + size) holds 0 exactly when
/// it starts there.
fn maps_host_root(maps: &Option<Vec<LinuxIdMapping>>) -> bool {
    maps.iter()
        .flatten()
        .any(|m| m.host_id() == 0 && m.size() > 0)
}

fn shares_host_namespace(spec: &Spec, host: &HostFacts) -> bool {
    let ns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    host_namespaces::CHECKED
        .iter()
        .any(|(typ, _, _)| match ns.iter().find(|n| n.typ() == *typ) {
            None => true,
            Some(n) => n
                .path()
                .as_ref()
                .is_some_and(|p| host.host_namespace_paths.contains(p)),
        })
}

fn made_by_docker(spec: &Spec) -> bool {
    let Some(hooks) = spec.hooks() else {
        return false;
    };
    [hooks.prestart(), hooks.create_runtime()]
        .into_iter()
        .flatten()
        .flatten()
        .any(|h| {
            h.args()
                .as_ref()
                .and_then(|a| a.first())
                .is_some_and(|a| a == "libnetwork-setkey")
        })
}

/// Whether a process asks for every classic capability (`docker exec --privileged`).
pub fn asks_every_capability(process: &oci_spec::runtime::Process) -> bool {
    every_classic(&capabilities::requested(Some(process)))
}

/// Lexical normalisation (`.` and `..` removed).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// A bind mount (by type, or by a `bind`/`rbind` option as runc reads it).
pub fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .iter()
            .flatten()
            .any(|o| o == "bind" || o == "rbind")
}

#[cfg(test)]
impl Facts {
    /// As the pipeline makes them for a container it gives a user namespace over the test range
    /// (host IDs 1000000000-1000065535), with the given host facts and no I/O.
    pub fn with_test_range(spec: &Spec, host: HostFacts) -> Self {
        let mut facts = Facts::with_host(spec, host);
        facts.userns.range = Some(crate::userns::IdRange {
            host_start: 1_000_000_000,
            size: 65536,
        });
        facts
    }
}
