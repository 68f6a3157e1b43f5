use anyhow::{anyhow, bail, Context, Result};
use libcontainer::container::ContainerStatus;
use libcontainer::signal::Signal;

use super::Ctx;

pub fn parse_signal(s: &str) -> Result<Signal> {
    Signal::try_from(s).map_err(|_| {
        anyhow!(
            "unknown signal {}: give a name (TERM, SIGKILL) or a number (1-31)",
            crate::oneline::value(s)
        )
    })
}

pub fn kill(ctx: &Ctx, id: &str, signal: &str, all: bool) -> Result<()> {
    let signal = parse_signal(signal)?;
    let mut container = ctx.load(id)?;
    let before = container.status();
    if before == ContainerStatus::Stopped && !all {
        bail!("container {id} is not running");
    }
    container
        .kill(signal, all)
        .with_context(|| format!("send the signal to container {id}"))?;
    // libcontainer records the container as stopped after any signal; a process that is still
    // alive keeps its state (a SIGHUP does not stop a container).
    let mut after = ctx.load(id)?;
    if after.pid().is_some()
        && alive(after.pid().map(|p| p.as_raw()).unwrap_or(0))
        && before != ContainerStatus::Stopped
    {
        after.set_status(before).save()?;
    }
    Ok(())
}

fn alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // state is the field after the ")" closing the command name
            let st = stat
                .rsplit_once(')')
                .map(|(_, r)| r.trim_start().chars().next());
            !matches!(st, Some(Some('Z')) | Some(Some('X')) | None)
        }
        Err(_) => false,
    }
}
