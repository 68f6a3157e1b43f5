//! `start`: signal the created init, wait until it has executed the program (or failed to),
//! then run the poststart hooks. libcontainer's `Container::start` returns as soon as the init
//! is signalled, runs poststart before the program (and its startContainer hooks) ran, and
//! stops at the first failing poststart hook (runtime.md lifecycle 7-9; `gaps/start.rs`,
//! `gaps/hooks/`).

use anyhow::{bail, Context, Result};
use libcontainer::container::{Container, ContainerStatus};

use super::{delete, Ctx};
use crate::gaps::hooks::{self, Outcome};

pub fn start(ctx: &Ctx, id: &str) -> Result<()> {
    let mut container = ctx.load(id)?;
    start_container(ctx, &mut container)
}

pub fn start_container(ctx: &Ctx, container: &mut Container) -> Result<()> {
    let id = container.id().to_string();
    container
        .refresh_status()
        .with_context(|| format!("read the status of container {id}"))?;
    if !container.can_start() {
        bail!(
            "cannot start container {id}: it is {}, and only a created container can be started",
            container.status()
        );
    }
    let config = container
        .spec()
        .with_context(|| format!("load the hooks of container {id}"))?;
    let pid = container
        .pid()
        .with_context(|| format!("container {id} has no init pid in its state"))?;
    // Open the init's report before signalling it: it is closed when the program runs.
    let watch = hooks::Watch::open(&container.root, pid.as_raw())?;
    crate::gaps::start::signal_init(container)?;
    container
        .set_status(ContainerStatus::Running)
        .save()
        .with_context(|| format!("save the state of container {id}"))?;
    if let Some(watch) = watch {
        if let Outcome::Failed(why) = watch.wait() {
            // Lifecycle 7 and 12-13: the container is destroyed and its poststop hooks run.
            if let Err(e) = delete::delete_container(ctx, container, true) {
                tracing::warn!("destroying container {id} after its failed start: {e:#}");
            }
            bail!("start container {id}: {why}");
        }
    }
    let state = hooks::state_for_hooks(&ctx.root, container);
    hooks::run_all(
        "poststart",
        config.hooks.as_ref().and_then(|h| h.poststart().as_ref()),
        &state,
    );
    Ok(())
}
