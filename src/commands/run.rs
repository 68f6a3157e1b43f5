use anyhow::{Context, Result};

use super::delete::delete_container;
use super::start::start_container;
use super::{create::create_container, Ctx};
use crate::cli::Run;
use crate::gaps::run_signals::{wait_forwarding, Forwarding};

/// `run` = create + start + wait; the exit status is propagated, signals are forwarded to the
/// container's init, and the container is deleted afterwards (unless `--keep` or `--detach`).
pub fn run(ctx: &Ctx, args: &Run) -> Result<i32> {
    let mut container = create_container(ctx, &args.opts, &args.id, args.detach)?;
    let init = container
        .pid()
        .context("the created container has no init pid")?;

    // Block the signals we forward (and SIGCHLD) *before* the container can exit
    // (src/gaps/run_signals.rs).
    let forwarded = if args.detach {
        None
    } else {
        Some(Forwarding::block()?)
    };

    if let Err(e) = start_container(ctx, &mut container) {
        if let Some(f) = &forwarded {
            f.unblock();
        }
        // A failed start has destroyed the container already; this removes what may be left.
        if ctx.container_dir(&args.id)?.exists() {
            let _ = delete_container(ctx, &mut container, true);
        }
        return Err(e);
    }
    let Some(forwarding) = forwarded else {
        return Ok(0);
    };

    let result = wait_forwarding(init, &forwarding.0);
    forwarding.unblock();
    if !args.keep {
        delete_container(ctx, &mut container, true)
            .with_context(|| format!("delete container {}", args.id))?;
    }
    result
}
