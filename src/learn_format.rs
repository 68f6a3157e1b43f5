//! PROVISIONAL: replaced by the policy side's definition at merge.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Evidence {
    pub name: String,
    pub container: String,
    pub started: String,
    pub stopped: String,
    pub capabilities: Vec<CapabilityEvidence>,
    pub syscalls: BTreeMap<String, Vec<String>>,
    pub written_paths: Vec<String>,
    pub low_ports: Vec<u16>,
    pub user_switches: Vec<String>,
    pub programs: Vec<String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CapabilityEvidence {
    pub cap: String,
    pub granted: bool,
    pub checks: u64,
    pub denied: u64,
    pub processes: Vec<String>,
}
