use anyhow::{Context, Result};

use super::Ctx;
use crate::bundle;

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
    let deleted = container.delete(force).with_context(|| {
        format!(
            "cannot delete container {id} that is not stopped ({}): stop it first or use --force",
            container.status()
        )
    });
    // What is ours goes even when libcontainer's part of a forced delete fails (a create killed
    // half-way): the engine will not call again, and a leaked range is never reclaimed.
    if deleted.is_ok() || force {
        bundle::remove_shadow(&ctx.root, id);
        crate::userns::alloc::free(&ctx.root, id);
    }
    deleted
}
