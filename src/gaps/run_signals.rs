//! Gap: youki 0.7's `run` blocks signals only after `start`, and waits in `sigtimedwait`: a fast
//! container's SIGCHLD is lost and `run` hangs (1 in 20-40 runs).
//!
//! - **Restores**: runc's `run`: the exit status of the container's process is returned and the
//!   signals `run` receives are forwarded to it.
//! - **Proved by**: `run_never_hangs` (integration/security.rs),
//!   `run_forwards_signals_to_the_container`, `run_reports_death_by_signal_as_128_plus_signal`
//!   (integration/cli.rs).
//! - **Goes when**: never by libcontainer alone: `run` is ours (youki's `run` is in its binary,
//!   not in libcontainer). The blocking order is what this file keeps right.
//!
//! `run` (and `exec` without `--detach`) block the signals they forward, SIGCHLD among them,
//! *before* the process can exit ([`Forwarding::block`]); a SIGCHLD that arrives while blocked
//! stays pending, and every wake-up re-checks with `waitpid(WNOHANG)` ([`wait_forwarding`]).

use anyhow::{Context, Result};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::commands::exit_code;

/// Every signal blocked in this thread, until [`Forwarding::unblock`].
pub struct Forwarding(pub SigSet);

impl Forwarding {
    /// Block every signal in this thread: call it before the process can exit.
    pub fn block() -> Result<Self> {
        let set = SigSet::all();
        set.thread_block().context("block signals")?;
        Ok(Self(set))
    }

    pub fn unblock(&self) {
        let _ = self.0.thread_unblock();
    }
}

/// Wait for `pid` (a child of ours) to exit while forwarding signals to it; `set` must already
/// be blocked in this thread. Returns the exit code (128+signal when killed).
pub fn wait_forwarding(pid: Pid, set: &SigSet) -> Result<i32> {
    loop {
        // Reap everything that has exited; stop when our process is among them.
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(status) => {
                    if status.pid() == Some(pid) {
                        if let Some(code) = exit_code(status) {
                            return Ok(code);
                        }
                    }
                }
                Err(nix::errno::Errno::ECHILD) => {
                    anyhow::bail!("process {pid} is not a child of the runtime any more")
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("waitpid"),
            }
        }
        let sig = set.wait().context("sigwait")?;
        match sig {
            Signal::SIGCHLD | Signal::SIGURG | Signal::SIGWINCH => {}
            other => {
                let _ = kill(pid, other);
            }
        }
    }
}
