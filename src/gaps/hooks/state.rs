//! Gap: libcontainer 0.7 stops at the first failing poststart or poststop hook and fails the
//! command; its startContainer hooks run in the init, unseen by `start`, with a state without
//! the init's host pid.
//!
//! - **Restores**: runtime.md Lifecycle 9 and 13: a failing poststart or poststop hook is
//!   logged as a warning and the remaining hooks and the lifecycle go on; config.md
//!   startContainer hooks get the container's state.
//! - **Proved by**: conformance cases `hooks/poststart-failure-continues`,
//!   `hooks/poststop-failure-continues`, `hooks/state-stdin-start-container`
//!   (runtime-spec-tests/src/cases/hooks.rs).
//! - **Goes when**: libcontainer runs every poststart/poststop hook and only warns, and passes
//!   startContainer hooks the state with `pid`.
//!
//! `start` and `delete` run poststart/poststop with [`run_all`]; the executor runs the
//! startContainer hooks ([`InitStart::run_start_container_hooks`]) in the container right
//! before the program (the init's host pid comes from a descriptor of the host's `/proc`).

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use libcontainer::container::{ContainerStatus, State};
use oci_spec::runtime::{Hook, Spec};

/// Run every hook of a kind whose failures must not stop the lifecycle (poststart, poststop):
/// a failing hook is logged as a warning and the next one runs.
pub fn run_all(kind: &str, hooks: Option<&Vec<Hook>>, state: &State) {
    for hook in hooks.into_iter().flatten() {
        let one = vec![hook.clone()];
        if let Err(e) = libcontainer::hooks::run_hooks(Some(&one), Some(state), None, None, None) {
            tracing::warn!(
                "{kind} hook {} failed: {e}; the remaining hooks and the lifecycle continue (runtime.md)",
                hook.path().display()
            );
        }
    }
}

/// The state handed to the hooks `start`/`delete` run for `container` (state root `root`): the
/// caller's bundle, not the shadow one.
pub fn state_for_hooks(root: &Path, container: &libcontainer::container::Container) -> State {
    let mut s = container.state.clone();
    s.bundle = crate::bundle::caller_bundle(root, container.id(), &container.state.bundle);
    s
}

/// A state for hooks of a container that is gone (poststop after a failed create).
pub fn stopped_state(id: &str, bundle: &Path, spec: &Spec) -> State {
    let mut s = State::new(id, ContainerStatus::Stopped, None, bundle.to_path_buf());
    s.annotations = spec.annotations().clone();
    s
}

/// The host pid of the calling process, through a descriptor of the host's `/proc`.
pub fn host_pid(proc_fd: RawFd) -> Option<i32> {
    nix::fcntl::readlinkat(Some(proc_fd), "self")
        .ok()?
        .to_str()?
        .parse()
        .ok()
}

/// What the executor needs to run the startContainer hooks and report to `start`.
#[derive(Clone)]
pub struct InitStart {
    pub id: String,
    pub bundle: PathBuf,
    pub annotations: Option<HashMap<String, String>>,
    pub hooks: Vec<Hook>,
    /// The host's `/proc` (the init's host pid for the hooks' state).
    pub proc_fd: RawFd,
    /// The write end of the start report.
    pub report_fd: RawFd,
}

impl InitStart {
    /// Run the startContainer hooks (in the container, as the container's process; hooks
    /// without `env` get the process's environment, as runc does).
    pub fn run_start_container_hooks(&self) -> Result<()> {
        if self.hooks.is_empty() {
            return Ok(());
        }
        let mut state = State::new(
            &self.id,
            ContainerStatus::Created,
            host_pid(self.proc_fd),
            self.bundle.clone(),
        );
        state.annotations = self.annotations.clone();
        let env: HashMap<String, String> = std::env::vars().collect();
        libcontainer::hooks::run_hooks(Some(&self.hooks), Some(&state), None, None, Some(&env))
            .context("a startContainer hook failed")
    }
}
