//! `hardened check` is `create`'s own dry run: the same configs fed to both get the same
//! answer. For each config below, `check --json` says whether it would run and which rules
//! refuse it; `create` with the same policy must then succeed exactly when check said so, and
//! fail naming the same rules (or the same runtime check). Configs that create accepts are
//! created (never started) and deleted again.
//!
//! Safety: every config keeps the busybox bundle's own namespaces and default cgroup; the only
//! cgroupsPath changed is `/`, which both must refuse before anything is made.

mod common;

use std::process::{Command, Stdio};

use common::{run, unique, Out, Sandbox};
use serde_json::Value;

/// One config: a name, the sandbox policy it is checked and created under, a jq edit of the
/// busybox bundle's config.json.
struct Case {
    name: &'static str,
    policy: &'static str,
    edit: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "defaults",
        policy: "enforce",
        edit: ".",
    },
    Case {
        name: "privileged",
        policy: "enforce",
        edit: r#".process.capabilities = ({} | .bounding = ["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_DAC_READ_SEARCH","CAP_FOWNER","CAP_FSETID","CAP_KILL","CAP_SETGID","CAP_SETUID","CAP_SETPCAP","CAP_LINUX_IMMUTABLE","CAP_NET_BIND_SERVICE","CAP_NET_BROADCAST","CAP_NET_ADMIN","CAP_NET_RAW","CAP_IPC_LOCK","CAP_IPC_OWNER","CAP_SYS_MODULE","CAP_SYS_RAWIO","CAP_SYS_CHROOT","CAP_SYS_PTRACE","CAP_SYS_PACCT","CAP_SYS_ADMIN","CAP_SYS_BOOT","CAP_SYS_NICE","CAP_SYS_RESOURCE","CAP_SYS_TIME","CAP_SYS_TTY_CONFIG","CAP_MKNOD","CAP_LEASE","CAP_AUDIT_WRITE","CAP_AUDIT_CONTROL","CAP_SETFCAP","CAP_MAC_OVERRIDE","CAP_MAC_ADMIN","CAP_SYSLOG","CAP_WAKE_ALARM","CAP_BLOCK_SUSPEND","CAP_AUDIT_READ"] | .effective = .bounding | .permitted = .bounding)"#,
    },
    Case {
        name: "net-admin-enforce",
        policy: "enforce",
        edit: r#".process.capabilities.bounding += ["CAP_NET_ADMIN"]"#,
    },
    Case {
        name: "net-admin-audit",
        policy: "audit",
        edit: r#".process.capabilities.bounding += ["CAP_NET_ADMIN"]"#,
    },
    Case {
        name: "cwd-proc-fd",
        policy: "enforce",
        edit: r#".process.cwd = "/proc/self/fd/3""#,
    },
    Case {
        name: "seccomp-errno-on-kill",
        policy: "enforce",
        edit: r#".linux.seccomp = {"defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 1}"#,
    },
    Case {
        name: "missing-netns",
        policy: "enforce",
        edit: r#".linux.namespaces |= map(if .type == "network" then .path = "/nonexistent-netns-dryrun" else . end)"#,
    },
    Case {
        name: "root-cgroup-permissive",
        policy: "permissive",
        edit: r#".linux.cgroupsPath = "/""#,
    },
];

/// What `check --json` said.
struct Checked {
    allowed: bool,
    refused_rules: Vec<String>,
    runtime_check: Option<String>,
}

fn check(sb: &Sandbox, policy: &str, bundle: &std::path::Path, id: &str) -> Checked {
    let out = run(sb
        .hardened_with(policy)
        .args(["check", "--json", "--id", id])
        .arg(bundle));
    assert!(
        matches!(out.code, Some(0 | 1)),
        "check exits 0 or 1: {out:?}"
    );
    let doc: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("check --json is not JSON ({e}): {out:?}"));
    assert_eq!(
        doc["allowed"].as_bool(),
        Some(out.code == Some(0)),
        "check's exit code and its verdict agree: {out:?}"
    );
    let refused_rules = doc["refusals"]
        .as_array()
        .expect("refusals")
        .iter()
        .map(|r| r["rule"].as_str().expect("rule").to_string())
        .collect();
    Checked {
        allowed: out.code == Some(0),
        refused_rules,
        runtime_check: doc["runtimeCheck"].as_str().map(str::to_string),
    }
}

fn create(sb: &Sandbox, policy: &str, bundle: &std::path::Path, id: &str) -> Out {
    // The container is created, never started: its stdio must not hold our pipes.
    let err = tempfile::NamedTempFile::new_in(sb.dir.path()).expect("stderr file");
    let status = Command::new("timeout")
        .args(["-k", "5", "30"])
        .arg(common::hardened_bin())
        .arg("--root")
        .arg(sb.root())
        .arg("--policy")
        .arg(sb.policy(policy))
        .args(["--log-format", "json", "create", "-b"])
        .arg(bundle)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err.reopen().expect("reopen stderr"))
        .status()
        .expect("run create");
    // The error lines' messages, unescaped.
    let log = std::fs::read_to_string(err.path()).unwrap_or_default();
    let messages: Vec<String> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["msg"].as_str().map(str::to_string))
        .collect();
    Out {
        code: status.code(),
        stdout: String::new(),
        stderr: messages.join("\n"),
    }
}

#[test]
fn check_and_create_give_the_same_answer() {
    common::require_root();
    let sb = Sandbox::new();
    let mut disagreements = Vec::new();
    for case in CASES {
        let bundle = sb.bundle(case.name, &["true"]);
        sb.edit_config(&bundle, case.edit);
        let id = unique(&format!("dry-{}", case.name));
        let checked = check(&sb, case.policy, &bundle, &id);
        let created = create(&sb, case.policy, &bundle, &id);
        if created.ok() {
            let out = run(sb.hardened().args(["delete", "--force", &id]));
            assert!(out.ok(), "delete {id}: {out:?}");
        }
        if checked.allowed != created.ok() {
            disagreements.push(format!(
                "{}: check says {}, create {}: {}",
                case.name,
                if checked.allowed {
                    "it runs"
                } else {
                    "refused"
                },
                if created.ok() { "succeeded" } else { "failed" },
                created.stderr.trim()
            ));
            continue;
        }
        if created.ok() {
            continue;
        }
        // Refused by both: for the same reasons.
        if let Some(why) = &checked.runtime_check {
            assert!(
                created.stderr.contains(why.as_str()),
                "{}: create fails with check's runtime check {why:?}: {created:?}",
                case.name
            );
        } else {
            assert!(!checked.refused_rules.is_empty(), "{}: a reason", case.name);
            for rule in &checked.refused_rules {
                assert!(
                    created.stderr.contains(&format!("[rule {rule}]")),
                    "{}: create names rule {rule} as check does: {created:?}",
                    case.name
                );
            }
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

/// The cases are not all one answer: the test would pass vacuously otherwise.
#[test]
fn the_cases_cover_both_answers_and_every_reason() {
    common::require_root();
    let sb = Sandbox::new();
    let mut seen = (false, false, false, false);
    for case in CASES {
        let bundle = sb.bundle(case.name, &["true"]);
        sb.edit_config(&bundle, case.edit);
        let c = check(&sb, case.policy, &bundle, &unique("dry-cover"));
        seen.0 |= c.allowed;
        seen.1 |= !c.allowed && c.runtime_check.is_none();
        seen.2 |= c.runtime_check.is_some();
        seen.3 |= c.allowed && !c.refused_rules.is_empty();
    }
    assert_eq!(
        seen,
        (true, true, true, true),
        "(runs, refused by a rule, stopped by a runtime check, runs in audit mode despite a refusal)"
    );
}
