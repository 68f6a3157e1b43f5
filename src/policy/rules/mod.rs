//! The rules, one file each. Each has a stable ID, a one-line title, and an `evaluate` that
//! changes the spec (hardening) and/or reports refusals and warnings. A rule never removes what
//! it refuses: in audit mode the container runs with it, in enforce mode it does not run.

pub mod capabilities;
pub mod cgroup_path;
pub mod devices;
pub mod host_namespaces;
pub mod kernel_paths;
pub mod lsm;
pub mod no_new_privileges;
pub mod pids_limit;
pub mod privileged;
pub mod readonly_rootfs;
pub mod seccomp;
pub mod secrets_env;
pub mod sensitive_mounts;
pub mod user_namespace;

use oci_spec::runtime::{Process, Spec};

use super::{Change, Findings, HostFacts, Refusal, Rules, Warning};

/// What a rule sees besides the spec.
pub struct Ctx<'a> {
    pub rules: &'a Rules,
    /// The policy file, for messages.
    pub policy_file: String,
    /// The selected profile (None: the defaults).
    pub profile: Option<&'a str>,
    pub container_id: &'a str,
    pub host: &'a HostFacts,
    /// The policy's `allowed_cgroup_parents` (top level: a profile cannot widen it).
    pub cgroup_parents: &'a [String],
    /// The runtime was called with `--systemd-cgroup`.
    pub systemd_cgroup: bool,
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
    rule: &'static str,
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
    pub id: &'static str,
    pub title: &'static str,
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
    if privileged::is_privileged(spec) && ctx.rules.allow_privileged {
        findings.warnings.push(Warning {
            rule: privileged::ID,
            what: "privileged container allowed by policy (allow_privileged): it runs as asked, without hardening".into(),
        });
        return findings;
    }
    if privileged::is_privileged(spec) {
        // A privileged config switches every wall off; it is refused as one thing (the other
        // rules would list every capability and host device), and in audit mode it runs as
        // asked: it cannot be partly hardened.
        let mut out = Out {
            rule: privileged::ID,
            findings: &mut findings,
        };
        (privileged::RULE.evaluate)(ctx, spec, &mut out);
        return findings;
    }
    run_each(RULES, ctx, spec, &mut findings);
    findings
}

/// Run the rules that apply to an `exec`'d process of a container whose spec is `container`.
pub fn run_exec(ctx: &Ctx, container: &Spec, process: &mut Process) -> Findings {
    let mut findings = Findings::default();
    let all = capabilities::requested(Some(process));
    if capabilities::classic().iter().all(|c| all.contains(c)) && !ctx.rules.allow_privileged {
        let mut out = Out {
            rule: privileged::ID,
            findings: &mut findings,
        };
        out.refuse(
            "a privileged exec: the process asks for every capability (docker exec --privileged)",
            ctx.allow("allow_privileged = true"),
        );
        return findings;
    }
    let mut out = Out {
        rule: capabilities::ID,
        findings: &mut findings,
    };
    capabilities::evaluate_exec(ctx, container, process, &mut out);
    let mut out = Out {
        rule: no_new_privileges::ID,
        findings: &mut findings,
    };
    no_new_privileges::evaluate_process(ctx, process, &mut out);
    let mut out = Out {
        rule: lsm::ID,
        findings: &mut findings,
    };
    lsm::evaluate_process(ctx, process, &mut out);
    let mut out = Out {
        rule: secrets_env::ID,
        findings: &mut findings,
    };
    secrets_env::evaluate_process(ctx, process, &mut out);
    findings
}

/// Whether the spec was made by dockerd: Docker always adds its `libnetwork-setkey` prestart
/// hook. Docker also always sends its default seccomp profile and masked paths unless the user
/// opted out (`--security-opt seccomp=unconfined`, `systempaths=unconfined`, `--privileged`),
/// so for Docker an absent one is an explicit opt-out.
pub fn made_by_docker(spec: &Spec) -> bool {
    let Some(hooks) = spec.hooks() else {
        return false;
    };
    [hooks.prestart(), hooks.create_runtime()]
        .into_iter()
        .flatten()
        .flatten()
        .any(|h| {
            h.args()
                .as_ref()
                .and_then(|a| a.first())
                .is_some_and(|a| a == "libnetwork-setkey")
        })
}
