//! Gap: libcontainer 0.7's `kill` records the container "stopped" after any signal, so
//! `kill ID HUP` made a running container look stopped.
//!
//! - **Restores**: runtime.md State: `stopped` "the container process has exited"; runc's
//!   `kill` leaves the state to the process (a signal it survives changes nothing).
//! - **Proved by**: `kill_delivers_a_trapped_signal` (integration/cli.rs).
//! - **Goes when**: libcontainer's `Container::kill` sets "stopped" only once the init is gone.
//!
//! `kill` is ours (libcontainer's signals a recycled pid too: `crate::reap`); after the signal
//! the state follows the init ([`record_after_signal`]).

use anyhow::Result;
use libcontainer::container::{Container, ContainerStatus};

/// As runc: the container is stopped once its init is gone; a signal it survives (SIGHUP)
/// leaves its state as it was (`before`).
pub fn record_after_signal(container: &mut Container, before: ContainerStatus) -> Result<()> {
    let init_alive = container
        .pid()
        .is_some_and(|p| crate::reap::alive(p.as_raw()));
    if !init_alive && before != ContainerStatus::Stopped {
        container.set_status(ContainerStatus::Stopped).save()?;
    }
    Ok(())
}
