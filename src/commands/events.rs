use std::time::Duration;

use anyhow::{bail, Context, Result};
use libcgroups::common::CgroupManager;
use libcontainer::container::ContainerStatus;

use super::Ctx;
use crate::cgroup;
use crate::cli::Events;

/// Parse a Go-style duration as runc's `--interval` takes it (`5s`, `500ms`, `1m`).
pub fn parse_interval(s: &str) -> Result<Duration> {
    let bad = || anyhow::anyhow!("invalid --interval {s:?}: use e.g. 5s, 500ms or 1m");
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if secs <= 0.0 {
        bail!("--interval must be positive");
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn events(ctx: &Ctx, a: &Events) -> Result<()> {
    let interval = parse_interval(&a.interval)?;
    let c = ctx.load(&a.id)?;
    if c.status() == ContainerStatus::Stopped {
        bail!("container {} is not running", a.id);
    }
    let manager = cgroup::manager(&c)?;
    loop {
        let stats = manager
            .stats()
            .context("read the container's cgroup statistics")?;
        let event = serde_json::json!({"type": "stats", "id": a.id, "data": stats});
        println!("{event}");
        if a.stats {
            return Ok(());
        }
        std::thread::sleep(interval);
        if ctx.load(&a.id)?.status() == ContainerStatus::Stopped {
            return Ok(());
        }
    }
}
