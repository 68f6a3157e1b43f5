//! Gap: libcgroups' cgroup v1 device controller writes the config's rules on top of the list a
//! new cgroup inherits from its parent (`a *:* rwm` as a rule): a config without a deny-all
//! rule (youki's and our `spec`, a hand-written one) let the container open every device of the
//! host on cgroup v1, while libcgroups' v2 device program, and runc on both, start from
//! deny-all.
//!
//! - **Restores**: config-linux.md "Device allowlist": a device the rules do not grant is
//!   denied, as runc does on v1 and v2.
//! - **Proved by**: `deny_all_goes_first_when_the_rules_have_none` (below);
//!   `unlisted_block_device_is_denied_with_mknod` (integration/cgroups.rs; cgroup v1 here, v2
//!   in the guest).
//! - **Goes when**: libcgroups' v1 device controller starts from deny-all.
//!
//! A config whose rules have no deny-all entry gets one first (`{"allow": false, "access":
//! "rwm"}`) in the spec libcontainer is handed; one that has it is left alone (a deny-all wipes
//! every rule before it on both cgroup versions). A privileged config (`allow a *:* rwm`) still
//! allows every device.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxResources, Spec};

use super::mknod::is_deny_all;

/// `rules` with a deny-all first, when they have none.
fn deny_first(rules: &[LinuxDeviceCgroup]) -> Option<Vec<LinuxDeviceCgroup>> {
    if rules.iter().any(is_deny_all) {
        return None;
    }
    let deny_all = LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()
        .ok()?;
    Some(
        std::iter::once(deny_all)
            .chain(rules.iter().cloned())
            .collect(),
    )
}

/// Put a deny-all first in the device rules of `spec` when they have none; whether it changed.
pub fn deny_unlisted(spec: &mut Spec) -> bool {
    let Some(mut linux) = spec.linux().clone() else {
        return false;
    };
    let mut resources = linux.resources().clone().unwrap_or_default();
    let rules = resources.devices().clone().unwrap_or_default();
    let Some(rules) = deny_first(&rules) else {
        return false;
    };
    resources.set_devices(Some(rules));
    linux.set_resources(Some(resources));
    spec.set_linux(Some(linux));
    true
}

/// The device rules of `resources` (none: empty).
pub fn rules(resources: Option<&LinuxResources>) -> Vec<LinuxDeviceCgroup> {
    resources
        .and_then(|r| r.devices().clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rules: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "linux": { "resources": { "devices": rules } }
        }))
        .expect("spec")
    }

    fn rules_of(s: &Spec) -> serde_json::Value {
        serde_json::to_value(rules(
            s.linux().as_ref().and_then(|l| l.resources().as_ref()),
        ))
        .expect("json")
    }

    #[test]
    fn deny_all_goes_first_when_the_rules_have_none() {
        let deny = serde_json::json!({ "allow": false, "access": "rwm" });
        let mut s = spec(serde_json::json!([]));
        assert!(deny_unlisted(&mut s));
        assert_eq!(rules_of(&s), serde_json::json!([deny]));
        // Privileged: still every device.
        let all = serde_json::json!({ "allow": true, "access": "rwm" });
        let mut s = spec(serde_json::json!([all]));
        assert!(deny_unlisted(&mut s));
        assert_eq!(rules_of(&s), serde_json::json!([deny, all]));
        // Docker's list starts with a deny-all: left alone, and so is a deny-all further on.
        let dev_null = serde_json::json!({ "allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm" });
        for r in [
            serde_json::json!([deny, dev_null]),
            serde_json::json!([dev_null, deny]),
        ] {
            let mut s = spec(r.clone());
            assert!(!deny_unlisted(&mut s));
            assert_eq!(rules_of(&s), r);
        }
        // A deny of one type only is no deny-all.
        let deny_b = serde_json::json!({ "allow": false, "type": "b", "access": "rwm" });
        let mut s = spec(serde_json::json!([deny_b]));
        assert!(deny_unlisted(&mut s));
        assert_eq!(rules_of(&s), serde_json::json!([deny, deny_b]));
        // No resources at all: a deny-all too.
        let mut s: Spec =
            serde_json::from_value(serde_json::json!({ "ociVersion": "1.0.2", "linux": {} }))
                .expect("spec");
        assert!(deny_unlisted(&mut s));
        assert_eq!(rules_of(&s), serde_json::json!([deny]));
    }
}
