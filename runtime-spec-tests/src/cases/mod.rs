//! The cases, one module per area of the specification.

use anyhow::Result;

use crate::harness::Ctx;

mod cgroups;
mod config;
mod devices;
mod hooks;
mod lifecycle;
mod mounts;
mod namespaces;
mod process;
mod seccomp;
mod security;

pub type CaseFn = fn(&mut Ctx<'_>) -> Result<()>;

pub struct Case {
    /// `area/what`.
    pub name: &'static str,
    /// The sentence of the specification the case checks (document: sentence).
    pub spec: &'static str,
    pub run: CaseFn,
}

impl Case {
    pub fn new(name: &'static str, spec: &'static str, run: CaseFn) -> Case {
        Case { name, spec, run }
    }
}

pub fn all() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(lifecycle::cases());
    v.extend(config::cases());
    v.extend(process::cases());
    v.extend(mounts::cases());
    v.extend(namespaces::cases());
    v.extend(cgroups::cases());
    v.extend(security::cases());
    v.extend(devices::cases());
    v.extend(seccomp::cases());
    v.extend(hooks::cases());
    v
}
