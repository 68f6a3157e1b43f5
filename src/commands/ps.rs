use anyhow::{bail, Context, Result};
use libcgroups::common::CgroupManager;

use super::Ctx;
use crate::cgroup;
use crate::cli::{OutputFormat, Ps};

pub fn ps(ctx: &Ctx, a: &Ps) -> Result<()> {
    let c = ctx.load(&a.id)?;
    let pids: Vec<i32> = cgroup::manager(&c)?
        .get_all_pids()
        .context("list the processes of the container's cgroup")?
        .into_iter()
        .map(|p| p.as_raw())
        .collect();
    match a.format {
        OutputFormat::Json => println!("{}", serde_json::to_string(&pids)?),
        OutputFormat::Table => {
            let args: Vec<String> = if a.ps_args.is_empty() {
                vec!["-ef".into()]
            } else {
                a.ps_args.clone()
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .context("run ps(1)")?;
            if !out.status.success() {
                bail!(
                    "ps {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let Some(col) = header.split_whitespace().position(|h| h == "PID") else {
                bail!("ps output has no PID column: keep PID in the ps options");
            };
            println!("{header}");
            for line in lines {
                let pid = line
                    .split_whitespace()
                    .nth(col)
                    .and_then(|p| p.parse::<i32>().ok());
                if pid.is_some_and(|p| pids.contains(&p)) {
                    println!("{line}");
                }
            }
        }
    }
    Ok(())
}
