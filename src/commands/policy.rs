//! `hardened policy show|validate|rules`.

use anyhow::{Context, Result};

use crate::cli::{PolicyCmd, RulesFormat};
use crate::policy::rules::meta;
use crate::policy::{self, Policy};

pub fn policy(effective: &Policy, cmd: &PolicyCmd) -> Result<i32> {
    match cmd {
        PolicyCmd::Show => {
            println!("# effective policy, from {}", effective.file_name());
            print!("{}", show(effective)?);
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

/// The policy as TOML, every default filled in, with a comment above each profile saying
/// where it was defined (the policy file, a file of `profile_dirs`, or built in).
pub fn show(p: &Policy) -> Result<String> {
    let text = toml::to_string(p).context("render the policy as TOML")?;
    let policy_file = p.file_name();
    let mut origin = std::collections::BTreeMap::new();
    for name in p.profiles.keys() {
        let Some(source) = p.profile_sources.get(name) else {
            continue;
        };
        origin.insert(
            profile_header(name)?,
            format!("# [profiles.{name}] from {}", source.describe(&policy_file)),
        );
    }
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if let Some(comment) = origin.get(line) {
            out.push_str(comment);
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

/// The table header TOML gives profile `name` (`[profiles.web]`, `[profiles."a b"]`).
fn profile_header(name: &str) -> Result<String> {
    let mut inner = toml::Table::new();
    inner.insert("x".into(), toml::Value::Boolean(true));
    let mut profiles = toml::Table::new();
    profiles.insert(name.to_string(), toml::Value::Table(inner));
    let mut doc = toml::Table::new();
    doc.insert("profiles".into(), toml::Value::Table(profiles));
    let text = toml::to_string(&doc).context("render a profile header")?;
    Ok(text
        .lines()
        .find(|l| l.starts_with('['))
        .unwrap_or_default()
        .to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_says_where_each_profile_came_from() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path().join("profiles.d");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(
            dir.join("app.toml"),
            "[profiles.app]\nallow_capabilities = [\"CHOWN\"]\n",
        )
        .expect("write");
        let file = d.path().join("policy.toml");
        let text = format!(
            "profile_dirs = [{:?}]\nbuiltin_profiles = [\"drop-to-user\"]\n[profiles.web]\nallow_capabilities = [\"NET_BIND_SERVICE\"]\n[profiles.\"odd name\"]\npids_limit = 5\n",
            dir.display().to_string()
        );
        let p = crate::policy::load::parse(&text, &file).expect("loads");
        let shown = show(&p).expect("show");
        let app = dir.join("app.toml");
        for want in [
            format!(
                "# [profiles.app] from {} (profile_dirs)\n[profiles.app]\n",
                app.display()
            ),
            "# [profiles.drop-to-user] from built-in (builtin_profiles)\n[profiles.drop-to-user]\n"
                .to_string(),
            format!("# [profiles.web] from {}\n[profiles.web]\n", file.display()),
            format!(
                "# [profiles.odd name] from {}\n[profiles.\"odd name\"]\n",
                file.display()
            ),
        ] {
            assert!(shown.contains(&want), "{want:?} in\n{shown}");
        }
        // Still TOML, and the same policy values.
        let back: toml::Table = toml::from_str(&shown).expect("TOML");
        assert_eq!(
            back,
            toml::from_str::<toml::Table>(&toml::to_string(&p).expect("render")).expect("TOML")
        );
    }
}
