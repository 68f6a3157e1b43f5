use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use libcontainer::container::Container;
use serde::Serialize;

use super::Ctx;
use crate::bundle;

/// `state` output, field for field as runc prints it.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct StateOut {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<HashMap<String, String>>,
}

impl StateOut {
    pub fn of(ctx: &Ctx, c: &Container) -> Self {
        let effective = c.bundle();
        let bundle = bundle::caller_bundle(&ctx.root, c.id(), effective);
        let rootfs = rootfs_of(effective).unwrap_or_default();
        let status = c.status();
        let pid = match status {
            libcontainer::container::ContainerStatus::Stopped => 0,
            _ => c.pid().map(|p| p.as_raw()).unwrap_or(0),
        };
        StateOut {
            oci_version: c.state.oci_version.clone(),
            id: c.id().to_string(),
            pid,
            status: status.to_string().to_lowercase(),
            bundle,
            rootfs,
            created: c
                .created()
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
                .unwrap_or_default(),
            owner: String::new(),
            annotations: c.state.annotations.clone().filter(|a| !a.is_empty()),
        }
    }
}

fn rootfs_of(bundle: &Path) -> Option<PathBuf> {
    let raw = std::fs::read(bundle.join("config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    let p = PathBuf::from(v.get("root")?.get("path")?.as_str()?);
    Some(if p.is_absolute() { p } else { bundle.join(p) })
}

pub fn state(ctx: &Ctx, id: &str) -> Result<()> {
    let c = ctx.load(id)?;
    println!("{}", serde_json::to_string_pretty(&StateOut::of(ctx, &c))?);
    Ok(())
}
