use anyhow::Result;
use libcontainer::container::Container;

use super::state::StateOut;
use super::Ctx;
use crate::cli::{List, OutputFormat};

pub fn list(ctx: &Ctx, a: &List) -> Result<()> {
    let mut states = Vec::new();
    for entry in std::fs::read_dir(&ctx.root)?.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') || !entry.path().join("state.json").exists() {
            continue;
        }
        if let Ok(c) = Container::load(entry.path()) {
            states.push(StateOut::of(ctx, &c));
        }
    }
    states.sort_by(|a, b| a.id.cmp(&b.id));
    if a.quiet {
        for s in &states {
            println!("{}", s.id);
        }
        return Ok(());
    }
    match a.format {
        OutputFormat::Json => println!("{}", serde_json::to_string(&states)?),
        OutputFormat::Table => {
            let rows: Vec<[String; 6]> = states
                .iter()
                .map(|s| {
                    [
                        s.id.clone(),
                        s.pid.to_string(),
                        s.status.clone(),
                        s.bundle.display().to_string(),
                        s.created.clone(),
                        s.owner.clone(),
                    ]
                })
                .collect();
            let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
            let mut width = [0usize; 6];
            for r in std::iter::once(&header).chain(rows.iter()) {
                for (i, cell) in r.iter().enumerate() {
                    width[i] = width[i].max(cell.len());
                }
            }
            for r in std::iter::once(&header).chain(rows.iter()) {
                let line: Vec<String> = r
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{c:<w$}", w = width[i]))
                    .collect();
                println!("{}", line.join("   ").trim_end());
            }
        }
    }
    Ok(())
}
