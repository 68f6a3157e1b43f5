//! `lsm`: every container carries an AppArmor profile on an AppArmor host, and an unconfined
//! AppArmor profile or SELinux type (`--security-opt apparmor=unconfined`, `label=disable`,
//! `spc_t`) is refused.
//!
//! On a host with AppArmor (`HostFacts::apparmor`), a config that names a profile keeps it
//! (Docker names `docker-default`); a config that names none (containerd and `ctr`, Kubernetes
//! pods without a profile, podman) gets the policy's `apparmor_profile` (the runtime's own
//! `hardened-default` unless the operator names another; `create` loads it, `crate::lsm`). On a
//! host without AppArmor a named profile is left out: it cannot be applied there, and
//! libcontainer would refuse the config. An `exec`'d process that names no profile gets its
//! container's.

use oci_spec::runtime::{Process, Spec};

use super::{Ctx, Out, Rule, RuleId};

pub const RULE: Rule = Rule {
    id: RuleId::Lsm,
    evaluate,
};

pub fn evaluate_process(ctx: &Ctx, process: &mut Process, out: &mut Out) {
    if ctx.rules.allow_unconfined_lsm {
        return;
    }
    if process.apparmor_profile().as_deref() == Some("unconfined") {
        out.refuse(
            "the unconfined AppArmor profile (--security-opt apparmor=unconfined)",
            ctx.allow("allow_unconfined_lsm = true"),
        );
    }
    if let Some(label) = process.selinux_label() {
        if ["spc_t", "unconfined_t"].iter().any(|t| label.contains(t)) {
            out.refuse(
                format!("the unconfined SELinux label {label:?} (--security-opt label=disable)"),
                ctx.allow("allow_unconfined_lsm = true"),
            );
        }
    }
}

/// The process of an `exec`: the checks above, and its container's AppArmor profile when it
/// names none (containerd builds an exec's process from the caller's config, which named none
/// when the container got the policy's default).
pub fn evaluate_exec(ctx: &Ctx, container: &Spec, process: &mut Process, out: &mut Out) {
    evaluate_process(ctx, process, out);
    let names_none = process
        .apparmor_profile()
        .as_deref()
        .is_none_or(str::is_empty);
    let theirs = container
        .process()
        .as_ref()
        .and_then(|p| p.apparmor_profile().clone())
        .filter(|p| !p.is_empty());
    if let (true, Some(theirs)) = (names_none, theirs) {
        out.change(format!(
            "process.apparmorProfile set to {theirs} (its container's; the process names none)"
        ));
        process.set_apparmor_profile(Some(theirs));
    }
}

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    let Some(mut p) = spec.process().clone() else {
        return;
    };
    evaluate_process(ctx, &mut p, out);
    let named = p.apparmor_profile().clone().filter(|n| !n.is_empty());
    match (ctx.facts.host.apparmor, named) {
        (true, Some(_)) => {}
        (true, None) => default_profile(ctx, &mut p, out),
        (false, Some(name)) => {
            out.change(format!(
                "process.apparmorProfile {} left out: AppArmor is not enabled on this host",
                crate::oneline::value(&name)
            ));
            p.set_apparmor_profile(None);
        }
        (false, None) => {}
    }
    spec.set_process(Some(p));
}

/// The policy's `apparmor_profile` for a config that names none, on an AppArmor host.
fn default_profile(ctx: &Ctx, p: &mut Process, out: &mut Out) {
    let default = ctx.rules.apparmor_profile.as_str();
    if default.is_empty() || default == "unconfined" {
        if !ctx.rules.allow_unconfined_lsm {
            out.refuse(
                format!(
                    "no AppArmor profile: the config names none and the policy's apparmor_profile is {default:?}"
                ),
                ctx.allow(&format!(
                    "apparmor_profile = {:?} (or allow_unconfined_lsm = true)",
                    crate::lsm::apparmor::DEFAULT_PROFILE
                )),
            );
        }
        return;
    }
    out.change(format!(
        "process.apparmorProfile set to {default} (the config names none; policy key apparmor_profile)"
    ));
    p.set_apparmor_profile(Some(default.to_string()));
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use oci_spec::runtime::{ProcessBuilder, Spec, SpecBuilder};

    use crate::policy::{evaluate, load, Facts, HostFacts, Input, Policy, Verdict};

    fn spec(apparmor: Option<&str>) -> Spec {
        let mut p = ProcessBuilder::default()
            .args(vec!["sh".to_string()])
            .build()
            .expect("process");
        p.set_apparmor_profile(apparmor.map(String::from));
        SpecBuilder::default().process(p).build().expect("spec")
    }

    fn eval(policy: &Policy, spec: &Spec, apparmor_host: bool) -> Verdict {
        let host = HostFacts {
            apparmor: apparmor_host,
            ..HostFacts::default()
        };
        let facts = Facts::with_test_range(spec, host);
        evaluate(
            policy,
            &Input {
                spec,
                container_id: "c1",
                facts: &facts,
                systemd_cgroup: false,
            },
        )
    }

    fn profile_of(v: &Verdict) -> Option<String> {
        v.hardened
            .process()
            .as_ref()
            .and_then(|p| p.apparmor_profile().clone())
    }

    fn lsm_refusals(v: &Verdict) -> usize {
        v.refusals.iter().filter(|r| r.rule == "lsm").count()
    }

    fn policy(toml: &str) -> Policy {
        load::parse(toml, Path::new("/p.toml")).expect("policy")
    }

    #[test]
    fn a_config_that_names_a_profile_keeps_it_on_an_apparmor_host() {
        let v = eval(&Policy::default(), &spec(Some("docker-default")), true);
        assert_eq!(profile_of(&v).as_deref(), Some("docker-default"));
        assert!(v.changes.iter().all(|c| c.rule != "lsm"), "{:?}", v.changes);
        assert_eq!(lsm_refusals(&v), 0);
    }

    #[test]
    fn a_config_that_names_none_gets_the_default_profile_on_an_apparmor_host() {
        for named in [None, Some("")] {
            let v = eval(&Policy::default(), &spec(named), true);
            assert_eq!(profile_of(&v).as_deref(), Some("hardened-default"));
            assert!(
                v.changes
                    .iter()
                    .any(|c| c.rule == "lsm" && c.what.contains("hardened-default")),
                "{:?}",
                v.changes
            );
            // Evaluating the hardened spec again changes nothing more.
            let again = eval(&Policy::default(), &v.hardened, true);
            assert!(again.changes.iter().all(|c| c.rule != "lsm"));
        }
    }

    #[test]
    fn the_operator_names_the_default_profile() {
        let p = policy(
            "[defaults]\napparmor_profile = \"site-default\"\n[profiles.web]\napparmor_profile = \"web-app\"\n",
        );
        let v = eval(&p, &spec(None), true);
        assert_eq!(profile_of(&v).as_deref(), Some("site-default"));
        let mut web = spec(None);
        web.set_annotations(Some(
            [(
                crate::policy::PROFILE_ANNOTATION.to_string(),
                "web".to_string(),
            )]
            .into(),
        ));
        let v = eval(&p, &web, true);
        assert_eq!(profile_of(&v).as_deref(), Some("web-app"));
    }

    #[test]
    fn unconfined_is_refused_unless_the_policy_allows_it() {
        let v = eval(&Policy::default(), &spec(Some("unconfined")), true);
        assert_eq!(lsm_refusals(&v), 1);
        let p = policy("[defaults]\nallow_unconfined_lsm = true\n");
        let v = eval(&p, &spec(Some("unconfined")), true);
        assert_eq!(lsm_refusals(&v), 0);
        assert_eq!(profile_of(&v).as_deref(), Some("unconfined"));
        // A default that leaves a container unconfined is refused the same way.
        for default in ["", "unconfined"] {
            let p = policy(&format!("[defaults]\napparmor_profile = {default:?}\n"));
            let v = eval(&p, &spec(None), true);
            assert_eq!(lsm_refusals(&v), 1, "{default:?}");
            assert!(v.refusals[0].allow.contains("allow_unconfined_lsm"));
        }
        // On a host without AppArmor too: the policy does not depend on the host.
        let v = eval(&Policy::default(), &spec(Some("unconfined")), false);
        assert_eq!(lsm_refusals(&v), 1);
    }

    #[test]
    fn nothing_is_applied_on_a_host_without_apparmor() {
        let v = eval(&Policy::default(), &spec(None), false);
        assert_eq!(profile_of(&v), None);
        assert!(v.changes.iter().all(|c| c.rule != "lsm"));
        assert!(v.refusals.is_empty(), "{:?}", v.refusals);
        // A named profile is left out (libcontainer would refuse it there), and says so.
        let v = eval(&Policy::default(), &spec(Some("docker-default")), false);
        assert_eq!(profile_of(&v), None);
        assert!(v
            .changes
            .iter()
            .any(|c| c.rule == "lsm" && c.what.contains("not enabled on this host")));
        assert!(v.refusals.is_empty(), "{:?}", v.refusals);
    }

    #[test]
    fn an_exec_gets_its_containers_profile_when_it_names_none() {
        let container = spec(Some("hardened-default"));
        let process = spec(None).process().clone().expect("process");
        let v = crate::policy::evaluate_exec(&Policy::default(), &container, &process);
        assert_eq!(
            v.hardened.apparmor_profile().as_deref(),
            Some("hardened-default")
        );
        let mut own = process.clone();
        own.set_apparmor_profile(Some("docker-default".into()));
        let v = crate::policy::evaluate_exec(&Policy::default(), &container, &own);
        assert_eq!(
            v.hardened.apparmor_profile().as_deref(),
            Some("docker-default")
        );
        let bare = spec(None);
        let v = crate::policy::evaluate_exec(&Policy::default(), &bare, &process);
        assert_eq!(v.hardened.apparmor_profile(), &None);
    }
}
