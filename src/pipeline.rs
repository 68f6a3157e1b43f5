//! The one pipeline every `create`, `run` and `exec` goes through:
//!
//! ```text
//! caller's config.json / process.json
//!    -> runtime safety checks (always on, whatever the policy)
//!    -> policy::evaluate(&Policy, spec) -> Verdict { hardened spec, changes, refusals }
//!    -> refusals?  error to the caller, nothing created
//!    -> libcontainer creates/execs from the hardened spec
//! ```

use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{Process, Spec};

use crate::policy::{self, Policy, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{0}")]
    Unsafe(String),
    #[error("refused by policy: {}", .0.iter().map(|r| format!("{} (rule {}; allow with {})", r.what, r.rule, r.allow_key)).collect::<Vec<_>>().join("; "))]
    Refused(Vec<policy::Refusal>),
}

/// Checks of the runtime itself, independent of the policy: a spec that fails them is never run,
/// even in permissive mode.
pub fn check_process_safety(process: &Process) -> Result<(), PipelineError> {
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
    let normal = normalize(cwd);
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
    if parts.len() >= 3 {
        if let (Component::Normal(p), Component::Normal(x)) = (parts[1], parts[2]) {
            if p == "proc" && (x == "self" || x == "thread-self") && parts.len() == 3 {
                return Err(PipelineError::Unsafe(format!(
                    "process.cwd {:?} is a /proc magic link, which can escape to the host (CVE-2024-21626)",
                    cwd
                )));
            }
        }
    }
    Ok(())
}

/// Lexical normalisation of an absolute path (`..` and `.` removed), as the container would
/// resolve it without symlinks.
fn normalize(path: &Path) -> PathBuf {
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

/// Run a container spec through the runtime checks and the policy.
pub fn prepare_container(policy: &Policy, spec: &Spec) -> Result<Verdict, PipelineError> {
    if let Some(process) = spec.process() {
        check_process_safety(process)?;
    }
    let verdict = policy::evaluate(policy, spec);
    if !verdict.refusals.is_empty() {
        return Err(PipelineError::Refused(verdict.refusals));
    }
    Ok(verdict)
}

/// Run an `exec` process through the runtime checks and the policy of its container.
pub fn prepare_exec(
    _policy: &Policy,
    _container: &Spec,
    process: Process,
) -> Result<Process, PipelineError> {
    check_process_safety(&process)?;
    Ok(process)
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
