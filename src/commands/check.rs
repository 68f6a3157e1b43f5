//! `hardened check BUNDLE|config.json`: `create`'s own plan (`pipeline::plan`) as a dry run.
//! Prints every change, refusal and warning `create` would make, and the runtime check it would
//! stop at; nothing is created or allocated and nothing is logged to the audit log. Exits 1
//! when the config would be refused.

use std::path::Path;

use anyhow::Result;

use crate::cli::Check;
use crate::pipeline;
use crate::policy::{Policy, Verdict};

pub fn check(policy: &Policy, root: &Path, systemd_cgroup: bool, a: &Check) -> Result<i32> {
    let path: &Path = &a.path;
    let spec = if path.is_dir() {
        crate::bundle::load_spec(path)?
    } else {
        crate::bundle::load_spec_file(
            path,
            "config",
            "give an OCI bundle directory or a config.json",
        )?
    };
    let req = pipeline::Request {
        id: &a.id,
        bundle: path.is_dir().then_some(path),
        root,
        systemd_cgroup,
    };
    // The very plan `create` makes, without its side effects (nothing allocated or logged).
    let plan = pipeline::plan(policy, &spec, &req, pipeline::Effects::DryRun)?;
    let unsafe_msg = plan.runtime_check.map(|e| e.to_string());
    let v = plan.verdict;
    let allowed = v.allowed() && unsafe_msg.is_none();
    let apparmor = pipeline::apparmor_of(&v.hardened, crate::lsm::apparmor::host_enabled());
    if a.json {
        let doc = serde_json::json!({
            "policy": policy.file_name(),
            "policyVersion": policy.version,
            "mode": v.mode,
            "profile": v.profile,
            "apparmor": apparmor,
            "allowed": allowed,
            "runtimeCheck": unsafe_msg,
            "changes": v.changes,
            "refusals": v.refusals,
            "warnings": v.warnings,
            "spec": v.hardened,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_text(policy, &v, unsafe_msg.as_deref(), allowed, &apparmor)?;
    }
    Ok(if allowed { 0 } else { 1 })
}

/// The verdict for a terminal.
fn print_text(
    policy: &Policy,
    v: &Verdict,
    unsafe_msg: Option<&str>,
    allowed: bool,
    apparmor: &str,
) -> Result<()> {
    println!(
        "policy:  {} (version {})\nmode:    {}\nprofile: {}\napparmor: {apparmor}",
        policy.file_name(),
        policy.version,
        serde_json::to_value(v.mode)?.as_str().unwrap_or("?"),
        v.profile.as_deref().unwrap_or("(defaults)")
    );
    if let Some(m) = unsafe_msg {
        println!("runtime check failed: {m}");
    }
    println!("changes ({}):", v.changes.len());
    for c in &v.changes {
        println!("  [{}] {}", c.rule, c.what);
    }
    println!("refusals ({}):", v.refusals.len());
    for r in &v.refusals {
        println!(
            "  [{}] {}\n      to allow it, set {}",
            r.rule, r.what, r.allow
        );
    }
    println!("warnings ({}):", v.warnings.len());
    for w in &v.warnings {
        println!("  [{}] {}", w.rule, w.what);
    }
    println!(
        "verdict: {}",
        match (allowed, v.refusals.is_empty()) {
            (true, true) => "would run (hardened as above)",
            (true, false) => "would run (audit mode: enforce would refuse it)",
            (false, _) => "would be refused",
        }
    );
    Ok(())
}
