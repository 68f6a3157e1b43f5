use anyhow::{Context, Result};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::delete::delete_container;
use super::start::start_container;
use super::{create::create_container, exit_code, Ctx};
use crate::cli::Run;

/// `run` = create + start + wait; the exit status is propagated, signals are forwarded to the
/// container's init, and the container is deleted afterwards (unless `--keep` or `--detach`).
pub fn run(ctx: &Ctx, args: &Run) -> Result<i32> {
    let mut container = create_container(ctx, &args.opts, &args.id, args.detach)?;
    let init = container
        .pid()
        .context("the created container has no init pid")?;

    // Block the signals we forward (and SIGCHLD) *before* the container can exit: a SIGCHLD
    // that arrives while blocked stays pending, and every wake-up re-checks with WNOHANG, so
    // an exit is never missed (youki 0.7 blocks after start and can wait forever).
    let forwarded = if args.detach {
        None
    } else {
        let set = SigSet::all();
        set.thread_block().context("block signals")?;
        Some(set)
    };

    if let Err(e) = start_container(ctx, &mut container) {
        if let Some(set) = &forwarded {
            let _ = set.thread_unblock();
        }
        // A failed start has destroyed the container already; this removes what may be left.
        if ctx.container_dir(&args.id)?.exists() {
            let _ = delete_container(ctx, &mut container, true);
        }
        return Err(e);
    }
    let Some(set) = forwarded else {
        return Ok(0);
    };

    let result = wait_forwarding(init, &set);
    let _ = set.thread_unblock();
    if !args.keep {
        delete_container(ctx, &mut container, true)
            .with_context(|| format!("delete container {}", args.id))?;
    }
    result
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
