use anyhow::{bail, Context, Result};
use libcgroups::common::CgroupManager;
use libcontainer::container::{Container, ContainerStatus};
use libcontainer::process::intel_rdt::cleanup_intel_rdt;

use super::Ctx;
use crate::gaps::hooks;
use crate::reap::Scope;
use crate::{bundle, ledger};

pub fn delete(ctx: &Ctx, id: &str, force: bool) -> Result<()> {
    let dir = ctx.container_dir(id)?;
    if !dir.join("state.json").exists() {
        // An aborted create can leave what it acquired before libcontainer wrote the state
        // (the ledger says what): remove it.
        remove_leftovers(ctx, id, force)?;
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
            return remove_leftovers(ctx, id, force);
        }
        Err(e) => return Err(e),
    };
    delete_container(ctx, &mut container, force)
}

/// What a create that never finished may have left, found through the ledger (its processes,
/// its cgroup) and by the container's id (state dir, shadow bundle, user-namespace range).
pub fn remove_leftovers(ctx: &Ctx, id: &str, force: bool) -> Result<()> {
    let led = ledger::read(&ctx.root, id)
        .with_context(|| format!("read the ledger of container {id}"))?;
    if let Some(led) = &led {
        let scope = Scope::from_ledger(id, led)?;
        if let Some(creator) = led.creator.as_ref().filter(|_| led.init.is_none()) {
            if !force && crate::reap::creator_alive(creator) {
                bail!("container {id} is still being created (create is process {}): wait for it, or use --force", creator.pid);
            }
            crate::reap::kill_strays(creator);
        }
        scope.kill_all()?;
        scope.remove_cgroup()?;
    }
    let dir = ctx.container_dir(id)?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("remove the state directory {}", dir.display()))?;
    }
    bundle::remove_shadow(&ctx.root, id);
    crate::userns::alloc::free(&ctx.root, id);
    crate::learn::discard(&ctx.root, id);
    crate::hints::forget(&ctx.root, id);
    ledger::remove(&ctx.root, id);
    Ok(())
}

/// Delete a loaded container: stop it (a created one always, as runc does; a running or paused
/// one with `force`), remove its cgroup unless it existed before the container, run the poststop
/// hooks (a failing one is a warning: runtime.md lifecycle 13), remove its state, shadow bundle,
/// user-namespace range and ledger. What is ours goes even when a forced delete fails half-way
/// (a create killed mid-way): the engine will not call again, and a leaked range is never
/// reclaimed. The ledger goes last, and only when the container's processes and cgroup are
/// gone: it is what a second delete needs to find them.
pub fn delete_container(ctx: &Ctx, container: &mut Container, force: bool) -> Result<()> {
    let id = container.id().to_string();
    let deleted = delete_libcontainer_part(ctx, container, force);
    // Learn mode: the container's processes are gone; write what it used (src/learn.rs). A
    // failure here is the operator's to know, not a reason to keep the container.
    if deleted.is_ok() {
        crate::hints::conclude(&ctx.root, &id);
    }
    if deleted.is_ok() && crate::learn::learning(&ctx.root, &id) {
        match crate::learn::conclude(&ctx.root, &id) {
            Ok(file) => tracing::info!("learn mode: container {id} learned as {}", file.display()),
            Err(e) => {
                tracing::warn!("{e:#}");
                crate::learn::discard(&ctx.root, &id);
            }
        }
    }
    if deleted.is_ok() || force {
        bundle::remove_shadow(&ctx.root, &id);
        crate::userns::alloc::free(&ctx.root, &id);
    }
    if deleted.is_ok() {
        ledger::remove(&ctx.root, &id);
    }
    deleted
}

/// Who the processes of a loaded container are (`crate::reap`).
pub fn scope_of(ctx: &Ctx, container: &Container) -> Result<Scope> {
    let id = container.id();
    if let Some(led) =
        ledger::read(&ctx.root, id).with_context(|| format!("read the ledger of container {id}"))?
    {
        return Ok(Scope::from_ledger(id, &led)?);
    }
    // Made by an older version: libcontainer's saved cgroup path.
    let config = container
        .spec()
        .with_context(|| format!("load the saved config of container {id}"))?;
    Ok(Scope::legacy(
        id,
        &config.cgroup_path,
        container.systemd(),
        container.pid().map(|p| p.as_raw()),
        !crate::cgroup::preexisting(&container.root),
    )?)
}

fn delete_libcontainer_part(ctx: &Ctx, container: &mut Container, force: bool) -> Result<()> {
    let id = container.id().to_string();
    // A create that never recorded its init: libcontainer's state may say "creating" or, with
    // no pid yet, "stopped" (refresh_status), while its helper processes live on.
    if let Some(creator) = ledger::read(&ctx.root, &id)
        .ok()
        .flatten()
        .filter(|l| l.init.is_none())
        .and_then(|l| l.creator)
    {
        if !force && crate::reap::creator_alive(&creator) {
            bail!("container {id} is still being created (create is process {}): wait for it, or use --force", creator.pid);
        }
        crate::reap::kill_strays(&creator);
    }
    container
        .refresh_status()
        .with_context(|| format!("read the status of container {id}"))?;
    let scope = scope_of(ctx, container)?;
    let killed = stop(container, &scope, force)?;
    if let Err(e) = cleanup_intel_rdt(
        container.intel_rdt_dir().map(|p| p.as_path()),
        container.intel_rdt_monitoring_dir().map(|p| p.as_path()),
        container.clean_up_intel_rdt_subdirectory(),
        &id,
    ) {
        tracing::warn!("failed to clean up intel RDT of container {id}: {e:?}");
    }
    remove_cgroup(&id, &scope, killed, force)?;
    let dir = container.root.clone();
    match container.spec() {
        Ok(config) => {
            let state = hooks::state_for_hooks(&ctx.root, container);
            hooks::run_all(
                "poststop",
                config.hooks.as_ref().and_then(|h| h.poststop().as_ref()),
                &state,
            );
        }
        // `Container::spec` wraps the config's error: the message stays the config's.
        Err(libcontainer::error::LibcontainerError::Config(e)) => {
            tracing::warn!("{e:?}: the poststop hooks of {id} are skipped")
        }
        Err(e) => tracing::warn!("{e:?}: the poststop hooks of {id} are skipped"),
    }
    std::fs::remove_dir_all(&dir)
        .with_context(|| format!("remove the state directory {}", dir.display()))
}

/// Stop the container before it is deleted: a created one always (as runc does), a running or
/// paused one with `force`. Whether its processes were killed.
fn stop(container: &mut Container, scope: &Scope, force: bool) -> Result<bool> {
    let id = container.id().to_string();
    match container.status() {
        ContainerStatus::Stopped => Ok(false),
        ContainerStatus::Created => {
            kill_all(container, scope)?;
            Ok(true)
        }
        status if force => {
            if let Err(e) = kill_all(container, scope) {
                if status != ContainerStatus::Creating {
                    return Err(e);
                }
                tracing::warn!("{e:#}");
            }
            Ok(true)
        }
        status => bail!(
            "cannot delete container {id} that is not stopped ({status}): stop it first or use --force"
        ),
    }
}

/// Remove the container's cgroup unless it existed before the container (runtime.md Delete).
fn remove_cgroup(id: &str, scope: &Scope, killed: bool, force: bool) -> Result<()> {
    if scope.own_cgroup {
        // A process that is not the container's (moved in by someone else) keeps the cgroup
        // busy: it is never killed (crate::reap), and the cgroup is left to the operator. A
        // stopped container may still have processes there (children outside its PID
        // namespace, or none of its own to reap them).
        if !killed {
            scope.kill_all()?;
        }
        if let Err(e) = scope.remove_cgroup() {
            if !force {
                return Err(e.into());
            }
            tracing::warn!("{e}: left in place (it holds processes that are not the container's)");
        }
    } else {
        tracing::debug!(
            "cgroup {} existed before container {id}: left in place (runtime.md Delete)",
            scope.cgroup_raw.display()
        );
    }
    Ok(())
}

/// SIGKILL every process of the container (a paused one is thawed first: a frozen v1 task does
/// not die until thawed) and record it stopped.
fn kill_all(container: &mut Container, scope: &Scope) -> Result<()> {
    let id = container.id().to_string();
    if container.status() == ContainerStatus::Paused {
        if let Ok(m) = crate::cgroup::manager(container) {
            let _ = m.freeze(libcgroups::common::FreezerState::Thawed);
        }
    }
    match scope.kill_all() {
        // Its processes cannot be told from the others of a shared cgroup: its init (checked
        // to be the one create recorded) is all that is signalled.
        Err(crate::reap::ReapError::Ambiguous { .. }) => {
            if let Some(init) = crate::ledger::read(&ctx_root(container), &id)
                .ok()
                .flatten()
                .and_then(|l| l.init)
            {
                crate::reap::kill_init(&init)
                    .with_context(|| format!("kill the init of container {id}"))?;
            }
            tracing::warn!("container {id} has no PID namespace of its own and shares a cgroup that existed before it: only its init was killed");
        }
        r => r.with_context(|| format!("kill the processes of container {id}"))?,
    }
    container.set_status(ContainerStatus::Stopped);
    Ok(())
}

/// The state root a loaded container lives in.
fn ctx_root(container: &Container) -> std::path::PathBuf {
    container
        .root
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_default()
}
