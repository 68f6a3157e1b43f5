use std::path::PathBuf;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxIdMapping, Mount, Spec};

use super::console::in_container;
use super::devices::{host_id, outside_dev};
use super::id_ranges::several_ranges;
use super::mknod::takes_back_mknod;
use super::mounts::{split_mount_options, Propagation, MS_SLAVE, MS_UNBINDABLE};
use super::namespaces::validate;
use super::plan::{plan, plan_update, AfterCreate};
use serde_json::json;

fn spec(v: serde_json::Value) -> Spec {
    let mut base = json!({
        "ociVersion": "1.0.2",
        "root": { "path": "rootfs" },
        "process": { "cwd": "/", "args": ["sh"], "user": { "uid": 0, "gid": 0 } },
        "linux": {}
    });
    merge(&mut base, v);
    serde_json::from_value(base).expect("spec")
}

fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn rules(v: serde_json::Value) -> Vec<LinuxDeviceCgroup> {
    serde_json::from_value(v).expect("rules")
}

#[test]
fn duplicate_namespace_types_are_refused_with_their_name() {
    let s = spec(json!({ "linux": { "namespaces": [
        { "type": "pid" }, { "type": "network" }, { "type": "network", "path": "/proc/1/ns/net" }
    ] } }));
    let err = validate(&s).expect_err("duplicate").to_string();
    assert!(err.contains("network namespace more than once"), "{err}");
    assert!(err.contains("keep one \"network\" entry"), "{err}");
    let ok = spec(
        json!({ "linux": { "namespaces": [{ "type": "pid" }, { "type": "network" }, { "type": "mount" }] } }),
    );
    validate(&ok).expect("distinct types");
    validate(&spec(json!({}))).expect("no namespaces");
}

#[test]
fn propagation_and_nosymfollow_leave_the_options_libcontainer_sees() {
    let m: Mount = serde_json::from_value(json!({
        "destination": "/mnt/b", "type": "bind", "source": "/src",
        "options": ["rbind", "rslave", "ro", "nosymfollow", "unbindable"]
    }))
    .expect("mount");
    let (options, fixup) = split_mount_options(&m);
    assert_eq!(options, Some(vec!["rbind".to_string(), "ro".to_string()]));
    let fixup = fixup.expect("fixup");
    assert_eq!(fixup.destination, PathBuf::from("/mnt/b"));
    assert!(fixup.nosymfollow);
    assert_eq!(
        fixup.propagation,
        vec![
            Propagation {
                flag: MS_SLAVE,
                recursive: true
            },
            Propagation {
                flag: MS_UNBINDABLE,
                recursive: false
            }
        ]
    );
}

#[test]
fn symfollow_alone_is_dropped_without_a_fixup_and_plain_mounts_are_untouched() {
    let m: Mount = serde_json::from_value(json!({
        "destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["nosymfollow", "symfollow", "size=1m"]
    }))
    .expect("mount");
    let (options, fixup) = split_mount_options(&m);
    assert_eq!(options, Some(vec!["size=1m".to_string()]));
    assert_eq!(fixup, None);
    let plain: Mount = serde_json::from_value(json!({
        "destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]
    }))
    .expect("mount");
    assert_eq!(
        split_mount_options(&plain),
        (Some(vec!["nosuid".to_string()]), None)
    );
}

#[test]
fn plan_changes_nothing_for_a_plain_spec() {
    let s = spec(
        json!({ "mounts": [{ "destination": "/proc", "type": "proc", "source": "proc" }], "linux": { "resources": { "devices": [{ "allow": false, "access": "rwm" }, { "allow": true, "access": "rwm" }] } } }),
    );
    let (changed, after) = plan(&s);
    assert!(changed.is_none());
    // Nothing to do after create but the device program (cgroup v2), from the rules as given.
    let rules = s
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().clone());
    assert_eq!(
        after,
        AfterCreate {
            device_rules: rules,
            ..AfterCreate::default()
        }
    );
    // Planning the rewritten spec again changes nothing more.
    let s = spec(
        json!({ "mounts": [{ "destination": "/b", "type": "bind", "source": "/x", "options": ["rbind", "rprivate"] }] }),
    );
    let (changed, after) = plan(&s);
    let changed = changed.expect("options removed");
    assert_eq!(after.mounts.len(), 1);
    assert!(plan(&changed).0.is_none());
}

#[test]
fn plan_reads_disable_oom_killer() {
    let s = spec(
        json!({ "linux": { "resources": { "memory": { "limit": 1048576, "disableOOMKiller": true } } } }),
    );
    assert!(plan(&s).1.disable_oom_killer);
    let s = spec(json!({ "linux": { "resources": { "memory": { "disableOOMKiller": false } } } }));
    assert!(!plan(&s).1.disable_oom_killer);
}

#[test]
fn mknod_is_taken_back_only_when_the_allowlist_grants_it_to_nothing() {
    // The conformance case: deny all, allow b 7:0 rw.
    assert!(takes_back_mknod(&rules(json!([
        { "allow": false, "access": "rwm" },
        { "allow": true, "type": "b", "major": 7, "minor": 0, "access": "rw" }
    ]))));
    // Deny all alone.
    assert!(takes_back_mknod(&rules(
        json!([{ "allow": false, "access": "rwm" }])
    )));
    // An allowed m before the deny-all is wiped by it.
    assert!(takes_back_mknod(&rules(json!([
        { "allow": true, "type": "c", "access": "m" },
        { "allow": false }
    ]))));
    // Docker's default list (deny all, then the standard devices rwm): relies on the implicit
    // wildcard mknod, kept.
    assert!(!takes_back_mknod(&rules(json!([
        { "allow": false, "access": "rwm" },
        { "allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm" },
        { "allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm" },
        { "allow": false, "type": "c", "major": 10, "minor": 229, "access": "rwm" }
    ]))));
    // An allow entry without access means rwm.
    assert!(!takes_back_mknod(&rules(json!([
        { "allow": false, "access": "rwm" },
        { "allow": true, "type": "b", "major": 7, "minor": 0 }
    ]))));
    // Privileged (allow all), no rules, a deny-all that keeps m: nothing to take back.
    assert!(!takes_back_mknod(&rules(
        json!([{ "allow": true, "access": "rwm" }])
    )));
    assert!(!takes_back_mknod(&[]));
    assert!(!takes_back_mknod(&rules(
        json!([{ "allow": false, "access": "rw" }])
    )));
    // A deny of one device type only is not a deny-all.
    assert!(!takes_back_mknod(&rules(
        json!([{ "allow": false, "type": "b", "access": "rwm" }])
    )));
}

#[test]
fn devices_outside_dev() {
    let d = |p: &str| -> LinuxDevice {
        serde_json::from_value(json!({ "path": p, "type": "c", "major": 1, "minor": 3 }))
            .expect("device")
    };
    assert!(outside_dev(&d("/srv/rstdev")));
    assert!(outside_dev(&d("/devices/x")));
    assert!(!outside_dev(&d("/dev/null")));
    assert!(!outside_dev(&d("/dev/net/tun")));
}

#[test]
fn host_ids_through_mappings() {
    let maps: Vec<LinuxIdMapping> = serde_json::from_value(json!([
        { "containerID": 0, "hostID": 100000, "size": 1000 },
        { "containerID": 1000, "hostID": 300000, "size": 500 }
    ]))
    .expect("maps");
    assert_eq!(host_id(0, Some(&maps)), Some(100000));
    assert_eq!(host_id(999, Some(&maps)), Some(100999));
    assert_eq!(host_id(1000, Some(&maps)), Some(300000));
    assert_eq!(host_id(1499, Some(&maps)), Some(300499));
    assert_eq!(host_id(1500, Some(&maps)), None);
    assert_eq!(host_id(42, None), Some(42));
    assert_eq!(host_id(42, Some(&[])), Some(42));
}

#[test]
fn several_ranges_need_our_own_user_namespace() {
    let two = json!([{ "containerID": 0, "hostID": 100000, "size": 1000 }, { "containerID": 1000, "hostID": 300000, "size": 500 }]);
    let one = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    let s = |ns: serde_json::Value, u: &serde_json::Value, g: &serde_json::Value| {
        spec(json!({ "linux": { "namespaces": [ns], "uidMappings": u, "gidMappings": g } }))
    };
    assert!(several_ranges(&s(json!({ "type": "user" }), &two, &one)));
    assert!(several_ranges(&s(json!({ "type": "user" }), &one, &two)));
    assert!(!several_ranges(&s(json!({ "type": "user" }), &one, &one)));
    assert!(!several_ranges(&s(
        json!({ "type": "user", "path": "/proc/1/ns/user" }),
        &two,
        &two
    )));
}

#[test]
fn console_size_is_ignored_without_a_terminal() {
    let s = spec(
        json!({ "process": { "terminal": false, "consoleSize": { "height": 10, "width": 20 } } }),
    );
    in_container(&s).expect("ignored");
}

#[test]
fn update_keeps_what_create_set_unless_it_says_otherwise() {
    let saved = spec(json!({ "linux": { "resources": {
        "memory": { "disableOOMKiller": true },
        "devices": [{ "allow": false, "access": "rwm" }, { "allow": true, "type": "b", "major": 7, "minor": 0, "access": "rw" }]
    } } }));
    let res = |v: serde_json::Value| -> oci_spec::runtime::LinuxResources {
        serde_json::from_value(v).expect("resources")
    };
    let a = plan_update(Some(&saved), &res(json!({ "pids": { "limit": 10 } })));
    assert!(a.disable_oom_killer && a.take_back_mknod);
    let a = plan_update(
        Some(&saved),
        &res(
            json!({ "memory": { "limit": 1048576, "disableOOMKiller": false }, "devices": [{ "allow": true, "access": "rwm" }] }),
        ),
    );
    assert!(!a.disable_oom_killer && !a.take_back_mknod);
    let a = plan_update(None, &res(json!({ "memory": { "limit": 1048576 } })));
    assert_eq!(a, AfterCreate::default());
}
