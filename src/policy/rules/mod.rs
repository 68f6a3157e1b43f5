//! The rules, one file each. Each has a stable ID, a one-line title, and an `evaluate` that
//! changes the spec (hardening) and/or reports refusals and warnings. A rule never removes what
//! it refuses: in audit mode the container runs with it, in enforce mode it does not run.

pub mod capabilities;
pub mod cgroup_path;
pub mod devices;
pub mod host_namespaces;
pub mod kernel_paths;
pub mod lsm;
pub mod meta;
pub mod no_new_privileges;
pub mod pids_limit;
pub mod privileged;
pub mod readonly_rootfs;
pub mod seccomp;
pub mod secrets_env;
pub mod sensitive_mounts;
pub mod user_namespace;

use oci_spec::runtime::{Process, Spec};
use serde::{Serialize, Serializer};

use super::{Change, Findings, Refusal, Rules, Warning};
use crate::facts::Facts;

/// The rules' IDs: the names that refusal messages, `check`, the audit log and
/// docs/policy.md use. Each carries its title ([`RuleId::title`]) and its documentation
/// ([`RuleId::meta`]), from which docs/policy.md's rule table is generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleId {
    CgroupPath,
    Privileged,
    UserNamespace,
    Capabilities,
    NoNewPrivileges,
    HostNamespaces,
    SensitiveMounts,
    Devices,
    ReadonlyRootfs,
    PidsLimit,
    Seccomp,
    KernelPaths,
    Lsm,
    SecretsEnv,
    /// Not a rule: the policy's mode (permissive mode's warning).
    Mode,
    /// Not a rule: the profile annotation names no profile of the policy.
    Profile,
}

impl RuleId {
    /// Every rule, in the order the docs list them.
    pub const ALL: &'static [RuleId] = &[
        RuleId::CgroupPath,
        RuleId::UserNamespace,
        RuleId::Privileged,
        RuleId::Capabilities,
        RuleId::NoNewPrivileges,
        RuleId::HostNamespaces,
        RuleId::SensitiveMounts,
        RuleId::Devices,
        RuleId::ReadonlyRootfs,
        RuleId::PidsLimit,
        RuleId::Seccomp,
        RuleId::KernelPaths,
        RuleId::Lsm,
        RuleId::SecretsEnv,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            RuleId::CgroupPath => "cgroup-path",
            RuleId::Privileged => "privileged",
            RuleId::UserNamespace => "user-namespace",
            RuleId::Capabilities => "capabilities",
            RuleId::NoNewPrivileges => "no-new-privileges",
            RuleId::HostNamespaces => "host-namespaces",
            RuleId::SensitiveMounts => "sensitive-mounts",
            RuleId::Devices => "devices",
            RuleId::ReadonlyRootfs => "readonly-rootfs",
            RuleId::PidsLimit => "pids-limit",
            RuleId::Seccomp => "seccomp",
            RuleId::KernelPaths => "kernel-paths",
            RuleId::Lsm => "lsm",
            RuleId::SecretsEnv => "secrets-env",
            RuleId::Mode => "mode",
            RuleId::Profile => "profile",
        }
    }

    /// What the rule gives a container, in one line.
    pub const fn title(self) -> &'static str {
        match self {
            RuleId::CgroupPath => "the container's cgroup is its own, below the hierarchy root and the allowed parents",
            RuleId::Privileged => "no privileged mode",
            RuleId::UserNamespace => "a user namespace with a host ID range of its own",
            RuleId::Capabilities => "capabilities dropped, dangerous ones refused",
            RuleId::NoNewPrivileges => "no_new_privs on every process",
            RuleId::HostNamespaces => "no host namespaces",
            RuleId::SensitiveMounts => "no bind mounts of sensitive host paths",
            RuleId::Devices => "no host devices beyond the standard set",
            RuleId::ReadonlyRootfs => "read-only root filesystem with tmpfs scratch space",
            RuleId::PidsLimit => "pids limit",
            RuleId::Seccomp => "seccomp filter: built-in default, baseline merged into the caller's",
            RuleId::KernelPaths => "masked and read-only kernel paths",
            RuleId::Lsm => "an AppArmor profile on every container, none unconfined",
            RuleId::SecretsEnv => "no secrets in environment variables",
            RuleId::Mode => "the policy's mode",
            RuleId::Profile => "the profile named by the annotation io.hardened.profile",
        }
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<&str> for RuleId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What a rule sees besides the spec.
pub struct Ctx<'a> {
    pub rules: &'a Rules,
    /// The policy file, for messages.
    pub policy_file: String,
    /// The selected profile (None: the defaults).
    pub profile: Option<&'a str>,
    pub container_id: &'a str,
    /// What the pipeline found out about the spec and the host (`crate::facts`).
    pub facts: &'a Facts,
    /// The policy's `allowed_cgroup_parents` (top level: a profile cannot widen it).
    pub cgroup_parents: &'a [String],
    /// The runtime was called with `--systemd-cgroup`.
    pub systemd_cgroup: bool,
    /// Learn mode: the root stays writable (so that writes can be recorded), but the scratch
    /// mounts are still added, so that the container runs as it will under its learned
    /// profile (a `noexec` `/tmp`).
    pub learning: bool,
}

impl Ctx<'_> {
    /// How to name the key `key = value` that would allow something.
    pub fn allow(&self, setting: &str) -> String {
        let table = match self.profile {
            Some(p) => format!("[profiles.{p}]"),
            None => "[defaults] (or in a profile selected with the annotation io.hardened.profile)"
                .to_string(),
        };
        format!("{setting} in {table} of {}", self.policy_file)
    }
}

/// Collects one rule's findings under its ID.
pub struct Out<'a> {
    rule: RuleId,
    findings: &'a mut Findings,
}

impl Out<'_> {
    pub fn change(&mut self, what: impl Into<String>) {
        self.findings.changes.push(Change {
            rule: self.rule,
            what: what.into(),
        });
    }

    pub fn refuse(&mut self, what: impl Into<String>, allow: impl Into<String>) {
        self.findings.refusals.push(Refusal {
            rule: self.rule,
            what: what.into(),
            allow: allow.into(),
            in_every_mode: false,
        });
    }

    /// A refusal that protects the host: it stops the container in every mode.
    pub fn refuse_in_every_mode(&mut self, what: impl Into<String>, allow: impl Into<String>) {
        self.findings.refusals.push(Refusal {
            rule: self.rule,
            what: what.into(),
            allow: allow.into(),
            in_every_mode: true,
        });
    }

    pub fn warn(&mut self, what: impl Into<String>) {
        self.findings.warnings.push(Warning {
            rule: self.rule,
            what: what.into(),
        });
    }
}

/// A container rule.
pub struct Rule {
    pub id: RuleId,
    pub evaluate: fn(&Ctx, &mut Spec, &mut Out),
}

/// The rules that protect the host rather than harden the container: they run for every
/// container, in every mode (permissive included) and whatever the profile allows, and their
/// refusals always stop the container.
pub const HOST_SAFETY_RULES: &[Rule] = &[cgroup_path::RULE];

/// Run the host-safety rules on `spec`.
pub fn run_host_safety(ctx: &Ctx, spec: &mut Spec) -> Findings {
    let mut findings = Findings::default();
    run_each(HOST_SAFETY_RULES, ctx, spec, &mut findings);
    findings
}

fn run_each(rules: &[Rule], ctx: &Ctx, spec: &mut Spec, findings: &mut Findings) {
    for rule in rules {
        let mut out = Out {
            rule: rule.id,
            findings,
        };
        (rule.evaluate)(ctx, spec, &mut out);
    }
}

/// Every container hardening rule, in the order they run (after the host-safety rules).
pub const RULES: &[Rule] = &[
    privileged::RULE,
    user_namespace::RULE,
    capabilities::RULE,
    no_new_privileges::RULE,
    host_namespaces::RULE,
    sensitive_mounts::RULE,
    devices::RULE,
    readonly_rootfs::RULE,
    pids_limit::RULE,
    seccomp::RULE,
    kernel_paths::RULE,
    lsm::RULE,
    secrets_env::RULE,
];

/// Run every rule on `spec`.
pub fn run(ctx: &Ctx, spec: &mut Spec) -> Findings {
    let mut findings = Findings::default();
    if ctx.facts.spec.privileged && ctx.rules.allow_privileged {
        findings.warnings.push(Warning {
            rule: RuleId::Privileged,
            what: "privileged container allowed by policy (allow_privileged): it runs as asked, without hardening".into(),
        });
        return findings;
    }
    if ctx.facts.spec.privileged {
        // A privileged config switches every wall off; it is refused as one thing (the other
        // rules would list every capability and host device), and in audit mode it runs as
        // asked: it cannot be partly hardened.
        run_each(&[privileged::RULE], ctx, spec, &mut findings);
        return findings;
    }
    run_each(RULES, ctx, spec, &mut findings);
    findings
}

/// A rule for the process of an `exec`.
type ExecRule = (RuleId, fn(&Ctx, &Spec, &mut Process, &mut Out));

/// The rules that apply to an `exec`'d process, in the order they run.
const EXEC_RULES: &[ExecRule] = &[
    (RuleId::Capabilities, capabilities::evaluate_exec),
    (RuleId::NoNewPrivileges, |ctx, _, p, out| {
        no_new_privileges::evaluate_process(ctx, p, out)
    }),
    (RuleId::Lsm, lsm::evaluate_exec),
    (RuleId::SecretsEnv, |ctx, _, p, out| {
        secrets_env::evaluate_process(ctx, p, out)
    }),
];

/// Run the rules that apply to an `exec`'d process of a container whose spec is `container`.
pub fn run_exec(ctx: &Ctx, container: &Spec, process: &mut Process) -> Findings {
    let mut findings = Findings::default();
    if crate::facts::asks_every_capability(process) && !ctx.rules.allow_privileged {
        let mut out = Out {
            rule: RuleId::Privileged,
            findings: &mut findings,
        };
        out.refuse(
            "a privileged exec: the process asks for every capability (docker exec --privileged)",
            ctx.allow("allow_privileged = true"),
        );
        return findings;
    }
    for (rule, evaluate) in EXEC_RULES {
        let mut out = Out {
            rule: *rule,
            findings: &mut findings,
        };
        evaluate(ctx, container, process, &mut out);
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rule that runs has an ID in `RuleId::ALL`, and every ID there runs.
    #[test]
    fn the_rule_tables_and_the_ids_agree() {
        let mut running: Vec<RuleId> = HOST_SAFETY_RULES.iter().map(|r| r.id).collect();
        running.extend(RULES.iter().map(|r| r.id));
        running.sort();
        let mut all = RuleId::ALL.to_vec();
        all.sort();
        assert_eq!(running, all);
    }
}
