//! Gap: libcontainer 0.7 accepts duplicated namespace types.
//!
//! - **Restores**: config-linux.md Namespaces: "If a namespaces field contains duplicated
//!   namespaces with same type, the runtime MUST generate an error."
//! - **Proved by**: `duplicate_namespace_types_are_refused_with_their_name` (src/gaps/tests.rs);
//!   conformance case `namespaces/duplicate-type-errors` (runtime-spec-tests/).
//! - **Goes when**: libcontainer's spec validation refuses duplicated namespace types.
//!
//! Runs in the pipeline (pure): nothing is created when it fails. Absurd sizes
//! (`crate::limits`) are refused first.

use std::collections::BTreeSet;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

/// Why a spec is refused before anything is created. The message names what is wrong and how
/// to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSpec {
    /// A size or path `crate::limits` refuses.
    #[error("{0}")]
    Limits(String),
    #[error("linux.namespaces lists the {0} namespace more than once (config-linux.md: duplicated namespace types MUST generate an error): keep one \"{0}\" entry")]
    DuplicateNamespace(String),
}

/// Spec checks libcontainer 0.7 leaves out.
pub fn validate(spec: &Spec) -> Result<(), InvalidSpec> {
    crate::limits::validate(spec).map_err(InvalidSpec::Limits)?;
    let mut seen = BTreeSet::new();
    for ns in spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
    {
        let name = namespace_name(ns.typ());
        if !seen.insert(name.clone()) {
            return Err(InvalidSpec::DuplicateNamespace(name));
        }
    }
    Ok(())
}

/// The spec's name of a namespace type (`network`, `mount`, ...).
fn namespace_name(t: LinuxNamespaceType) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| format!("{t:?}").to_lowercase())
}
