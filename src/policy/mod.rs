//! The hardening policy: `evaluate(&Policy, &Spec) -> Verdict`.
//!
//! `evaluate` is pure (no I/O, no clock, no globals): spec and policy in, verdict out. Every
//! command that starts a process goes through it (see `crate::pipeline`). The rules that fill
//! the verdict live in `rules/`, one file per rule.

use oci_spec::runtime::Spec;
use serde::Serialize;

/// The operator's policy. Loaded from TOML by the policy engine; the default is what runs with
/// no policy file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {}

/// One change the policy made to the caller's spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub rule: &'static str,
    pub what: String,
}

/// One thing the policy refuses to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub rule: &'static str,
    pub what: String,
    /// The policy key that would allow it.
    pub allow_key: String,
}

/// What the policy decided for one spec.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The spec to run (the caller's, hardened).
    pub spec: Spec,
    pub changes: Vec<Change>,
    pub refusals: Vec<Refusal>,
}

/// Evaluate `spec` against `policy`.
pub fn evaluate(_policy: &Policy, spec: &Spec) -> Verdict {
    Verdict {
        spec: spec.clone(),
        changes: Vec::new(),
        refusals: Vec::new(),
    }
}
