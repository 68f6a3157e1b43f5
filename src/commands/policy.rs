//! `hardened policy show|validate`.

use anyhow::{Context, Result};

use crate::cli::PolicyCmd;
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
            println!(
                "{}: valid ({} mode, {} profile(s){})",
                file.display(),
                serde_json::to_value(p.mode)?.as_str().unwrap_or("?"),
                p.profiles.len(),
                p.profile_names()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            );
            Ok(0)
        }
    }
}
