//! The audit log: every policy decision is one JSON line (time, container id, bundle, profile,
//! mode, each change, refusal and warning with its rule ID, the AppArmor profile applied). Writing it is best effort: a
//! failure is reported in the runtime's log, it does not stop the container.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use serde::Serialize;

use crate::policy::{Change, Mode, Policy, Refusal, Warning};

#[derive(Serialize)]
pub struct Record<'a> {
    pub time: String,
    pub command: &'a str,
    pub id: &'a str,
    pub bundle: Option<&'a Path>,
    pub policy: String,
    pub profile: Option<&'a str>,
    pub mode: Mode,
    /// "allowed", "refused", or "allowed-in-audit-mode" (enforce would have refused).
    pub decision: &'a str,
    pub changes: &'a [Change],
    pub refusals: &'a [Refusal],
    pub warnings: &'a [Warning],
    /// The AppArmor profile the process runs under ("hardened-default", "docker-default",
    /// "unconfined"), or "not available on this host" (`crate::lsm::apparmor::applied`).
    pub apparmor: String,
}

pub fn decision(mode: Mode, refused: bool) -> &'static str {
    match (refused, mode) {
        (false, _) => "allowed",
        (true, Mode::Enforce | Mode::Learn) => "refused",
        (true, _) => "allowed-in-audit-mode",
    }
}

pub fn write(policy: &Policy, record: &Record) {
    append(&policy.audit_log, record)
}

/// Append one record (any JSON object: a decision, a learned profile) to the audit log `path`.
pub fn append(path: &Path, record: &impl Serialize) {
    let result = (|| -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            if !dir.exists() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)?;
            }
        }
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(&line)
    })();
    if let Err(e) = result {
        tracing::warn!("cannot write the audit log {}: {e}", path.display());
    }
}
