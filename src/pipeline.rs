//! The one pipeline every `create`, `run` and `exec` goes through:
//!
//! ```text
//! caller's config.json / process.json
//!    -> runtime safety checks (always on, whatever the policy)
//!    -> policy::evaluate(&Policy, spec) -> Verdict { hardened spec, changes, refusals }
//!    -> audit log; refusals (enforce mode)?  error to the caller, nothing created
//!    -> libcontainer creates/execs from the hardened spec
//! ```

use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{Process, Spec};

use crate::audit;
use crate::facts::Facts;
use crate::policy::{self, Input, Mode, Policy, Refusal, Verdict};

/// Why the pipeline stops a container. Every variant but `Refused` is a runtime check: it
/// stops the container in every mode, permissive included.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The process asks for what the runtime never gives (limits.rs).
    #[error("{0}")]
    Process(String),
    #[error(transparent)]
    Cwd(#[from] CwdError),
    /// What libcontainer would mishandle (gaps/namespaces.rs).
    #[error(transparent)]
    Config(#[from] crate::gaps::namespaces::InvalidSpec),
    /// The namespaces the container joins leave no user namespace it could get.
    #[error("cannot give container {id} a user namespace: {reason}")]
    JoinedNamespaces { id: String, reason: String },
    #[error(transparent)]
    Userns(#[from] crate::userns::alloc::AllocError),
    /// A seccomp profile libseccomp cannot compile.
    #[error("create container {id}: {source}")]
    Seccomp {
        id: String,
        source: crate::seccomp::bpf::BpfError,
    },
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
    crate::limits::check_process("process", process).map_err(PipelineError::Process)?;
    Ok(check_cwd(process.cwd())?)
}

/// A working directory the runtime refuses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CwdError {
    #[error("process.cwd {0:?} is not an absolute path: give the working directory as an absolute path inside the container")]
    Relative(PathBuf),
    #[error("process.cwd {cwd:?} points into /proc/<pid>/{link}, which can escape to the host (CVE-2024-21626): use a directory of the container's root filesystem")]
    ProcFd { cwd: PathBuf, link: String },
    #[error(
        "process.cwd {0:?} is a /proc magic link, which can escape to the host (CVE-2024-21626)"
    )]
    ProcMagicLink(PathBuf),
}

/// CVE-2024-21626: a working directory under `/proc/self/fd/` (or `/proc/<pid>/fd/`,
/// `/proc/thread-self/fd/`) would resolve to a host directory through a file descriptor the
/// runtime holds open while it sets up the container.
pub fn check_cwd(cwd: &Path) -> Result<(), CwdError> {
    if !cwd.is_absolute() {
        return Err(CwdError::Relative(cwd.to_path_buf()));
    }
    let normal = crate::facts::normalize(cwd);
    let parts: Vec<_> = normal.components().collect();
    match parts.as_slice() {
        [_, Component::Normal(p), _, Component::Normal(link), ..]
            if *p == "proc" && [&"fd", &"cwd", &"root"].iter().any(|l| link == *l) =>
        {
            Err(CwdError::ProcFd {
                cwd: cwd.to_path_buf(),
                link: link.to_string_lossy().into_owned(),
            })
        }
        [_, Component::Normal(p), Component::Normal(x)]
            if *p == "proc" && (*x == "self" || *x == "thread-self") =>
        {
            Err(CwdError::ProcMagicLink(cwd.to_path_buf()))
        }
        _ => Ok(()),
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
    (&mode, profile): (&Mode, Option<&str>),
    (changes, refusals, warnings): Findings,
    apparmor: String,
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
            apparmor,
        },
    );
}

/// What a plan is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effects {
    /// `create` and `run`: a user-namespace range is allocated (or shared) and held, the decision
    /// goes to the audit log, and the first failed check or refusal is the error.
    Create,
    /// `hardened check`: the very same checks and decision without side effects (no range
    /// allocated, nothing logged); a failed runtime check is reported with the verdict.
    DryRun,
}

/// The container a plan is for.
pub struct Request<'a> {
    pub id: &'a str,
    /// The caller's bundle (for the audit log; None for a bare config.json).
    pub bundle: Option<&'a Path>,
    /// The state root (where user-namespace ranges are allocated).
    pub root: &'a Path,
    pub systemd_cgroup: bool,
}

/// The user namespace a container gets from the policy.
pub struct UsernsPlan {
    pub range: crate::userns::IdRange,
    /// The range allocated for it (its lock held until the process exits); None when it joins
    /// the user namespace of another container, and in a dry run.
    pub allocation: Option<crate::userns::alloc::Allocation>,
    /// Namespaces to enter before the user namespace is made (see `userns::join`).
    pub prejoin: Vec<(oci_spec::runtime::LinuxNamespaceType, std::path::PathBuf)>,
}

/// A verdict, and the user namespace planned for it.
pub struct Plan {
    pub verdict: Verdict,
    pub userns: Option<UsernsPlan>,
    /// In a dry run, the first runtime check that failed (create stops at it).
    pub runtime_check: Option<PipelineError>,
}

/// Run a container spec through the runtime checks and the policy: the one path of `create`,
/// `run` and `check` (`Effects` says which).
pub fn plan(
    policy: &Policy,
    spec: &Spec,
    req: &Request,
    effects: Effects,
) -> Result<Plan, PipelineError> {
    let mut failed = Failed {
        effects,
        first: None,
    };
    failed.note(runtime_checks(spec, req.id))?;
    let mut facts = Facts::gather(spec);
    let mut userns = None;
    if wants_userns(policy, spec, &facts) {
        userns = failed
            .note(plan_userns(policy, spec, req, &mut facts, effects))?
            .flatten();
    }
    let input = Input {
        spec,
        container_id: req.id,
        facts: &facts,
        systemd_cgroup: req.systemd_cgroup,
    };
    let verdict = policy::evaluate(policy, &input);
    failed.note(crate::rlimits::check(&verdict.hardened).map_err(PipelineError::Process))?;
    if effects == Effects::DryRun {
        return Ok(Plan {
            verdict,
            userns,
            runtime_check: failed.first,
        });
    }
    record(
        policy,
        "create",
        req.id,
        req.bundle,
        (&verdict.mode, verdict.profile.as_deref()),
        (&verdict.changes, &verdict.refusals, &verdict.warnings),
        apparmor_of(&verdict.hardened, facts.host.apparmor),
    );
    if !verdict.allowed() {
        if userns.is_some() {
            crate::userns::alloc::free(req.root, req.id);
        }
        return Err(PipelineError::Refused(verdict.refusals));
    }
    Ok(Plan {
        verdict,
        userns,
        runtime_check: None,
    })
}

/// The AppArmor profile a container with the (hardened) spec `spec` runs under, in words.
pub fn apparmor_of(spec: &Spec, host_apparmor: bool) -> String {
    let profile = spec
        .process()
        .as_ref()
        .and_then(|p| p.apparmor_profile().as_deref());
    crate::lsm::apparmor::applied(profile, host_apparmor)
}

/// The checks of the runtime itself, before the policy: the process (limits, CVE-2024-21626
/// cwd), what libcontainer would mishandle (`gaps::namespaces::validate`), the seccomp profile.
fn runtime_checks(spec: &Spec, id: &str) -> Result<(), PipelineError> {
    if let Some(process) = spec.process() {
        check_process_safety(process)?;
    }
    crate::gaps::namespaces::validate(spec)?;
    if let Some(seccomp) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        crate::seccomp::bpf::validate(seccomp).map_err(|source| PipelineError::Seccomp {
            id: id.to_string(),
            source,
        })?;
    }
    Ok(())
}

/// Runtime checks that failed: `create` stops at the first, a dry run keeps it and goes on.
struct Failed {
    effects: Effects,
    first: Option<PipelineError>,
}

impl Failed {
    fn note<T>(&mut self, r: Result<T, PipelineError>) -> Result<Option<T>, PipelineError> {
        match (r, self.effects) {
            (Ok(v), _) => Ok(Some(v)),
            (Err(e), Effects::Create) => Err(e),
            (Err(e), Effects::DryRun) => {
                self.first.get_or_insert(e);
                Ok(None)
            }
        }
    }
}

/// Whether the policy will give `spec` a user namespace of its own (a range must be allocated).
fn wants_userns(policy: &Policy, spec: &Spec, facts: &Facts) -> bool {
    policy.mode != Mode::Permissive
        && facts.spec.user_namespace.is_none()
        && !facts.spec.shares_host_namespace
        && !facts.spec.privileged
        && policy.rules_for(spec).is_some_and(|r| r.user_namespace)
}

/// The user namespace of a container the policy gives one: a range of its own, or the range of
/// the container whose namespaces it joins (`userns::join`). In a dry run, the range create
/// would most likely get, and nothing is allocated. Fills in `facts.userns`.
fn plan_userns(
    policy: &Policy,
    spec: &Spec,
    req: &Request,
    facts: &mut Facts,
    effects: Effects,
) -> Result<Option<UsernsPlan>, PipelineError> {
    let id = req.id;
    let joins =
        crate::userns::join::inspect(spec, &facts.host.host_namespace_paths).map_err(|reason| {
            PipelineError::JoinedNamespaces {
                id: id.to_string(),
                reason,
            }
        })?;
    if let Some(why) = joins.blocked {
        facts.userns.blocked = Some(why);
        return Ok(None);
    }
    let pool = crate::userns::alloc::pool_of(&policy.user_namespace)?;
    let (range, allocation) = match (joins.donor, effects) {
        (Some((path, range)), effects) => {
            if effects == Effects::Create {
                crate::userns::alloc::share(req.root, pool, range, id)?;
            }
            facts.userns.join = Some(path);
            (range, None)
        }
        (None, Effects::Create) => {
            let a = crate::userns::alloc::allocate(req.root, pool, id)?;
            (a.range, Some(a))
        }
        (None, Effects::DryRun) => {
            let range = crate::userns::alloc::peek(req.root, pool).unwrap_or(pool.range(0));
            (range, None)
        }
    };
    facts.userns.range = Some(range);
    Ok(Some(UsernsPlan {
        range,
        allocation,
        prejoin: joins.prejoin,
    }))
}

/// Run an `exec` process through the runtime checks and the policy of its container.
pub fn prepare_exec(
    policy: &Policy,
    container: &Spec,
    id: &str,
    process: Process,
) -> Result<Process, PipelineError> {
    check_process_safety(&process)?;
    let verdict = policy::evaluate_exec(policy, container, &process);
    record(
        policy,
        "exec",
        id,
        None,
        (&verdict.mode, verdict.profile.as_deref()),
        (&verdict.changes, &verdict.refusals, &verdict.warnings),
        crate::lsm::apparmor::applied(
            verdict.hardened.apparmor_profile().as_deref(),
            crate::lsm::apparmor::host_enabled(),
        ),
    );
    if !verdict.allowed() {
        return Err(PipelineError::Refused(verdict.refusals));
    }
    crate::rlimits::check_exec(container, &verdict.hardened).map_err(PipelineError::Process)?;
    Ok(verdict.hardened)
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
