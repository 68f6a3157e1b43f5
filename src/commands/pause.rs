use anyhow::{Context, Result};

use super::Ctx;

pub fn pause(ctx: &Ctx, id: &str) -> Result<()> {
    let mut c = ctx.load(id)?;
    c.pause()
        .with_context(|| format!("pause container {id} (status {})", c.status()))
}

pub fn resume(ctx: &Ctx, id: &str) -> Result<()> {
    let mut c = ctx.load(id)?;
    c.resume()
        .with_context(|| format!("resume container {id} (status {})", c.status()))
}
