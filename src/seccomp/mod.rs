//! The built-in default seccomp profile, and the merge of its baseline into a caller's profile.
//!
//! - [`default_profile`]: deny by default (EPERM), allow [`ALLOWED`], allow `clone` without
//!   namespace flags, answer `clone3` with ENOSYS (its flags live in memory where seccomp cannot
//!   see them; libcs then fall back to `clone`), allow `personality` for the usual personas only.
//! - [`merge_baseline`]: a caller's profile (Docker's default, a custom one) with the baseline
//!   merged in: every [`BASELINE_DENIED`] syscall, `clone3` and `clone`'s namespace flags end up
//!   denied whatever the caller's rules said.
//! - [`is_unconfined`]: the profile allows everything.
//!
//! # How the profile is loaded, and what that means here
//!
//! [`bpf`] compiles a profile with libseccomp once per profile (cached under the state root) in
//! the parent, and our executor loads it in the container with seccomp(2), in runc's order with
//! the capabilities (`crate::gaps::confine`). libcontainer only loads SCMP_ACT_NOTIFY profiles itself.
//! The compiler reads a profile as runc and crun do:
//!
//! - names libseccomp cannot resolve are skipped with a warning, so the profiles built here only
//!   name syscalls this host's libseccomp knows (names of other architectures, e.g. `socketcall`
//!   on x86_64, resolve and are applied to the 32-bit architectures of the filter);
//! - a rule whose action equals the default action is skipped with a warning, so no such rule
//!   is added here;
//! - conflicting rules are not an error. libseccomp (2.5) keeps the *first* unconditional rule
//!   of a syscall and lets an unconditional rule override every conditional one: a caller's
//!   `ptrace` ALLOW followed by our `ptrace` ERRNO would still allow `ptrace`. The merge
//!   therefore removes the names from the caller's rules instead of relying on rule order.
//! - `SCMP_CMP_MASKED_EQ`: `value` is the mask and `valueTwo` the datum (`(arg & value) ==
//!   valueTwo`), as in runc, crun and seccomp_rule_add(3). (libcontainer 0.7 reads them the other
//!   way round.) Docker's clone rule (`value` = namespace mask, `valueTwo` = 0) thus allows
//!   `clone` without namespace flags only, as Docker intends; our clone allow rule is written the
//!   same way, and the per-bit deny rules use `value == valueTwo`, which reads the same in both
//!   conventions.

pub mod bpf;
pub mod syscalls;

pub use syscalls::{ALLOWED, BASELINE_DENIED};

use libseccomp::ScmpSyscall;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompOperator, LinuxSyscall,
};

/// EPERM: the answer of every denied syscall.
pub const EPERM: u32 = nix::errno::Errno::EPERM as u32;
/// ENOSYS: the answer to `clone3`, so that libcs fall back to `clone`.
pub const ENOSYS: u32 = nix::errno::Errno::ENOSYS as u32;

/// The `CLONE_NEW*` flags, one by one: `clone` (flags in argument 0 on x86_64, x86, aarch64 and
/// arm) is allowed only when none of them is set.
pub const CLONE_NAMESPACE_FLAGS: [u64; 8] = [
    0x0002_0000, // CLONE_NEWNS
    0x0200_0000, // CLONE_NEWCGROUP
    0x0400_0000, // CLONE_NEWUTS
    0x0800_0000, // CLONE_NEWIPC
    0x1000_0000, // CLONE_NEWUSER
    0x2000_0000, // CLONE_NEWPID
    0x4000_0000, // CLONE_NEWNET
    // CLONE_NEWTIME only works with clone3 and unshare: in clone's flags 0x80 is part of the
    // exit signal, which is always below 0x80. Masking it costs nothing.
    0x0000_0080,
];

/// All of [`CLONE_NAMESPACE_FLAGS`] (0x7e020080).
pub const CLONE_NAMESPACE_MASK: u64 = {
    let mut mask = 0;
    let mut i = 0;
    while i < CLONE_NAMESPACE_FLAGS.len() {
        mask |= CLONE_NAMESPACE_FLAGS[i];
        i += 1;
    }
    mask
};

/// `personality` values the default profile allows: PER_LINUX, PER_LINUX32, UNAME26,
/// UNAME26|PER_LINUX32, and the query (0xffffffff, also as a sign-extended -1). Other flags,
/// such as ADDR_NO_RANDOMIZE (which switches off ASLR), are denied.
pub const PERSONALITY_ALLOWED: [u64; 6] = [0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff, u64::MAX];

/// The architectures of the default profile: the build target's, and its 32-bit compat ABIs.
pub fn default_architectures() -> Vec<Arch> {
    if cfg!(target_arch = "x86_64") {
        vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
    } else if cfg!(target_arch = "aarch64") {
        vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]
    } else {
        vec![Arch::ScmpArchNative]
    }
}

/// The built-in default profile: deny (EPERM) everything but [`ALLOWED`], `clone` without
/// namespace flags and the usual `personality` values; `clone3` gets ENOSYS.
pub fn default_profile() -> LinuxSeccomp {
    let mut syscalls = vec![rule(known(ALLOWED), LinuxSeccompAction::ScmpActAllow, None)];
    syscalls.extend(PERSONALITY_ALLOWED.iter().map(|&persona| {
        rule_on_arg0(
            "personality",
            LinuxSeccompAction::ScmpActAllow,
            None,
            arg(0, persona, None, LinuxSeccompOperator::ScmpCmpEq),
        )
    }));
    syscalls.push(clone3_rule());
    syscalls.push(clone_allow_rule());

    let mut profile = LinuxSeccomp::default();
    profile
        .set_default_action(LinuxSeccompAction::ScmpActErrno)
        .set_default_errno_ret(Some(EPERM))
        .set_architectures(Some(default_architectures()))
        .set_syscalls(Some(syscalls));
    profile
}

/// `caller` with the baseline merged in, and the names of the syscalls whose treatment changed.
///
/// Afterwards every [`BASELINE_DENIED`] syscall is denied (EPERM), `clone3` answers ENOSYS and
/// `clone` is denied (EPERM) whenever a namespace flag is set:
///
/// - each of those names is removed from every rule of the caller except the first
///   unconditional deny rule naming it (kept: the caller's own, possibly stricter, denial); rules
///   left without names are dropped, the rest of each rule is kept as it was;
/// - `clone` is removed from the caller's non-deny rules; where the caller allowed `clone`, an
///   allow rule restricted to calls without namespace flags takes their place (default-deny
///   profiles) and a deny rule per namespace flag is added (unless the default action already
///   gives EPERM). A caller's unconditional deny of `clone` is kept as it is;
/// - deny rules are appended for what is not denied yet (none when the default action already
///   answers EPERM, which the compiler would skip anyway).
///
/// A default action of SCMP_ACT_ALLOW or SCMP_ACT_LOG (a denylist profile) is merged the same
/// way. The merge is idempotent, and `merge_baseline(&default_profile())` changes nothing.
///
/// The list returned names the syscalls the caller's profile allowed, at least for some
/// arguments, and that are denied now (`clone`: allowed with namespace flags before), sorted:
/// for the audit log, "ptrace denied (was allowed by the caller's profile)".
pub fn merge_baseline(caller: &LinuxSeccomp) -> (LinuxSeccomp, Vec<String>) {
    let default = Effect::of(caller.default_action(), caller.default_errno_ret());
    let rules: &[LinuxSyscall] = caller.syscalls().as_deref().unwrap_or(&[]);

    let mut forced: Vec<&str> = BASELINE_DENIED.to_vec();
    forced.push("clone3");

    // The rule (index) that keeps denying each forced name, if the caller has one.
    let kept: Vec<Option<usize>> = forced
        .iter()
        .map(|name| first_unconditional_deny(rules, name))
        .collect();
    let clone_kept = first_unconditional_deny(rules, "clone");

    let changed = newly_denied(rules, default, &forced);
    let clone_allowed = clone_kept.is_none()
        && (!default.is_deny() || rules.iter().any(|r| names(r, "clone") && !is_deny(r)));

    let canonical_clone = canonical_clone_rules(default, clone_allowed);
    let mut merged = without_forced(rules, &forced, &kept);
    merged.extend(baseline_rules(default, &kept));
    merged.extend(canonical_clone);

    let mut profile = caller.clone();
    profile.set_syscalls(Some(merged));
    (profile, changed)
}

/// The names among `forced` (and `clone` with namespace flags) that the caller's profile
/// allowed, at least for some arguments, sorted.
fn newly_denied(rules: &[LinuxSyscall], default: Effect, forced: &[&str]) -> Vec<String> {
    // (Names libseccomp cannot resolve are not filtered at all: no change.)
    let mut changed: Vec<String> = known_names(
        forced
            .iter()
            .filter(|name| allowed_somehow(rules, default, name))
            .map(|name| name.to_string())
            .collect(),
    );
    if clone_namespaces_allowed(rules, default) {
        changed.push("clone".to_string());
    }
    changed.sort();
    changed.dedup();
    changed
}

/// The caller's rules without the `forced` names (but in the rule `kept` for each) and without
/// `clone` in the non-deny rules; rules left without names are dropped, our clone rules from an
/// earlier merge too (they are re-added at the end).
fn without_forced(
    rules: &[LinuxSyscall],
    forced: &[&str],
    kept: &[Option<usize>],
) -> Vec<LinuxSyscall> {
    let mut merged: Vec<LinuxSyscall> = Vec::with_capacity(rules.len() + 4);
    for (index, r) in rules.iter().enumerate() {
        // Our clone rules (from an earlier merge) are re-added at the end.
        if names(r, "clone") && is_canonical_clone_rule(r) {
            continue;
        }
        let before = r.names().len();
        let new_names: Vec<String> = r
            .names()
            .iter()
            .filter(|name| match forced.iter().position(|f| f == name) {
                Some(i) => kept[i] == Some(index),
                // clone leaves the non-deny rules.
                None => name.as_str() != "clone" || is_deny(r),
            })
            .cloned()
            .collect();
        if new_names.len() == before {
            merged.push(r.clone());
            continue;
        }
        if new_names.is_empty() {
            continue;
        }
        let mut r = r.clone();
        r.set_names(new_names);
        merged.push(r);
    }
    merged
}

/// The deny rules for the [`BASELINE_DENIED`] names and `clone3` (the last of `kept`) that no
/// rule of the caller keeps denying, unless the default action already answers the same.
fn baseline_rules(default: Effect, kept: &[Option<usize>]) -> Vec<LinuxSyscall> {
    let mut out = Vec::new();
    let baseline: Vec<String> = BASELINE_DENIED
        .iter()
        .zip(kept)
        .filter(|(_, kept)| kept.is_none())
        .map(|(name, _)| name.to_string())
        .collect();
    let baseline = known_names(baseline);
    if !baseline.is_empty() && !default.same(LinuxSeccompAction::ScmpActErrno, Some(EPERM)) {
        out.push(rule(
            baseline,
            LinuxSeccompAction::ScmpActErrno,
            Some(EPERM),
        ));
    }
    if kept.last().is_some_and(Option::is_none)
        && !default.same(LinuxSeccompAction::ScmpActErrno, Some(ENOSYS))
    {
        out.push(clone3_rule());
    }
    out
}

/// Rewrites the clone allow rule of profiles made by earlier versions, which wrote it for
/// libcontainer's reading of SCMP_CMP_MASKED_EQ (`value` 0, `valueTwo` = namespace mask), into
/// today's (`value` = mask, `valueTwo` 0). Read today's way, the old rule would match every
/// `clone`. For `exec` into containers created before the change (their spec is kept in the
/// shadow bundle); returns whether anything changed.
pub fn migrate_legacy_clone_rule(profile: &mut LinuxSeccomp) -> bool {
    let mut legacy = clone_allow_rule();
    legacy.set_args(Some(vec![arg(
        0,
        0,
        Some(CLONE_NAMESPACE_MASK),
        LinuxSeccompOperator::ScmpCmpMaskedEq,
    )]));
    let Some(mut rules) = profile.syscalls().clone() else {
        return false;
    };
    let mut changed = false;
    for r in rules.iter_mut().filter(|r| **r == legacy) {
        *r = clone_allow_rule();
        changed = true;
    }
    if changed {
        profile.set_syscalls(Some(rules));
    }
    changed
}

/// True when the profile allows everything: a default action of SCMP_ACT_ALLOW or SCMP_ACT_LOG
/// and no rule that denies anything.
pub fn is_unconfined(s: &LinuxSeccomp) -> bool {
    matches!(
        s.default_action(),
        LinuxSeccompAction::ScmpActAllow | LinuxSeccompAction::ScmpActLog
    ) && s.syscalls().iter().flatten().all(|r| !is_deny(r))
}

// ------------------------------------------------------------------------------------------

/// What [`bpf`] turns an action into (ERRNO and TRACE default to EPERM, KILL is
/// KILL_THREAD): two rules with the same effect are the same to libseccomp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    Allow,
    Log,
    Notify,
    Trace(u32),
    Errno(u32),
    Trap,
    KillThread,
    KillProcess,
}

impl Effect {
    fn of(action: LinuxSeccompAction, errno: Option<u32>) -> Self {
        let errno = errno.unwrap_or(EPERM);
        match action {
            LinuxSeccompAction::ScmpActAllow => Effect::Allow,
            LinuxSeccompAction::ScmpActLog => Effect::Log,
            LinuxSeccompAction::ScmpActNotify => Effect::Notify,
            LinuxSeccompAction::ScmpActTrace => Effect::Trace(errno),
            LinuxSeccompAction::ScmpActErrno => Effect::Errno(errno),
            LinuxSeccompAction::ScmpActTrap => Effect::Trap,
            LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
                Effect::KillThread
            }
            LinuxSeccompAction::ScmpActKillProcess => Effect::KillProcess,
        }
    }

    /// The syscall does not run (TRACE and NOTIFY leave the decision to another process).
    fn is_deny(self) -> bool {
        matches!(
            self,
            Effect::Errno(_) | Effect::Trap | Effect::KillThread | Effect::KillProcess
        )
    }

    fn same(self, action: LinuxSeccompAction, errno: Option<u32>) -> bool {
        self == Effect::of(action, errno)
    }
}

fn effect(r: &LinuxSyscall) -> Effect {
    Effect::of(r.action(), r.errno_ret())
}

fn is_deny(r: &LinuxSyscall) -> bool {
    effect(r).is_deny()
}

fn names(r: &LinuxSyscall, name: &str) -> bool {
    r.names().iter().any(|n| n == name)
}

/// The compiler adds a rule without conditions when `args` is absent or empty.
fn is_unconditional(r: &LinuxSyscall) -> bool {
    r.args().as_ref().is_none_or(|a| a.is_empty())
}

/// Rules the compiler actually adds for `name`: those whose effect differs from the default.
fn effective_rules<'a>(
    rules: &'a [LinuxSyscall],
    default: Effect,
    name: &str,
) -> Vec<&'a LinuxSyscall> {
    rules
        .iter()
        .filter(|r| names(r, name) && effect(r) != default)
        .collect()
}

/// The caller's first unconditional deny rule naming `name` (its index): the rule that keeps
/// denying `name` after the merge (non-deny rules lose the name, and with them any rule that
/// came first).
fn first_unconditional_deny(rules: &[LinuxSyscall], name: &str) -> Option<usize> {
    rules
        .iter()
        .position(|r| names(r, name) && is_unconditional(r) && is_deny(r))
}

/// Whether the caller's profile lets `name` run, at least for some arguments.
fn allowed_somehow(rules: &[LinuxSyscall], default: Effect, name: &str) -> bool {
    let effective = effective_rules(rules, default, name);
    if let Some(first) = effective.iter().find(|r| is_unconditional(r)) {
        return !is_deny(first);
    }
    !default.is_deny() || effective.iter().any(|r| !is_deny(r))
}

/// Whether the caller's profile lets `clone` run with a namespace flag set (as [`bpf`] compiles
/// it).
fn clone_namespaces_allowed(rules: &[LinuxSyscall], default: Effect) -> bool {
    let effective = effective_rules(rules, default, "clone");
    if let Some(first) = effective.iter().find(|r| is_unconditional(r)) {
        return !is_deny(first);
    }
    if default.is_deny() {
        return effective
            .iter()
            .any(|r| !is_deny(r) && !restricts_clone_namespaces(r));
    }
    // A denylist profile: every flag must be denied by a rule of its own.
    !CLONE_NAMESPACE_FLAGS.iter().all(|&flag| {
        rules
            .iter()
            .any(|r| names(r, "clone") && is_deny(r) && *r == clone_flag_deny_rule(flag))
    })
}

/// An allow rule on `clone` that only matches calls without any namespace flag:
/// `(arg0 & value) == valueTwo` with the namespace flags in the mask and none in the datum.
/// (CLONE_NEWTIME does not count: clone cannot use it.)
fn restricts_clone_namespaces(r: &LinuxSyscall) -> bool {
    let needed = CLONE_NAMESPACE_MASK & !0x80;
    let Some(args) = r.args() else {
        return false;
    };
    let mut indexes: Vec<usize> = args.iter().map(|a| a.index()).collect();
    indexes.sort_unstable();
    indexes.dedup();
    // Comparisons on the same argument are added as separate (alternative) rules.
    indexes.len() == args.len()
        && args.iter().any(|a| {
            let mask = a.value();
            a.index() == 0
                && a.op() == LinuxSeccompOperator::ScmpCmpMaskedEq
                && mask & needed == needed
                && a.value_two().unwrap_or(0) & needed == 0
        })
}

/// Our clone rules for a caller whose default is `default`: the conditional allow where the
/// default denies, a deny rule per namespace flag unless the default already answers EPERM.
fn canonical_clone_rules(default: Effect, clone_allowed: bool) -> Vec<LinuxSyscall> {
    let mut out = Vec::new();
    if !clone_allowed {
        return out;
    }
    if default.is_deny() {
        out.push(clone_allow_rule());
    }
    if !default.same(LinuxSeccompAction::ScmpActErrno, Some(EPERM)) {
        out.extend(
            CLONE_NAMESPACE_FLAGS
                .iter()
                .map(|&f| clone_flag_deny_rule(f)),
        );
    }
    out
}

fn is_canonical_clone_rule(r: &LinuxSyscall) -> bool {
    *r == clone_allow_rule()
        || CLONE_NAMESPACE_FLAGS
            .iter()
            .any(|&f| *r == clone_flag_deny_rule(f))
}

/// `clone` is allowed when `(flags & CLONE_NAMESPACE_MASK) == 0`: the mask in `value`, the
/// datum in `valueTwo` (see the module documentation).
fn clone_allow_rule() -> LinuxSyscall {
    rule_on_arg0(
        "clone",
        LinuxSeccompAction::ScmpActAllow,
        None,
        arg(
            0,
            CLONE_NAMESPACE_MASK,
            Some(0),
            LinuxSeccompOperator::ScmpCmpMaskedEq,
        ),
    )
}

/// `clone` is denied (EPERM) when `(flags & flag) == flag`: mask and value are equal, so both
/// conventions of SCMP_CMP_MASKED_EQ read it the same way.
fn clone_flag_deny_rule(flag: u64) -> LinuxSyscall {
    rule_on_arg0(
        "clone",
        LinuxSeccompAction::ScmpActErrno,
        Some(EPERM),
        arg(0, flag, Some(flag), LinuxSeccompOperator::ScmpCmpMaskedEq),
    )
}

/// `clone3` answers ENOSYS: its flags are in memory, out of seccomp's reach; glibc, musl, Go
/// and Rust fall back to `clone` on ENOSYS.
fn clone3_rule() -> LinuxSyscall {
    rule(
        vec!["clone3".to_string()],
        LinuxSeccompAction::ScmpActErrno,
        Some(ENOSYS),
    )
}

fn rule(names: Vec<String>, action: LinuxSeccompAction, errno: Option<u32>) -> LinuxSyscall {
    let mut r = LinuxSyscall::default();
    r.set_names(names).set_action(action).set_errno_ret(errno);
    r
}

/// A rule on the one syscall `name` with the one condition `condition`.
fn rule_on_arg0(
    name: &str,
    action: LinuxSeccompAction,
    errno: Option<u32>,
    condition: LinuxSeccompArg,
) -> LinuxSyscall {
    let mut r = rule(vec![name.to_string()], action, errno);
    r.set_args(Some(vec![condition]));
    r
}

fn arg(
    index: usize,
    value: u64,
    value_two: Option<u64>,
    op: LinuxSeccompOperator,
) -> LinuxSeccompArg {
    let builder = LinuxSeccompArgBuilder::default()
        .index(index)
        .value(value)
        .op(op);
    match value_two {
        Some(v) => builder.value_two(v),
        None => builder,
    }
    .build()
    .expect("every field has a value")
}

/// The names this host's libseccomp can resolve (the others would only be skipped, with a
/// warning, by the compiler: they cannot be filtered by name here anyway).
fn known(names: &[&str]) -> Vec<String> {
    known_names(names.iter().map(|n| n.to_string()).collect())
}

fn known_names(names: Vec<String>) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| ScmpSyscall::from_name(n).is_ok())
        .collect()
}

#[cfg(test)]
mod tests;
