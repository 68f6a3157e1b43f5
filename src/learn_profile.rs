//! The profile learn mode writes: from what the recorder saw (`crate::learn::Record`) and what
//! the container wrote, the least the container needs, as three files in the policy's
//! `learn_dir`:
//!
//! - `NAME.toml`: a `[profiles.NAME]` table: `allow_capabilities` (only the capabilities whose
//!   checks were granted: the ones the program used), `readonly_rootfs = true`,
//!   `scratch_mounts` (the policy's, plus the directories the program wrote in), and
//!   `seccomp_profile = "NAME.seccomp.json"`;
//! - `NAME.seccomp.json`: an OCI `linux.seccomp` object allowing the system calls seen, and
//!   nothing else;
//! - `NAME.learned.json`: the evidence (`crate::learn_format::Evidence`), for review.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::learn::{Record, Start};
use crate::learn_format::{CapabilityEvidence, Evidence};

/// The learned profile of one container.
#[derive(Debug, Clone)]
pub struct Learned {
    pub name: String,
    pub capabilities: Vec<String>,
    pub scratch_mounts: Vec<PathBuf>,
    pub syscalls: Vec<String>,
    pub evidence: Evidence,
}

/// `CAP_CHOWN` for capability number 0, ... (None: a number this build does not know).
pub fn cap_name(n: u32) -> Option<String> {
    caps::all()
        .into_iter()
        .find(|c| u32::from(c.index()) == n)
        .map(|c| c.to_string().trim_start_matches("CAP_").to_string())
}

/// The name of system call `nr` on this machine's architecture.
pub fn syscall_name(nr: i64) -> Option<String> {
    let nr = i32::try_from(nr).ok()?;
    libseccomp::ScmpSyscall::from(nr)
        .get_name_by_arch(libseccomp::ScmpArch::native())
        .ok()
}

/// This machine's architecture as seccomp names it.
pub fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "SCMP_ARCH_X86_64",
        "aarch64" => "SCMP_ARCH_AARCH64",
        "x86" => "SCMP_ARCH_X86",
        "arm" => "SCMP_ARCH_ARM",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "s390x" => "SCMP_ARCH_S390X",
        "powerpc64" => "SCMP_ARCH_PPC64LE",
        _ => "SCMP_ARCH_NATIVE",
    }
}

/// The directories a profile makes writable for these writes: the directory of each written
/// path, without those below another one or below a scratch mount already there. A write in
/// `/` itself cannot get a scratch mount (the notes say so).
pub fn writable_dirs(writes: &[PathBuf], scratch: &[PathBuf]) -> (Vec<PathBuf>, Vec<String>) {
    let mut notes = Vec::new();
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for w in writes {
        match w.parent() {
            Some(p) if p != Path::new("/") => {
                dirs.insert(p.to_path_buf());
            }
            _ => notes.push(format!(
                "{} was written in / itself: no scratch mount can cover it; the program needs readonly_rootfs = false, or a change so that it writes elsewhere",
                w.display()
            )),
        }
    }
    let all: Vec<PathBuf> = dirs.iter().cloned().collect();
    let keep = all
        .iter()
        .filter(|d| {
            !all.iter().any(|o| o != *d && d.starts_with(o))
                && !scratch.iter().any(|s| d.starts_with(s))
        })
        .cloned()
        .collect();
    (keep, notes)
}

/// A user or group switch as the evidence says it: `nginx: setgid(33)`, `su: setresuid(-1, 33,
/// -1)` (-1 leaves that ID unchanged), `nginx: setgroups(1 group(s))`.
pub fn switch_in_words(s: &crate::learn::IdSwitch) -> String {
    let call = syscall_name(s.nr).unwrap_or_else(|| format!("system call {}", s.nr));
    let args = if call == "setgroups" {
        format!("{} group(s)", s.args.first().copied().unwrap_or(0))
    } else {
        s.args
            .iter()
            .map(|&a| {
                if a == u32::MAX {
                    "-1".to_string()
                } else {
                    a.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("{}: {call}({args})", s.program)
}

impl Learned {
    pub fn new(start: &Start, record: &Record, writes: Vec<PathBuf>) -> Learned {
        let mut notes = Vec::new();
        let mut capabilities = Vec::new();
        let mut evidence_caps = Vec::new();
        for (n, u) in &record.capabilities {
            let name = cap_name(*n).unwrap_or_else(|| format!("capability {n}"));
            let granted = u.granted > 0;
            if granted {
                capabilities.push(name.clone());
            }
            evidence_caps.push(CapabilityEvidence {
                cap: name,
                granted,
                checks: u.granted + u.denied,
                denied: u.denied,
                processes: u.processes.iter().cloned().collect(),
            });
        }
        let denied_only: Vec<&CapabilityEvidence> = evidence_caps
            .iter()
            .filter(|c| !c.granted && c.denied > 0)
            .collect();
        for c in denied_only {
            notes.push(format!(
                "{} was checked and denied {} time(s) (by {}); it is not in the set learn mode gives, so the profile leaves it out: if the program failed for it, add it to allow_capabilities",
                c.cap,
                c.denied,
                c.processes.join(", ")
            ));
        }
        let mut unknown = Vec::new();
        let mut syscalls = Vec::new();
        for nr in &record.syscalls {
            match syscall_name(*nr) {
                Some(n) => syscalls.push(n),
                None => unknown.push(nr.to_string()),
            }
        }
        syscalls.sort();
        syscalls.dedup();
        if !unknown.is_empty() {
            notes.push(format!(
                "system call numbers without a name on {}: {}",
                native_arch(),
                unknown.join(", ")
            ));
        }
        if record.lost_events > 0 {
            notes.push(format!(
                "{} trace events were lost (the recorder fell behind): a capability or system call used only then may be missing; learn again under less load",
                record.lost_events
            ));
        }
        let (dirs, mut write_notes) = writable_dirs(&writes, &start.scratch_mounts);
        notes.append(&mut write_notes);
        let mut scratch_mounts = start.scratch_mounts.clone();
        scratch_mounts.extend(dirs);
        let evidence = Evidence {
            name: start.name.clone(),
            container: start.id.clone(),
            started: rfc3339(start.started_ns),
            stopped: rfc3339(crate::learn::now_ns()),
            capabilities: evidence_caps,
            syscalls: [(native_arch().to_string(), syscalls.clone())]
                .into_iter()
                .collect(),
            written_paths: writes.iter().map(|p| p.display().to_string()).collect(),
            user_switches: record.id_switches.iter().map(switch_in_words).collect(),
            programs: record.programs.iter().cloned().collect(),
            notes,
        };
        Learned {
            name: start.name.clone(),
            capabilities,
            scratch_mounts,
            syscalls,
            evidence,
        }
    }

    /// The `[profiles.NAME]` table, with a header that says where it came from.
    pub fn toml(&self) -> String {
        let list = |v: &[String]| {
            v.iter()
                // TOML's own quoting: a path the container chose cannot break the file.
                .map(|s| toml::Value::from(s.as_str()).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let scratch: Vec<String> = self
            .scratch_mounts
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        format!(
            "# Learned by hardened {version} from container {id}, {from} to {to}.\n\
             # Review it before use (`hardened profile show {name}`), then copy this file and\n\
             # {name}.seccomp.json into a directory listed in the policy's profile_dirs.\n\
             [profiles.{name}]\n\
             allow_capabilities = [{caps}]\n\
             readonly_rootfs = true\n\
             scratch_mounts = [{scratch}]\n\
             seccomp_profile = \"{name}.seccomp.json\"\n",
            version = env!("CARGO_PKG_VERSION"),
            id = self.evidence.container,
            from = self.evidence.started,
            to = self.evidence.stopped,
            name = self.name,
            caps = list(&self.capabilities),
            scratch = list(&scratch),
        )
    }

    /// The OCI `linux.seccomp` object: the system calls seen, nothing else.
    pub fn seccomp(&self) -> serde_json::Value {
        serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "architectures": [native_arch()],
            "syscalls": [{ "names": self.syscalls, "action": "SCMP_ACT_ALLOW" }],
        })
    }

    /// Write the three files into `dir` (made if missing); returns the TOML file.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .with_context(|| format!("learn mode: create the learn_dir {}", dir.display()))?;
        let put = |file: String, bytes: Vec<u8>| -> Result<PathBuf> {
            let path = dir.join(&file);
            let tmp = dir.join(format!(".{file}.tmp"));
            fs::write(&tmp, bytes).with_context(|| format!("write {}", tmp.display()))?;
            fs::rename(&tmp, &path).with_context(|| format!("write {}", path.display()))?;
            Ok(path)
        };
        put(
            format!("{}.seccomp.json", self.name),
            serde_json::to_vec_pretty(&self.seccomp())?,
        )?;
        put(
            format!("{}.learned.json", self.name),
            serde_json::to_vec_pretty(&self.evidence)?,
        )?;
        put(format!("{}.toml", self.name), self.toml().into_bytes())
    }

    /// The audit log's record of what was learned.
    pub fn audit_record(&self, toml: &Path) -> impl Serialize {
        serde_json::json!({
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "command": "delete",
            "id": self.evidence.container,
            "decision": "learned",
            "profile": self.name,
            "file": toml,
            "capabilities": self.capabilities,
            "scratch_mounts": self.scratch_mounts,
            "syscalls": self.syscalls.len(),
            "notes": self.evidence.notes,
        })
    }
}

fn rfc3339(ns: u64) -> String {
    let secs = i64::try_from(ns / 1_000_000_000).unwrap_or(0);
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writable_dirs_are_the_fewest_that_cover_the_writes() {
        let w: Vec<PathBuf> = [
            "/var/lib/nginx/body",
            "/var/lib/nginx/proxy",
            "/var/lib/nginx/proxy/x",
            "/etc/motd.new",
            "/tmp/x",
            "/stray",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let scratch = vec![PathBuf::from("/tmp"), PathBuf::from("/run")];
        let (dirs, notes) = writable_dirs(&w, &scratch);
        assert_eq!(
            dirs,
            vec![PathBuf::from("/etc"), PathBuf::from("/var/lib/nginx")]
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("/stray"), "{notes:?}");
    }

    #[test]
    fn a_path_the_container_chose_stays_one_toml_string() {
        let start = Start::for_test("web", &["/tmp"]);
        let evil = PathBuf::from("/srv/x\"]\nallow_privileged = true\n#\u{1b}/f");
        let l = Learned::new(&start, &Record::default(), vec![evil]);
        let parsed: toml::Table = toml::from_str(&l.toml()).expect("valid TOML");
        let web = parsed["profiles"]["web"].as_table().expect("the profile");
        assert!(!web.contains_key("allow_privileged"), "{web:?}");
        assert_eq!(
            web["scratch_mounts"].as_array().map(Vec::len),
            Some(2),
            "{web:?}"
        );
    }

    #[test]
    fn capability_and_syscall_names() {
        assert_eq!(cap_name(0).as_deref(), Some("CHOWN"));
        assert_eq!(cap_name(10).as_deref(), Some("NET_BIND_SERVICE"));
        assert_eq!(cap_name(999), None);
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!(syscall_name(0).as_deref(), Some("read"));
            assert_eq!(syscall_name(257).as_deref(), Some("openat"));
        }
    }

    #[test]
    fn only_granted_capabilities_are_learned() {
        let start = Start::for_test("web", &["/tmp", "/run"]);
        let mut record = Record::default();
        record.capabilities.insert(
            0,
            crate::learn::CapUse {
                granted: 3,
                denied: 0,
                processes: ["chown".to_string()].into(),
            },
        );
        record.capabilities.insert(
            21,
            crate::learn::CapUse {
                granted: 0,
                denied: 2,
                processes: ["mount".to_string()].into(),
            },
        );
        record.syscalls.insert(0);
        let nr = |name: &str| {
            i64::from(i32::from(
                libseccomp::ScmpSyscall::from_name(name).expect("a system call"),
            ))
        };
        record.id_switches.insert(crate::learn::IdSwitch {
            program: "nginx".into(),
            nr: nr("setgid"),
            args: vec![33],
        });
        record.id_switches.insert(crate::learn::IdSwitch {
            program: "su".into(),
            nr: nr("setresuid"),
            args: vec![u32::MAX, 33, u32::MAX],
        });
        record.id_switches.insert(crate::learn::IdSwitch {
            program: "nginx".into(),
            nr: nr("setgroups"),
            args: vec![1],
        });
        let l = Learned::new(&start, &record, vec![PathBuf::from("/var/log/app/x.log")]);
        assert_eq!(
            l.evidence.user_switches,
            vec![
                "nginx: setgid(33)".to_string(),
                "nginx: setgroups(1 group(s))".to_string(),
                "su: setresuid(-1, 33, -1)".to_string(),
            ],
            "{:?}",
            l.evidence.user_switches
        );
        assert_eq!(l.capabilities, vec!["CHOWN".to_string()]);
        let toml = l.toml();
        assert!(toml.contains("[profiles.web]"), "{toml}");
        assert!(toml.contains("allow_capabilities = [\"CHOWN\"]"), "{toml}");
        assert!(
            toml.contains("scratch_mounts = [\"/tmp\", \"/run\", \"/var/log/app\"]"),
            "{toml}"
        );
        assert!(
            l.evidence.notes.iter().any(|n| n.contains("SYS_ADMIN")),
            "{:?}",
            l.evidence.notes
        );
        let parsed: toml::Value = toml::from_str(&toml).expect("valid TOML");
        assert!(parsed.get("profiles").is_some());
    }
}
