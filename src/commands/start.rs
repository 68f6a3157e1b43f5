use anyhow::{Context, Result};

use super::Ctx;

pub fn start(ctx: &Ctx, id: &str) -> Result<()> {
    let mut container = ctx.load(id)?;
    container
        .start()
        .with_context(|| format!("start container {id} (status {:?})", container.status()))
}
