//! `hardened check BUNDLE|config.json`: a dry run of the pipeline. Prints every change,
//! refusal and warning `create` would make; nothing is created and nothing is logged to the
//! audit log. Exits 1 when the config would be refused.

use std::path::Path;

use anyhow::Result;

use crate::cli::Check;
use crate::pipeline;
use crate::policy::{self, Input, Policy};

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
    let mut unsafe_msg = None;
    if let Some(p) = spec.process() {
        if let Err(e) = pipeline::check_process_safety(p) {
            unsafe_msg = Some(e.to_string());
        }
    }
    if unsafe_msg.is_none() {
        unsafe_msg = crate::gaps::namespaces::validate(&spec)
            .err()
            .map(|e| e.to_string());
    }
    let mut host = pipeline::host_facts(&spec);
    if pipeline::wants_userns(policy, &spec, &host) {
        // The range create would most likely get (nothing is allocated).
        let pool = crate::userns::alloc::pool_of(&policy.user_namespace)?;
        host.userns_range = crate::userns::alloc::peek(root, pool).or_else(|| Some(pool.range(0)));
    }
    let input = Input {
        spec: &spec,
        container_id: &a.id,
        host,
        systemd_cgroup,
    };
    let v = policy::evaluate(policy, &input);
    let allowed = v.allowed() && unsafe_msg.is_none();
    if a.json {
        let doc = serde_json::json!({
            "policy": policy.file_name(),
            "mode": v.mode,
            "profile": v.profile,
            "allowed": allowed,
            "runtimeCheck": unsafe_msg,
            "changes": v.changes,
            "refusals": v.refusals,
            "warnings": v.warnings,
            "spec": v.spec,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!(
            "policy:  {}\nmode:    {}\nprofile: {}",
            policy.file_name(),
            serde_json::to_value(v.mode)?.as_str().unwrap_or("?"),
            v.profile.as_deref().unwrap_or("(defaults)")
        );
        if let Some(m) = &unsafe_msg {
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
    }
    Ok(if allowed { 0 } else { 1 })
}
