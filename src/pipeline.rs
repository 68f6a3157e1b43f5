//! The one pipeline every `create`, `run` and `exec` goes through:
//!
//! ```text
//! caller's config.json / process.json
//!    -> runtime safety checks (always on, whatever the policy)
//!    -> policy::evaluate(&Policy, spec) -> Verdict { hardened spec, changes, refusals }
//!    -> audit log; refusals (enforce mode)?  error to the caller, nothing created
//!    -> libcontainer creates/execs from the hardened spec
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path};

use oci_spec::runtime::{Process, Spec};

use crate::audit;
use crate::policy::{self, ExecVerdict, HostFacts, Input, Mode, Policy, Refusal, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{0}")]
    Unsafe(String),
    #[error(transparent)]
    Userns(#[from] crate::userns::alloc::AllocError),
    #[error("{}", refusal_message(.0))]
    Refused(Vec<Refusal>),
}

/// The message a refused caller sees (`docker run` prints it after `OCI runtime create failed:`).
pub fn refusal_message(refusals: &[Refusal]) -> String {
    let items: Vec<String> = refusals
        .iter()
        .map(|r| format!("{} [rule {}]; to allow it, set {}", r.what, r.rule, r.allow))
        .collect();
    format!("refused by the hardened policy: {}", items.join(" | "))
}

/// Checks of the runtime itself, independent of the policy: a spec that fails them is never run,
/// even in permissive mode.
pub fn check_process_safety(process: &Process) -> Result<(), PipelineError> {
    crate::limits::check_process("process", process).map_err(PipelineError::Unsafe)?;
    check_cwd(process.cwd())
}

/// CVE-2024-21626: a working directory under `/proc/self/fd/` (or `/proc/<pid>/fd/`,
/// `/proc/thread-self/fd/`) would resolve to a host directory through a file descriptor the
/// runtime holds open while it sets up the container.
pub fn check_cwd(cwd: &Path) -> Result<(), PipelineError> {
    if !cwd.is_absolute() {
        return Err(PipelineError::Unsafe(format!(
            "process.cwd {:?} is not an absolute path: give the working directory as an absolute path inside the container",
            cwd
        )));
    }
    let normal = policy::rules::sensitive_mounts::normalize(cwd);
    let parts: Vec<_> = normal.components().collect();
    if parts.len() >= 4 {
        if let (Component::Normal(p), Component::Normal(fd)) = (parts[1], parts[3]) {
            if p == "proc" && (fd == "fd" || fd == "cwd" || fd == "root") {
                return Err(PipelineError::Unsafe(format!(
                    "process.cwd {:?} points into /proc/<pid>/{}, which can escape to the host (CVE-2024-21626): use a directory of the container's root filesystem",
                    cwd,
                    fd.to_string_lossy()
                )));
            }
        }
    }
    if parts.len() == 3 {
        if let (Component::Normal(p), Component::Normal(x)) = (parts[1], parts[2]) {
            if p == "proc" && (x == "self" || x == "thread-self") {
                return Err(PipelineError::Unsafe(format!(
                    "process.cwd {:?} is a /proc magic link, which can escape to the host (CVE-2024-21626)",
                    cwd
                )));
            }
        }
    }
    Ok(())
}

/// The host facts the rules need (the I/O that `policy::evaluate` does not do).
pub fn host_facts(spec: &Spec) -> HostFacts {
    let mut host_namespace_paths = BTreeSet::new();
    if let Some(namespaces) = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref()) {
        for ns in namespaces {
            let Some(path) = ns.path() else { continue };
            let kind = crate::userns::join::proc_name(ns.typ());
            // The host's namespaces: the runtime's own (it runs in the host's, called by
            // dockerd or containerd), and PID 1's where this process may read them.
            let Ok(theirs) = std::fs::metadata(path) else {
                continue;
            };
            let is_host = ["self", "1"].iter().any(|p| {
                std::fs::metadata(format!("/proc/{p}/ns/{kind}"))
                    .is_ok_and(|h| h.dev() == theirs.dev() && h.ino() == theirs.ino())
            });
            if is_host {
                host_namespace_paths.insert(path.clone());
            }
        }
    }
    let mut canonical_sources = BTreeMap::new();
    for m in spec.mounts().iter().flatten() {
        if !policy::rules::sensitive_mounts::is_bind(m) {
            continue;
        }
        if let Some(src) = m.source() {
            if let Ok(c) = std::fs::canonicalize(src) {
                if &c != src {
                    canonical_sources.insert(src.clone(), c);
                }
            }
        }
    }
    HostFacts {
        host_namespace_paths,
        canonical_sources,
        userns_range: None,
        userns_join: None,
        userns_blocked: None,
    }
}

fn log_verdict_warnings(mode: Mode, warnings: &[policy::Warning], refusals: &[Refusal]) {
    for w in warnings {
        tracing::warn!("policy warning [rule {}]: {}", w.rule, w.what);
    }
    if mode == Mode::Audit {
        for r in refusals {
            tracing::warn!(
                "audit mode: enforce would refuse {} [rule {}] (allow with {})",
                r.what,
                r.rule,
                r.allow
            );
        }
    }
}

type Findings<'a> = (&'a [policy::Change], &'a [Refusal], &'a [policy::Warning]);

/// Report one decision: warnings to the runtime's log, and a line in the audit log.
fn record(
    policy: &Policy,
    command: &str,
    id: &str,
    bundle: Option<&Path>,
    mode: Mode,
    profile: Option<&str>,
    (changes, refusals, warnings): Findings,
) {
    log_verdict_warnings(mode, warnings, refusals);
    audit::write(
        policy,
        &audit::Record {
            time: crate::logging::now_rfc3339(),
            command,
            id,
            bundle,
            policy: policy.file_name(),
            profile,
            mode,
            decision: audit::decision(mode, !refusals.is_empty()),
            changes,
            refusals,
            warnings,
        },
    );
}

/// Whether the policy will give `spec` a user namespace of its own (a range must be allocated).
pub fn wants_userns(policy: &Policy, spec: &Spec, host: &HostFacts) -> bool {
    policy.mode != Mode::Permissive
        && !policy::rules::user_namespace::has_user_namespace(spec)
        && !policy::rules::user_namespace::shares_host_namespace(spec, host)
        && !policy::rules::privileged::is_privileged(spec)
        && policy.rules_for(spec).is_some_and(|r| r.user_namespace)
}

/// The user namespace a container gets from the policy.
pub struct UsernsPlan {
    pub range: crate::userns::IdRange,
    /// The range allocated for it (its lock held until the process exits); None when it joins
    /// the user namespace of another container.
    pub allocation: Option<crate::userns::alloc::Allocation>,
    /// Namespaces to enter before the user namespace is made (see `userns::join`).
    pub prejoin: Vec<(oci_spec::runtime::LinuxNamespaceType, std::path::PathBuf)>,
}

/// A verdict, and the user namespace planned for it.
pub struct Prepared {
    pub verdict: Verdict,
    pub userns: Option<UsernsPlan>,
}

/// Run a container spec through the runtime checks and the policy. `root` is the state root
/// (where user-namespace ranges are allocated).
pub fn prepare_container(
    policy: &Policy,
    spec: &Spec,
    id: &str,
    bundle: Option<&Path>,
    root: &Path,
    systemd_cgroup: bool,
) -> Result<Prepared, PipelineError> {
    if let Some(process) = spec.process() {
        check_process_safety(process)?;
    }
    crate::gaps::namespaces::validate(spec).map_err(|e| PipelineError::Unsafe(e.to_string()))?;
    let mut host = host_facts(spec);
    let mut userns = None;
    if wants_userns(policy, spec, &host) {
        let joins =
            crate::userns::join::inspect(spec, &host.host_namespace_paths).map_err(|e| {
                PipelineError::Unsafe(format!("cannot give container {id} a user namespace: {e}"))
            })?;
        if let Some(why) = joins.blocked {
            host.userns_blocked = Some(why);
        } else {
            let pool = crate::userns::alloc::pool_of(&policy.user_namespace)?;
            let (range, allocation) = match joins.donor {
                Some((path, range)) => {
                    crate::userns::alloc::share(root, pool, range, id)?;
                    host.userns_join = Some(path);
                    (range, None)
                }
                None => {
                    let a = crate::userns::alloc::allocate(root, pool, id)?;
                    (a.range, Some(a))
                }
            };
            host.userns_range = Some(range);
            userns = Some(UsernsPlan {
                range,
                allocation,
                prejoin: joins.prejoin,
            });
        }
    }
    let input = Input {
        spec,
        container_id: id,
        host,
        systemd_cgroup,
    };
    let verdict = policy::evaluate(policy, &input);
    record(
        policy,
        "create",
        id,
        bundle,
        verdict.mode,
        verdict.profile.as_deref(),
        (&verdict.changes, &verdict.refusals, &verdict.warnings),
    );
    if !verdict.allowed() {
        if userns.is_some() {
            crate::userns::alloc::free(root, id);
        }
        return Err(PipelineError::Refused(verdict.refusals));
    }
    Ok(Prepared { verdict, userns })
}

/// Run an `exec` process through the runtime checks and the policy of its container.
pub fn prepare_exec(
    policy: &Policy,
    container: &Spec,
    id: &str,
    process: Process,
) -> Result<Process, PipelineError> {
    check_process_safety(&process)?;
    let verdict: ExecVerdict = policy::evaluate_exec(policy, container, &process);
    record(
        policy,
        "exec",
        id,
        None,
        verdict.mode,
        verdict.profile.as_deref(),
        (&verdict.changes, &verdict.refusals, &verdict.warnings),
    );
    if !verdict.allowed() {
        return Err(PipelineError::Refused(verdict.refusals));
    }
    Ok(verdict.process)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cwd_under_proc_fd_is_refused() {
        for bad in [
            "/proc/self/fd/7",
            "/proc/thread-self/fd/3",
            "/proc/1/fd/4",
            "/proc/self/cwd",
            "/proc/self/root/etc",
            "/tmp/../proc/self/fd/7/..",
            "/proc/self",
        ] {
            let err = check_cwd(Path::new(bad)).expect_err(bad);
            assert!(err.to_string().contains("CVE-2024-21626"), "{bad}: {err}");
        }
    }

    #[test]
    fn ordinary_cwds_pass() {
        for good in ["/", "/tmp", "/home/app", "/proc", "/procfs/self/fd/1"] {
            check_cwd(Path::new(good)).expect(good);
        }
    }

    #[test]
    fn relative_cwd_is_refused() {
        assert!(check_cwd(Path::new("tmp")).is_err());
    }
}
