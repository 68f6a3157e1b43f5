use std::str::FromStr;

use anyhow::{anyhow, bail, Context, Result};
use libcontainer::container::ContainerStatus;
use nix::sys::signal::Signal;

use super::Ctx;
use crate::{ledger, reap};

/// A signal as runc takes it: a name with or without `SIG` (`TERM`, `SIGKILL`), or a number.
pub fn parse_signal(s: &str) -> Result<Signal> {
    let t = s.trim();
    let parsed = match t.parse::<i32>() {
        Ok(n) => Signal::try_from(n).ok(),
        Err(_) => {
            let up = t.to_ascii_uppercase();
            let name = if up.starts_with("SIG") {
                up
            } else {
                format!("SIG{up}")
            };
            Signal::from_str(&name).ok()
        }
    };
    parsed.ok_or_else(|| {
        anyhow!(
            "unknown signal {}: give a name (TERM, SIGKILL) or a number (1-31)",
            crate::oneline::value(s)
        )
    })
}

/// `kill [--all] ID SIGNAL`: the signal goes to the container's init, checked to be the process
/// that `create` recorded (a recycled pid is never signalled), or with `--all` to every process
/// of the container, and only to them (`crate::reap`).
pub fn kill(ctx: &Ctx, id: &str, signal: &str, all: bool) -> Result<()> {
    let signal = parse_signal(signal)?;
    let sig = signal as i32;
    let mut container = ctx.load(id)?;
    container
        .refresh_status()
        .with_context(|| format!("read the status of container {id}"))?;
    let before = container.status();
    match before {
        ContainerStatus::Stopped if !all => bail!("container {id} is not running"),
        ContainerStatus::Creating => {
            bail!("container {id} is still being created: wait for create to finish, or delete --force it")
        }
        _ => {}
    }
    let scope = super::delete::scope_of(ctx, &container)?;
    if all {
        scope
            .signal_all(sig)
            .with_context(|| format!("send the signal to the processes of container {id}"))?;
    } else {
        let init = ledger::read(&ctx.root, id)
            .ok()
            .flatten()
            .and_then(|l| l.init)
            .or_else(|| {
                // Made by an older version: the state's pid, when it is in the container's
                // cgroup (then the record is made now).
                let pid = container.pid()?.as_raw();
                scope
                    .members()
                    .ok()?
                    .iter()
                    .any(|(p, _)| *p == pid)
                    .then_some(())?;
                reap::init_record(pid, false)
            });
        if let Some(init) = init {
            reap::signal_init(&init, sig)
                .with_context(|| format!("send the signal to container {id}"))?;
        }
    }
    // A paused (frozen) container's processes act on SIGKILL only once thawed (cgroup v1).
    if before == ContainerStatus::Paused && sig == libc::SIGKILL {
        if let Ok(m) = crate::cgroup::manager(&container) {
            use libcgroups::common::CgroupManager;
            let _ = m.freeze(libcgroups::common::FreezerState::Thawed);
        }
    }
    // As runc: the state follows the init (src/gaps/kill_status.rs).
    crate::gaps::kill_status::record_after_signal(&mut container, before)
}
