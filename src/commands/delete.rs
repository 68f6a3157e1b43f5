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
    let mut container = ctx.load(id)?;
    container.delete(force).with_context(|| {
        format!(
            "cannot delete container {id} that is not stopped ({}): stop it first or use --force",
            container.status()
        )
    })?;
    bundle::remove_shadow(&ctx.root, id);
    crate::userns::alloc::free(&ctx.root, id);
    Ok(())
}
