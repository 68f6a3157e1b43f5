//! The hardening policy: `evaluate(&Policy, &Input) -> Verdict`.
//!
//! `evaluate` is pure (no I/O, no clock, no globals): policy and spec in, verdict out. Every
//! command that starts a process goes through it (see `crate::pipeline`); `hardened check`
//! shows exactly what `create` would do. The rules live in `rules/`, one file per rule.

pub mod builtin;
pub mod load;
pub mod rules;

use std::collections::BTreeMap;
use std::path::PathBuf;

use oci_spec::runtime::{Process, Spec};
use serde::{Deserialize, Serialize};

pub use crate::facts::{Facts, HostFacts};
pub use load::{load, load_argument, load_file, LoadError, DEFAULT_POLICY_PATH};
pub use rules::RuleId;

/// The annotation that selects a profile of the operator's policy.
pub const PROFILE_ANNOTATION: &str = "io.hardened.profile";

/// How the policy is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Harden, and refuse what the policy does not allow.
    #[default]
    Enforce,
    /// Harden what can be hardened, run what enforce would refuse, and log it.
    Audit,
    /// No hardening at all (conformance testing, debugging); loudly logged.
    Permissive,
    /// Run with what costs no compatibility kept, record what the container uses, and write a
    /// least-privilege profile of it at delete (`crate::learn`).
    Learn,
}

/// What to do with environment variables whose names look like secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SecretAction {
    Ignore,
    #[default]
    Warn,
    Refuse,
}

/// The rule settings: the `[defaults]` table of the policy file, and what a profile overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// Run privileged configs (every capability, `--privileged`) as asked, unhardened.
    pub allow_privileged: bool,
    /// Capabilities a container keeps when its config asks for them (e.g. "NET_BIND_SERVICE").
    pub allow_capabilities: Vec<String>,
    /// Host namespaces a container may share: "pid", "network", "ipc", "uts", "mount".
    pub allow_host_namespaces: Vec<String>,
    /// Sensitive host paths that may be bind-mounted (the path and everything below it).
    pub allow_mounts: Vec<PathBuf>,
    /// Host devices a container may be given (e.g. "/dev/fuse").
    pub allow_devices: Vec<PathBuf>,
    /// Run a container without a seccomp filter when its config explicitly has none.
    pub allow_unconfined_seccomp: bool,
    /// Run a container whose AppArmor/SELinux profile is unconfined.
    pub allow_unconfined_lsm: bool,
    /// The AppArmor profile a container gets on an AppArmor host when its config names none
    /// ("hardened-default": the runtime's own, loaded when the kernel lacks it; any other must
    /// be loaded already).
    pub apparmor_profile: String,
    /// Run a container without masked and read-only kernel paths (`systempaths=unconfined`).
    pub allow_unconfined_systempaths: bool,
    /// Force `no_new_privs` on every process.
    pub no_new_privileges: bool,
    /// Force a read-only root filesystem.
    pub readonly_rootfs: bool,
    /// Writable tmpfs mounts added to a read-only root (`nosuid,nodev,noexec`).
    pub scratch_mounts: Vec<PathBuf>,
    /// Size of each scratch tmpfs (tmpfs `size=` syntax).
    pub scratch_size: String,
    /// pids limit set when the config has none.
    pub pids_limit: i64,
    /// Highest pids limit a config may ask for; higher (or unlimited) is lowered to it.
    pub pids_max: i64,
    /// Environment variables whose names look like secrets: "warn", "refuse" or "ignore".
    pub secrets_in_env: SecretAction,
    /// Glob patterns (`*` only, case-insensitive) of secret-looking variable names.
    pub secret_patterns: Vec<String>,
    /// Give a container that has no user namespace one of its own, with a host ID range of its
    /// own and an idmapped root filesystem.
    pub user_namespace: bool,
    /// A seccomp profile (an OCI `linux.seccomp` object in a JSON file; relative to the file
    /// that names it) that replaces the caller's, with the baseline merged in.
    pub seccomp_profile: Option<PathBuf>,
    /// That profile, read when the policy is loaded (`evaluate` does no I/O).
    #[serde(skip)]
    pub seccomp_loaded: Option<LoadedSeccomp>,
    /// Run a container whose (engine-given) user namespace maps host uid or gid 0.
    pub allow_host_root_mapping: bool,
}

impl Rules {
    /// `scratch_mounts` as strings (for messages and comparisons).
    pub fn scratch_mounts_strings(&self) -> Vec<String> {
        self.scratch_mounts
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            allow_privileged: false,
            allow_capabilities: Vec::new(),
            allow_host_namespaces: Vec::new(),
            allow_mounts: Vec::new(),
            allow_devices: Vec::new(),
            allow_unconfined_seccomp: false,
            allow_unconfined_lsm: false,
            apparmor_profile: crate::lsm::apparmor::DEFAULT_PROFILE.to_string(),
            allow_unconfined_systempaths: false,
            no_new_privileges: true,
            readonly_rootfs: true,
            scratch_mounts: vec![PathBuf::from("/tmp"), PathBuf::from("/run")],
            scratch_size: "64m".into(),
            pids_limit: 1024,
            pids_max: 4096,
            secrets_in_env: SecretAction::Warn,
            secret_patterns: [
                "*PASSWORD*",
                "*PASSWD*",
                "*SECRET*",
                "*TOKEN*",
                "*_KEY",
                "*API_KEY*",
                "*PRIVATE_KEY*",
                "*CREDENTIAL*",
            ]
            .map(String::from)
            .to_vec(),
            user_namespace: true,
            allow_host_root_mapping: false,
            seccomp_profile: None,
            seccomp_loaded: None,
        }
    }
}

/// A seccomp profile read from the file a policy's `seccomp_profile` names.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSeccomp(pub oci_spec::runtime::LinuxSeccomp);

// The profile is plain data (no floats): equality is total.
impl Eq for LoadedSeccomp {}

/// What to do with a bind mount whose filesystem cannot be idmapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Unmappable {
    /// Mount it read-only (the container's root cannot write files it would not own).
    #[default]
    Readonly,
    /// Refuse the container.
    Refuse,
}

/// Where the per-container host ID ranges come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsernsPool {
    /// First host ID of the pool.
    pub start: u32,
    /// Number of 65536-ID ranges in the pool.
    pub ranges: u32,
    /// Take the pool from this user's `/etc/subuid` and `/etc/subgid` entries instead.
    pub subid_user: Option<String>,
    /// Bind mounts that cannot be idmapped: "readonly" or "refuse".
    pub unmappable_mounts: Unmappable,
}

impl Default for UsernsPool {
    fn default() -> Self {
        UsernsPool {
            start: 1_000_000_000,
            ranges: 16384,
            subid_user: None,
            unmappable_mounts: Unmappable::Readonly,
        }
    }
}

/// The policy versions this binary knows (the top-level key `version`). A version pins the
/// rules' behaviour: when an upgrade changes what a rule changes or refuses, the new behaviour
/// gets a new version, and a file that names an older one keeps the older behaviour.
pub const POLICY_VERSIONS: &[u32] = &[1];
/// The version of a file without a `version` key: the newest this binary knows.
pub const CURRENT_POLICY_VERSION: u32 = 1;

/// Where learned profiles are written when the policy names no `learn_dir`.
pub const DEFAULT_LEARN_DIR: &str = "/var/lib/hardened/learned";

/// Where a profile of the policy was defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileSource {
    /// A `[profiles.NAME]` table of the policy file itself.
    Policy,
    /// A `[profiles.NAME]` table of this file of a `profile_dirs` directory.
    File(PathBuf),
    /// A built-in profile the policy enables in `builtin_profiles`.
    Builtin,
}

impl ProfileSource {
    /// Where it was defined, in words, for `policy` (whose file is `policy_file`).
    pub fn describe(&self, policy_file: &str) -> String {
        match self {
            ProfileSource::Policy => policy_file.to_string(),
            ProfileSource::File(f) => format!("{} (profile_dirs)", f.display()),
            ProfileSource::Builtin => "built-in (builtin_profiles)".to_string(),
        }
    }
}

/// The operator's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// The rules' version (`version`; default: [`CURRENT_POLICY_VERSION`]).
    pub version: u32,
    pub mode: Mode,
    /// Where every decision is logged, one JSON line each.
    pub audit_log: PathBuf,
    /// Where learn mode writes the profiles it learned (`hardened profile` reads them there).
    pub learn_dir: PathBuf,
    /// Follow every container for hints (`crate::hints`: capability denials named in the audit
    /// log with the key that allows them).
    pub hints: bool,
    /// Directories whose `*.toml` files hold more `[profiles.NAME]` tables: how an operator
    /// adopts a reviewed learned profile (copy it there).
    pub profile_dirs: Vec<PathBuf>,
    /// The built-in profiles the operator enabled (`builtin::BUILTINS`): only profiles the
    /// operator chose exist, so a workload cannot widen itself with an annotation.
    pub builtin_profiles: Vec<String>,
    /// The file this policy came from (`None`: built-in defaults).
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// Where each profile of `profiles` was defined (`hardened policy show` says it).
    #[serde(skip)]
    pub profile_sources: BTreeMap<String, ProfileSource>,
    /// cgroup parents a container's cgroup must be below (cgroupfs paths such as "/docker",
    /// systemd slices such as "kubepods.slice"); empty: any parent but a hierarchy root. A
    /// top-level key: a profile cannot widen it.
    pub allowed_cgroup_parents: Vec<String>,
    /// The pool of host ID ranges for user namespaces (`[user_namespace]`).
    pub user_namespace: UsernsPool,
    /// The profile a container gets when its config names none (`io.hardened.profile`): for
    /// engines that cannot pass annotations (Docker before 24), one runtime entry per profile.
    pub default_profile: Option<String>,
    pub defaults: Rules,
    /// Named profiles, each the defaults with the keys the operator wrote replaced.
    pub profiles: BTreeMap<String, Rules>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            version: CURRENT_POLICY_VERSION,
            mode: Mode::Enforce,
            audit_log: PathBuf::from("/var/log/hardened/audit.log"),
            learn_dir: PathBuf::from(DEFAULT_LEARN_DIR),
            hints: true,
            profile_dirs: Vec::new(),
            builtin_profiles: Vec::new(),
            source: None,
            profile_sources: BTreeMap::new(),
            user_namespace: UsernsPool::default(),
            allowed_cgroup_parents: Vec::new(),
            default_profile: None,
            defaults: Rules::default(),
            profiles: BTreeMap::new(),
        }
    }
}

impl Policy {
    /// The policy file as it should be named in messages.
    pub fn file_name(&self) -> String {
        match &self.source {
            Some(p) => p.display().to_string(),
            None => format!("{DEFAULT_POLICY_PATH} (not present: built-in defaults)"),
        }
    }
}

/// One change the policy made to the caller's spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub rule: RuleId,
    pub what: String,
}

/// One thing the policy refuses to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub rule: RuleId,
    pub what: String,
    /// The policy key (and value) that would allow it.
    pub allow: String,
    /// A refusal that protects the host (e.g. `cgroup-path`): it stops the container in every
    /// mode, audit and permissive included.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub in_every_mode: bool,
}

/// Something worth the operator's attention that does not stop the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub rule: RuleId,
    pub what: String,
}

/// What `evaluate` looks at.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    pub spec: &'a Spec,
    pub container_id: &'a str,
    /// What the pipeline found out about the spec and the host (`crate::facts`).
    pub facts: &'a Facts,
    /// The runtime was called with `--systemd-cgroup` (cgroupsPath is `slice:prefix:name`).
    pub systemd_cgroup: bool,
}

/// What the policy decided for one spec (`Verdict<Spec>`) or one `exec`'d process
/// (`Verdict<Process>`).
#[derive(Debug, Clone)]
pub struct Verdict<T = Spec> {
    /// What to run: the caller's spec or process, hardened.
    pub hardened: T,
    pub mode: Mode,
    /// The profile that applied (None: the defaults).
    pub profile: Option<String>,
    pub changes: Vec<Change>,
    pub refusals: Vec<Refusal>,
    pub warnings: Vec<Warning>,
}

impl<T> Verdict<T> {
    /// Whether the container may run (refusals only stop it in enforce mode).
    pub fn allowed(&self) -> bool {
        allowed(self.mode, &self.refusals)
    }

    /// `hardened` as it is, with the findings so far: nothing else is evaluated.
    fn early(hardened: T, mode: Mode, findings: Findings) -> Self {
        Verdict {
            hardened,
            mode,
            profile: None,
            changes: findings.changes,
            refusals: findings.refusals,
            warnings: findings.warnings,
        }
    }
}

/// Whether refusals stop a container in `mode`: always in enforce mode, and in every mode for
/// a refusal that protects the host.
pub fn allowed(mode: Mode, refusals: &[Refusal]) -> bool {
    !refusals.iter().any(|r| r.in_every_mode)
        && (refusals.is_empty() || !matches!(mode, Mode::Enforce | Mode::Learn))
}

/// The outcome of the rules on one spec, collected by `rules::run`.
#[derive(Debug, Default)]
pub struct Findings {
    pub changes: Vec<Change>,
    pub refusals: Vec<Refusal>,
    pub warnings: Vec<Warning>,
}

/// Resolve the profile a spec asks for. `Err` is a refusal (unknown profile).
fn select_profile<'p>(
    policy: &'p Policy,
    spec: &Spec,
) -> Result<(Option<String>, &'p Rules), Refusal> {
    let wanted = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(PROFILE_ANNOTATION))
        .filter(|n| !n.is_empty())
        .or(policy.default_profile.as_ref());
    match wanted {
        None => Ok((None, &policy.defaults)),
        Some(name) => match policy.profiles.get(name) {
            Some(rules) => Ok((Some(name.clone()), rules)),
            None => Err(Refusal {
                rule: RuleId::Profile,
                what: format!(
                    "the annotation {PROFILE_ANNOTATION}={name} names a profile that the policy does not define{}",
                    policy
                        .profile_names()
                        .map(|n| format!(" (defined: {n})"))
                        .unwrap_or_default()
                ),
                allow: match builtin::find(name) {
                    Some(b) => format!(
                        "builtin_profiles = [\"{}\"] in {}",
                        b.name,
                        policy.file_name()
                    ),
                    None => format!(
                        "a [profiles.{name}] table in {} or in a file of its profile_dirs",
                        policy.file_name()
                    ),
                },
                in_every_mode: false,
            }),
        },
    }
}

impl Policy {
    /// The names of the policy's profiles, comma-separated (None: it has none).
    pub fn profile_names(&self) -> Option<String> {
        (!self.profiles.is_empty())
            .then(|| self.profiles.keys().cloned().collect::<Vec<_>>().join(", "))
    }

    /// The rules that apply to `spec` (its profile's, or the defaults), if its profile exists.
    pub fn rules_for(&self, spec: &Spec) -> Option<&Rules> {
        select_profile(self, spec).ok().map(|(_, r)| r)
    }
}

/// Docker's default capability set: what a learning container may keep when its config asks.
pub const DOCKER_DEFAULT_CAPS: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

const LEARN_WARNING: &str = "learn mode: the container keeps Docker's default capabilities (when its config asks for them) and a writable root, so that what it uses can be recorded; the user namespace, no_new_privs, seccomp, masked paths and the pids limit stay, and refusals still refuse";

/// Learn mode's rules: the selected ones, plus Docker's default capabilities and a writable
/// root (`crate::learn` records what the container uses of them; the scratch mounts stay, see
/// `rules::Ctx::learning`). `None` in other modes.
fn learn_rules(mode: Mode, rules: &Rules) -> Option<Rules> {
    (mode == Mode::Learn).then(|| {
        let mut r = rules.clone();
        for cap in DOCKER_DEFAULT_CAPS {
            if !r
                .allow_capabilities
                .iter()
                .any(|c| c.trim_start_matches("CAP_").eq_ignore_ascii_case(cap))
            {
                r.allow_capabilities.push(cap.to_string());
            }
        }
        r.readonly_rootfs = false;
        r
    })
}

/// Evaluate a container spec against the policy.
pub fn evaluate(policy: &Policy, input: &Input) -> Verdict {
    let mut spec = input.spec.clone();
    let selected = select_profile(policy, input.spec);
    let mut ctx = rules::Ctx {
        rules: &policy.defaults,
        policy_file: policy.file_name(),
        profile: None,
        container_id: input.container_id,
        facts: input.facts,
        cgroup_parents: &policy.allowed_cgroup_parents,
        systemd_cgroup: input.systemd_cgroup,
        learning: policy.mode == Mode::Learn,
    };
    // The rules that protect the host run first, in every mode and for every profile.
    let mut findings = rules::run_host_safety(&ctx, &mut spec);
    if policy.mode == Mode::Permissive {
        findings.warnings.push(Warning {
            rule: RuleId::Mode,
            what:
                "permissive mode: no hardening at all, nothing refused but what endangers the host"
                    .into(),
        });
        return Verdict::early(spec, Mode::Permissive, findings);
    }
    let (profile, rules) = match selected {
        Ok(p) => p,
        Err(refusal) => {
            findings.refusals.push(refusal);
            return Verdict::early(spec, policy.mode, findings);
        }
    };
    let learning = learn_rules(policy.mode, rules);
    if learning.is_some() {
        findings.warnings.push(Warning {
            rule: RuleId::Mode,
            what: LEARN_WARNING.into(),
        });
    }
    ctx.rules = learning.as_ref().unwrap_or(rules);
    ctx.profile = profile.as_deref();
    let more = rules::run(&ctx, &mut spec);
    findings.changes.extend(more.changes);
    findings.refusals.extend(more.refusals);
    findings.warnings.extend(more.warnings);
    Verdict {
        profile,
        ..Verdict::early(spec, policy.mode, findings)
    }
}

/// Evaluate a process to be `exec`'d in a container whose (already hardened) spec is
/// `container`: it gets the same treatment, and may not ask for more than the container got.
pub fn evaluate_exec(policy: &Policy, container: &Spec, process: &Process) -> Verdict<Process> {
    let mut process = process.clone();
    if policy.mode == Mode::Permissive {
        return Verdict::early(process, Mode::Permissive, Findings::default());
    }
    let (profile, rules) = match select_profile(policy, container) {
        Ok(p) => p,
        Err(refusal) => {
            let findings = Findings {
                refusals: vec![refusal],
                ..Findings::default()
            };
            return Verdict::early(process, policy.mode, findings);
        }
    };
    let facts = Facts::default();
    let learning = learn_rules(policy.mode, rules);
    let ctx = rules::Ctx {
        rules: learning.as_ref().unwrap_or(rules),
        policy_file: policy.file_name(),
        profile: profile.as_deref(),
        container_id: "",
        facts: &facts,
        cgroup_parents: &policy.allowed_cgroup_parents,
        systemd_cgroup: false,
        learning: policy.mode == Mode::Learn,
    };
    let findings = rules::run_exec(&ctx, container, &mut process);
    Verdict {
        profile,
        ..Verdict::early(process, policy.mode, findings)
    }
}

#[cfg(test)]
mod tests;
