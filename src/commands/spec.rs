use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;

use crate::cli::SpecCmd;

/// Write a default `config.json` (runc's `spec`).
pub fn spec(a: &SpecCmd) -> Result<()> {
    let dir = a.bundle.clone().unwrap_or_else(|| PathBuf::from("."));
    let path = dir.join("config.json");
    if path.exists() {
        bail!("File {} exists. Remove it first", path.display());
    }
    let spec = if a.rootless {
        Spec::rootless(
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    } else {
        let mut s = Spec::default();
        if let Some(mut p) = s.process().clone() {
            p.set_terminal(Some(true));
            s.set_process(Some(p));
        }
        s
    };
    let json = serde_json::to_string_pretty(&spec)?;
    std::fs::write(&path, json).with_context(|| format!("write {}", path.display()))?;
    Ok(())
}
