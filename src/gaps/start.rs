//! Gap: libcontainer 0.7's `Container::start` runs the poststart hooks right after signalling
//! the init (before the program ran) and stops at the first failing one; there is no public
//! call that signals the init alone.
//!
//! - **Restores**: runtime.md Lifecycle 8-9: poststart hooks run after the user-specified
//!   process is executed, and a failing one is a warning.
//! - **Proved by**: conformance cases `hooks/poststart-after-program-executed`,
//!   `hooks/poststart-failure-continues` (runtime-spec-tests/src/cases/hooks.rs).
//! - **Goes when**: libcontainer's `start` waits for the program and warns on poststart
//!   failures, or offers a public "signal the init" call.
//!
//! [`signal_init`] reaches into libcontainer's internals: the notify socket's file name
//! (`NOTIFY_FILE`) in the container's state directory is not part of the `Container` API, and
//! is the one place outside libcontainer that knows it. The container's saved config (hooks)
//! comes through the public `Container::spec`.

use anyhow::{Context, Result};
use libcontainer::container::Container;
use libcontainer::notify_socket::{NotifySocket, NOTIFY_FILE};

/// Tell the created init of `container` to exec its program, as `Container::start` does before
/// its poststart hooks.
pub fn signal_init(container: &Container) -> Result<()> {
    NotifySocket::new(container.root.join(NOTIFY_FILE))
        .notify_container_start()
        .with_context(|| format!("signal the init of container {} to start", container.id()))
}
