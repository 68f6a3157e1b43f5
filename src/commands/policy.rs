//! `hardened policy show|validate|rules`.

use anyhow::{Context, Result};

use crate::cli::{PolicyCmd, RulesFormat};
use crate::policy::rules::meta;
use crate::policy::{self, Policy};

pub fn policy(effective: &Policy, cmd: &PolicyCmd) -> Result<i32> {
    match cmd {
        PolicyCmd::Show => {
            println!("# effective policy, from {}", effective.file_name());
            print!(
                "{}",
                toml::to_string(effective).context("render the policy as TOML")?
            );
            Ok(0)
        }
        PolicyCmd::Validate { file } => {
            let p = policy::load_argument(file)?;
            println!("{}: valid ({})", file.display(), summary(&p));
            Ok(0)
        }
        PolicyCmd::Rules { format } => {
            match format {
                RulesFormat::Table => print!("{}", rules_table()),
                RulesFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&meta::documented())
                        .context("render the rules as JSON")?
                ),
                RulesFormat::Markdown => print!("{}", meta::markdown()),
            }
            Ok(0)
        }
    }
}

/// "version 1, enforce mode, 2 profile(s): a, b": what `policy validate`, `check` and `doctor`
/// say of a policy.
pub fn summary(p: &Policy) -> String {
    format!(
        "version {}, {} mode, {} profile(s){}",
        p.version,
        serde_json::to_value(p.mode)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_else(|| "?".into()),
        p.profiles.len(),
        p.profile_names()
            .map(|n| format!(": {n}"))
            .unwrap_or_default()
    )
}

/// The rules for a terminal: one line each (ID, levels, keys, title).
fn rules_table() -> String {
    let docs = meta::documented();
    let rows: Vec<[String; 4]> = docs
        .iter()
        .map(|r| {
            let levels: Vec<&str> = r.levels.iter().map(|l| l.as_str()).collect();
            [
                r.id.to_string(),
                format!(
                    "{}{}",
                    levels.join(","),
                    if r.in_every_mode { " (every mode)" } else { "" }
                ),
                r.keys.join(", "),
                r.title.to_string(),
            ]
        })
        .collect();
    let head = ["RULE", "LEVELS", "POLICY KEYS", "TITLE"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].len())
            .chain([head[i].len()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    let mut s = String::new();
    for r in std::iter::once(head.map(String::from)).chain(rows) {
        s.push_str(&format!(
            "{:w0$}  {:w1$}  {:w2$}  {}\n",
            r[0], r[1], r[2], r[3]
        ));
    }
    s.push_str("\nEach rule in full: hardened policy rules --format json, or docs/policy.md.\n");
    s
}
