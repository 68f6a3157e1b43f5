//! `hardened profile list|show|diff`: the profiles learn mode wrote into the policy's
//! `learn_dir` (`crate::learn_profile`), for the operator to review before adopting one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cli::ProfileCmd;
use crate::learn_format::Evidence;
use crate::policy::Policy;

pub fn profile(policy: &Policy, cmd: &ProfileCmd) -> Result<i32> {
    let dir = &policy.learn_dir;
    match cmd {
        ProfileCmd::List => {
            let names = learned_names(dir)?;
            if names.is_empty() {
                println!(
                    "no learned profile in {} (learn mode writes them there: docs/learn.md)",
                    dir.display()
                );
            }
            for n in names {
                let l = Learned::read(dir, &n)?;
                println!(
                    "{n}\tcontainer {}\tstopped {}\tcapabilities [{}]\t{} system calls\tscratch_mounts [{}]",
                    short(&l.evidence.container),
                    l.evidence.stopped,
                    l.capabilities.join(", "),
                    l.syscalls.len(),
                    l.scratch.join(", ")
                );
            }
        }
        ProfileCmd::Show { name } => {
            let l = Learned::read(dir, name)?;
            print!("{}", l.toml);
            println!();
            print!("{}", evidence_words(&l.evidence));
        }
        ProfileCmd::Diff { name, other } => {
            let l = Learned::read(dir, name)?;
            let (label, caps, scratch, syscalls) = match other {
                None => (
                    "the built-in defaults".to_string(),
                    BTreeSet::new(),
                    set(&policy.defaults.scratch_mounts_strings()),
                    Some(set(crate::seccomp::syscalls::ALLOWED)),
                ),
                Some(o) if learned_names(dir)?.contains(o) => {
                    let m = Learned::read(dir, o)?;
                    (
                        format!("the learned profile {o}"),
                        set(&m.capabilities),
                        set(&m.scratch),
                        Some(set(&m.syscalls)),
                    )
                }
                Some(o) => {
                    let Some(r) = policy.profiles.get(o) else {
                        bail!(
                            "no profile {o:?} in the policy {} and no learned profile {o:?} in {}",
                            policy.file_name(),
                            dir.display()
                        );
                    };
                    (
                        format!("the policy's profile {o}"),
                        set(&r.allow_capabilities),
                        set(&r.scratch_mounts_strings()),
                        None,
                    )
                }
            };
            print!(
                "{}",
                diff_words(name, &label, &l, &caps, &scratch, syscalls.as_ref())
            );
        }
    }
    Ok(0)
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

fn set<S: AsRef<str>>(v: &[S]) -> BTreeSet<String> {
    v.iter().map(|s| s.as_ref().to_string()).collect()
}

/// The names of the learned profiles in `dir` (NAME.toml with a NAME.learned.json beside it).
fn learned_names(dir: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("read the learn_dir {}", dir.display())),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".toml")?.to_string();
            dir.join(format!("{stem}.learned.json"))
                .exists()
                .then_some(stem)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// A learned profile as written: its TOML, its keys, its evidence.
struct Learned {
    toml: String,
    capabilities: Vec<String>,
    scratch: Vec<String>,
    syscalls: Vec<String>,
    evidence: Evidence,
}

impl Learned {
    fn read(dir: &Path, name: &str) -> Result<Learned> {
        let file = dir.join(format!("{name}.toml"));
        if !file.exists() {
            let known = learned_names(dir)?;
            bail!(
                "no learned profile {name:?} in {} (learned: {})",
                dir.display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            );
        }
        let toml =
            std::fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?;
        let table: toml::Table =
            toml::from_str(&toml).with_context(|| format!("parse {}", file.display()))?;
        let keys = table
            .get("profiles")
            .and_then(|p| p.get(name))
            .cloned()
            .unwrap_or(toml::Value::Table(toml::Table::new()));
        let strings = |k: &str| -> Vec<String> {
            keys.get(k)
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let evidence_file: PathBuf = dir.join(format!("{name}.learned.json"));
        let evidence: Evidence = serde_json::from_slice(
            &std::fs::read(&evidence_file)
                .with_context(|| format!("read {}", evidence_file.display()))?,
        )
        .with_context(|| format!("parse {}", evidence_file.display()))?;
        let syscalls = evidence.syscalls.values().flatten().cloned().collect();
        Ok(Learned {
            capabilities: strings("allow_capabilities"),
            scratch: strings("scratch_mounts"),
            toml,
            syscalls,
            evidence,
        })
    }
}

/// The evidence in words.
fn evidence_words(e: &Evidence) -> String {
    let mut out = format!(
        "learned from container {} between {} and {}\n",
        e.container, e.started, e.stopped
    );
    if e.capabilities.is_empty() {
        out.push_str("capabilities: no capability was checked\n");
    } else {
        out.push_str("capabilities (checks by the program's processes):\n");
        for c in &e.capabilities {
            out.push_str(&format!(
                "  {:<18} {} ({} checks, {} denied) by {}\n",
                c.cap,
                if c.granted { "used" } else { "not granted" },
                c.checks,
                c.denied,
                c.processes.join(", ")
            ));
        }
    }
    for (arch, calls) in &e.syscalls {
        out.push_str(&format!(
            "system calls ({arch}, {}): {}\n",
            calls.len(),
            calls.join(" ")
        ));
    }
    if !e.programs.is_empty() {
        out.push_str(&format!("programs executed: {}\n", e.programs.join(" ")));
    }
    if e.written_paths.is_empty() {
        out.push_str("paths written in the root filesystem: none\n");
    } else {
        out.push_str("paths written in the root filesystem:\n");
        for p in &e.written_paths {
            out.push_str(&format!("  {p}\n"));
        }
    }
    for n in &e.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

fn diff_words(
    name: &str,
    label: &str,
    l: &Learned,
    caps: &BTreeSet<String>,
    scratch: &BTreeSet<String>,
    syscalls: Option<&BTreeSet<String>>,
) -> String {
    let mine_caps = set(&l.capabilities);
    let mine_scratch = set(&l.scratch);
    let list = |s: &BTreeSet<String>| {
        if s.is_empty() {
            "none".to_string()
        } else {
            s.iter().cloned().collect::<Vec<_>>().join(", ")
        }
    };
    let mut out = format!("{name} compared with {label}:\n");
    out.push_str(&format!(
        "  capabilities added: {}\n  capabilities left out: {}\n",
        list(&mine_caps.difference(caps).cloned().collect()),
        list(&caps.difference(&mine_caps).cloned().collect())
    ));
    out.push_str(&format!(
        "  writable directories added: {}\n  writable directories left out: {}\n",
        list(&mine_scratch.difference(scratch).cloned().collect()),
        list(&scratch.difference(&mine_scratch).cloned().collect())
    ));
    if let Some(other) = syscalls {
        let mine = set(&l.syscalls);
        let added: BTreeSet<String> = mine.difference(other).cloned().collect();
        out.push_str(&format!(
            "  system calls: {} allowed; {} of those allowed here are not ({} beyond: {})\n",
            mine.len(),
            other.difference(&mine).count(),
            added.len(),
            list(&added)
        ));
    }
    out.push_str("  the read-only root, the user namespace, no_new_privs and the seccomp baseline stay in both\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_show_and_diff_read_what_learn_mode_writes() {
        let d = tempfile::tempdir().expect("tempdir");
        let start = crate::learn::Start {
            id: "0123456789abcdef".into(),
            name: "app".into(),
            learn_dir: d.path().to_path_buf(),
            audit_log: d.path().join("audit.log"),
            init_pid: 1,
            init_starttime: 1,
            rootfs: d.path().join("none"),
            upperdir: None,
            scratch_mounts: vec!["/tmp".into(), "/run".into()],
            started_ns: 0,
            recorder: None,
        };
        let mut record = crate::learn::Record::default();
        record.capabilities.insert(
            0,
            crate::learn::CapUse {
                granted: 1,
                denied: 0,
                processes: ["chown".to_string()].into(),
            },
        );
        record.syscalls.insert(0);
        let l = crate::learn_profile::Learned::new(&start, &record, vec!["/data/x".into()]);
        l.write(d.path()).expect("write");
        assert_eq!(
            learned_names(d.path()).expect("list"),
            vec!["app".to_string()]
        );
        let read = Learned::read(d.path(), "app").expect("read");
        assert_eq!(read.capabilities, vec!["CHOWN".to_string()]);
        assert!(read.scratch.contains(&"/data".to_string()));
        let words = evidence_words(&read.evidence);
        assert!(
            words.contains("CHOWN") && words.contains("used") && words.contains("/data/x"),
            "{words}"
        );
        let diff = diff_words(
            "app",
            "the built-in defaults",
            &read,
            &BTreeSet::new(),
            &set(&["/tmp", "/run"]),
            Some(&set(crate::seccomp::syscalls::ALLOWED)),
        );
        assert!(diff.contains("capabilities added: CHOWN"), "{diff}");
        assert!(diff.contains("writable directories added: /data"), "{diff}");
        let err = Learned::read(d.path(), "nope")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("no learned profile \"nope\"") && err.contains("learned: app"),
            "{err}"
        );
    }
}
