//! `hardened explain ID|--last`: what the hardening denied to a container's programs, and the
//! policy key that would allow each (`crate::hints`). A running container's hints are read from
//! the kernel now; a deleted one's from the audit log, where `delete` wrote them.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::cli::Explain;
use crate::hints::Hint;
use crate::policy::Policy;

pub fn explain(policy: &Policy, root: &Path, args: &Explain) -> Result<i32> {
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let log = audit_lines(&policy.audit_log)?;
    let id = match (&args.id, args.last) {
        (Some(id), _) => id.clone(),
        (None, _) => last_with_hints(&log).with_context(|| {
            format!(
                "no container has hints in the audit log {}: nothing the hardening follows was denied since it began",
                policy.audit_log.display()
            )
        })?,
    };
    let (hints, state) = match crate::hints::peek(&root, &id) {
        Ok(Some((hints, _lost))) => (hints, "running"),
        _ => {
            let hints = hints_in_log(&log, &id);
            if hints.is_empty() && !log.iter().any(|l| l["id"] == id.as_str()) {
                bail!(
                    "container {id} is not in the audit log {} and is not followed: check the id (`hardened list`), and that this is the policy the container ran under (--policy)",
                    policy.audit_log.display()
                );
            }
            (hints, "deleted")
        }
    };
    if args.json {
        for h in &hints {
            println!("{}", serde_json::to_string(h)?);
        }
        return Ok(0);
    }
    print!("{}", words(&id, state, &hints));
    if hints.is_empty() && !policy.hints {
        println!(
            "Hints are off in {}: set hints = true to follow containers (docs/learn.md).",
            policy.file_name()
        );
    }
    Ok(0)
}

/// The hints in words an operator reads once.
pub fn words(id: &str, state: &str, hints: &[Hint]) -> String {
    if hints.is_empty() {
        return format!(
            "container {id} ({state}): no hints: no capability check of its programs failed.\n\
             If it still fails, a write to the read-only root or a system call the seccomp profile refuses may be why: \
             learn mode records both (docs/learn.md).\n"
        );
    }
    let mut out = format!(
        "container {id} ({state}): the hardening denied {} thing(s) to its programs\n",
        hints.len()
    );
    for h in hints {
        out.push_str(&format!("\n- {}\n  to allow it: {}\n", h.what, h.allow));
    }
    out
}

/// The audit log's records (lines that are not JSON are skipped).
fn audit_lines(path: &Path) -> Result<Vec<serde_json::Value>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("read the audit log {}", path.display())),
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// The hints of `id`'s last life in the log: those after its last `create`.
fn hints_in_log(log: &[serde_json::Value], id: &str) -> Vec<Hint> {
    let mine: Vec<&serde_json::Value> = log.iter().filter(|l| l["id"] == id).collect();
    let from = mine
        .iter()
        .rposition(|l| l["command"] == "create")
        .unwrap_or(0);
    mine[from..]
        .iter()
        .filter(|l| l["decision"] == "hint")
        .filter_map(|l| serde_json::from_value(l["hint"].clone()).ok())
        .collect()
}

fn last_with_hints(log: &[serde_json::Value]) -> Option<String> {
    log.iter()
        .rev()
        .find(|l| l["decision"] == "hint")
        .and_then(|l| l["id"].as_str())
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &str) -> serde_json::Value {
        serde_json::from_str(s).expect("json")
    }

    #[test]
    fn a_deleted_containers_last_life_is_explained() {
        let hint = r#"{"kind":"capability","denied":"CHOWN","processes":["chown"],"count":2,"what":"CAP_CHOWN was denied 2 time(s) to chown","allow":"allow_capabilities = [\"CHOWN\"]"}"#;
        let log = vec![
            line(r#"{"command":"create","id":"a","decision":"allowed"}"#),
            line(&format!(
                r#"{{"command":"delete","id":"a","decision":"hint","hint":{hint}}}"#
            )),
            line(r#"{"command":"create","id":"a","decision":"allowed"}"#),
            line(&format!(
                r#"{{"command":"delete","id":"a","decision":"hint","hint":{hint}}}"#
            )),
            line(r#"{"command":"create","id":"b","decision":"allowed"}"#),
        ];
        let hints = hints_in_log(&log, "a");
        assert_eq!(hints.len(), 1, "only the last life's");
        assert_eq!(last_with_hints(&log).as_deref(), Some("a"));
        let text = words("a", "deleted", &hints);
        assert!(
            text.contains("CAP_CHOWN was denied 2 time(s) to chown"),
            "{text}"
        );
        assert!(text.contains("to allow it: allow_capabilities"), "{text}");
        assert!(hints_in_log(&log, "b").is_empty());
        assert!(words("b", "deleted", &[]).contains("no hints"));
    }
}
