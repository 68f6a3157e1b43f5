//! The files of a learned profile, as learn mode writes them into the policy's `learn_dir` and
//! `hardened profile` reads them. A learned profile NAME is three files:
//!
//! - `NAME.toml`: comment lines saying where it came from, then one `[profiles.NAME]` table
//!   (`allow_capabilities`, `readonly_rootfs`, `scratch_mounts`,
//!   `seccomp_profile = "NAME.seccomp.json"`): what an operator adopts by copying it, with its
//!   seccomp file, into a directory of the policy's `profile_dirs`;
//! - `NAME.seccomp.json`: an OCI `linux.seccomp` object;
//! - `NAME.learned.json`: the evidence ([`Evidence`]), for the review.
//!
//! One type for both sides (`crate::learn_profile` writes it, `commands::profile` reads it),
//! so that they cannot disagree on a field. Every field has a default: evidence written by an
//! older or newer runtime, with fields missing, still reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `NAME.toml`: the profile table.
pub fn toml_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.toml"))
}

/// `NAME.seccomp.json`: the seccomp profile.
pub fn seccomp_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.seccomp.json"))
}

/// `NAME.learned.json`: the evidence.
pub fn evidence_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.learned.json"))
}

/// What learn mode saw a container use: the reasons for each line of its profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Evidence {
    /// The profile's name (the container's name, or its id).
    pub name: String,
    /// The id of the container it was learned from.
    pub container: String,
    /// When the container started and stopped (RFC 3339).
    pub started: String,
    pub stopped: String,
    /// Each capability the container's processes were checked for.
    pub capabilities: Vec<CapabilityEvidence>,
    /// The system calls seen, per seccomp architecture name (`"x86_64"` or `"SCMP_ARCH_X86_64"`).
    pub syscalls: BTreeMap<String, Vec<String>>,
    /// The paths written outside the scratch mounts (why `scratch_mounts` grew).
    pub written_paths: Vec<String>,
    /// The user and group switches the programs asked for (why `SETUID`/`SETGID`): the system
    /// call and the IDs, in words ("nginx: setgid(33)", "su: setresuid(-1, 33, -1)": -1 leaves
    /// that ID unchanged; "nginx: setgroups(1 group(s))"). The IDs are the container's.
    pub user_switches: Vec<String>,
    /// The programs the container ran.
    pub programs: Vec<String>,
    /// What the recorder could not see or decide, for the reviewer.
    pub notes: Vec<String>,
}

/// One capability's checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CapabilityEvidence {
    /// Its name without `CAP_` ("CHOWN").
    pub cap: String,
    /// At least one check was granted: the program used it (the profile keeps it).
    pub granted: bool,
    /// How many times the kernel checked it, and how many of those it denied.
    pub checks: u64,
    pub denied: u64,
    /// The programs that were checked for it.
    pub processes: Vec<String>,
}

impl Evidence {
    /// Read `NAME.learned.json`; the error names the file.
    pub fn read(path: &Path) -> anyhow::Result<Evidence> {
        use anyhow::Context;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the evidence {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not the evidence of a learned profile (learn again, or remove it)",
                path.display()
            )
        })
    }

    /// Every system call seen, over all architectures, sorted and once each.
    pub fn all_syscalls(&self) -> Vec<String> {
        let mut all: Vec<String> = self.syscalls.values().flatten().cloned().collect();
        all.sort();
        all.dedup();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_reads_leniently() {
        let e: Evidence = serde_json::from_str(
            r#"{"name":"web","capabilities":[{"cap":"CHOWN","granted":true}],"syscalls":{"x86_64":["write","read"],"x86":["read"]},"future":1}"#,
        )
        .expect("parses");
        assert_eq!(e.name, "web");
        assert_eq!(e.capabilities[0].cap, "CHOWN");
        assert_eq!(e.capabilities[0].checks, 0);
        assert!(e.written_paths.is_empty());
        // Written by a runtime that had `low_ports` (never filled): still reads.
        let old: Evidence =
            serde_json::from_str(r#"{"name":"old","low_ports":[80],"user_switches":[]}"#)
                .expect("parses");
        assert_eq!(old.name, "old");
        assert_eq!(e.all_syscalls(), vec!["read", "write"]);
        let back: Evidence =
            serde_json::from_str(&serde_json::to_string(&e).expect("json")).expect("parses");
        assert_eq!(back, e);
    }
}
