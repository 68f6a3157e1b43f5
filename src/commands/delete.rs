use anyhow::{bail, Context, Result};
use libcgroups::common::CgroupManager;
use libcontainer::config::YoukiConfig;
use libcontainer::container::{Container, ContainerStatus};
use libcontainer::process::intel_rdt::cleanup_intel_rdt;
use nix::sys::signal::Signal;

use super::Ctx;
use crate::bundle;
use crate::hooks;

pub fn delete(ctx: &Ctx, id: &str, force: bool) -> Result<()> {
    let dir = ctx.container_dir(id)?;
    if !dir.join("state.json").exists() {
        // An aborted create can leave a directory without state: remove it.
        if dir.exists() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        bundle::remove_shadow(&ctx.root, id);
        crate::userns::alloc::free(&ctx.root, id);
        if force {
            return Ok(());
        }
        anyhow::bail!("container {id} does not exist");
    }
    let mut container = match ctx.load(id) {
        Ok(c) => c,
        // A create killed while libcontainer wrote its state leaves an unreadable state file:
        // a forced delete removes what is left (the engine will not call again).
        Err(e) if force => {
            tracing::warn!("{e:#}: removing what is left of container {id}");
            let _ = std::fs::remove_dir_all(&dir);
            bundle::remove_shadow(&ctx.root, id);
            crate::userns::alloc::free(&ctx.root, id);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    delete_container(ctx, &mut container, force)
}

/// Delete a loaded container: stop it (a created one always, as runc does; a running or paused
/// one with `force`), remove its cgroup unless it existed before the container, run the poststop
/// hooks (a failing one is a warning: runtime.md lifecycle 13), remove its state, shadow bundle
/// and user-namespace range. What is ours goes even when a forced delete fails half-way (a create
/// killed mid-way): the engine will not call again, and a leaked range is never reclaimed.
pub fn delete_container(ctx: &Ctx, container: &mut Container, force: bool) -> Result<()> {
    let id = container.id().to_string();
    let deleted = delete_libcontainer_part(ctx, container, force);
    if deleted.is_ok() || force {
        bundle::remove_shadow(&ctx.root, &id);
        crate::userns::alloc::free(&ctx.root, &id);
    }
    deleted
}

fn delete_libcontainer_part(ctx: &Ctx, container: &mut Container, force: bool) -> Result<()> {
    let id = container.id().to_string();
    container
        .refresh_status()
        .with_context(|| format!("read the status of container {id}"))?;
    match container.status() {
        ContainerStatus::Stopped => {}
        ContainerStatus::Created => kill_all(container)?,
        status if force => {
            if let Err(e) = kill_all(container) {
                if status != ContainerStatus::Creating {
                    return Err(e);
                }
            }
        }
        status => bail!(
            "cannot delete container {id} that is not stopped ({status}): stop it first or use --force"
        ),
    }
    if let Err(e) = cleanup_intel_rdt(
        container.intel_rdt_dir().map(|p| p.as_path()),
        container.intel_rdt_monitoring_dir().map(|p| p.as_path()),
        container.clean_up_intel_rdt_subdirectory(),
        &id,
    ) {
        tracing::warn!("failed to clean up intel RDT of container {id}: {e:?}");
    }
    let dir = container.root.clone();
    match YoukiConfig::load(&dir) {
        Ok(config) => {
            if crate::commands::cgroup::preexisting(&dir) {
                tracing::debug!(
                    "cgroup {} existed before container {id}: left in place (runtime.md Delete)",
                    config.cgroup_path.display()
                );
            } else {
                let manager =
                    libcgroups::common::create_cgroup_manager(libcgroups::common::CgroupConfig {
                        cgroup_path: config.cgroup_path.clone(),
                        systemd_cgroup: container.systemd(),
                        container_name: id.clone(),
                    })
                    .with_context(|| format!("open the cgroup of container {id}"))?;
                manager.remove().map_err(|e| {
                    anyhow::anyhow!(
                        "remove cgroup {} of container {id}: {e}",
                        config.cgroup_path.display()
                    )
                })?;
            }
            let state = hooks::state_for_hooks(&ctx.root, container);
            hooks::run_all(
                "poststop",
                config.hooks.as_ref().and_then(|h| h.poststop().as_ref()),
                &state,
            );
        }
        Err(e) => tracing::warn!("{e:?}: the cgroup and poststop hooks of {id} are skipped"),
    }
    std::fs::remove_dir_all(&dir)
        .with_context(|| format!("remove the state directory {}", dir.display()))
}

fn kill_all(container: &mut Container) -> Result<()> {
    let id = container.id().to_string();
    container
        .kill(Signal::SIGKILL, true)
        .with_context(|| format!("kill the processes of container {id}"))?;
    container.set_status(ContainerStatus::Stopped);
    Ok(())
}
