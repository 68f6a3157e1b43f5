//! `hardened doctor` on this host, its lines checked against facts the test reads itself
//! (/proc/self/mountinfo, /sys/kernel/security/lsm, /proc/sys). Written for any host: this one
//! (cgroup v1 hybrid, no LSM) and the cgroup v2 + AppArmor guest alike.

mod common;

use std::path::Path;
use std::process::Command;

use common::{run, Out, Sandbox};
use serde_json::Value;

/// The check IDs, in the order doctor prints them.
const CHECKS: &[&str] = &[
    "policy",
    "user-namespaces",
    "id-ranges",
    "idmap-docker",
    "idmap-containerd",
    "idmap-podman",
    "mount-api",
    "cgroups",
    "device-control",
    "seccomp",
    "seccomp-notify",
    "lsm",
    "trace-events",
    "docker",
    "containerd",
    "podman",
];

fn doctor(sb: &Sandbox, policy: &Path, args: &[&str]) -> Out {
    run(Command::new(common::hardened_bin())
        .arg("--root")
        .arg(sb.root())
        .arg("--policy")
        .arg(policy)
        .arg("doctor")
        .args(args))
}

fn checks(out: &Out) -> Vec<Value> {
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    v.as_array().expect("an array").clone()
}

fn find<'a>(checks: &'a [Value], id: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["check"] == id)
        .unwrap_or_else(|| panic!("no {id} check in {checks:?}"))
}

/// The cgroup layout as the test reads it: "v2", "hybrid" or "v1".
fn cgroup_mode() -> &'static str {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let fs_at = |point: &str| {
        info.lines()
            .rev()
            .filter(|l| l.split(' ').nth(4) == Some(point))
            .filter_map(|l| l.split(" - ").nth(1)?.split(' ').next())
            .next()
            .map(String::from)
    };
    match (
        fs_at("/sys/fs/cgroup").as_deref(),
        fs_at("/sys/fs/cgroup/unified").as_deref(),
    ) {
        (Some("cgroup2"), _) => "v2",
        (_, Some("cgroup2")) => "hybrid",
        _ => "v1",
    }
}

/// The active LSMs: from securityfs, or (not mounted) from /sys/module and /sys/fs.
fn lsms() -> Vec<String> {
    match std::fs::read_to_string("/sys/kernel/security/lsm") {
        Ok(t) => t.trim().split(',').map(String::from).collect(),
        Err(_) => {
            let mut v = Vec::new();
            if std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
                .is_ok_and(|s| s.trim() == "Y")
            {
                v.push("apparmor".to_string());
            }
            if Path::new("/sys/fs/selinux/enforce").exists() {
                v.push("selinux".to_string());
            }
            v
        }
    }
}

#[test]
fn doctor_json_agrees_with_the_host() {
    let sb = Sandbox::new();
    let out = doctor(&sb, &sb.policy("enforce"), &["--format", "json"]);
    let checks = checks(&out);
    let ids: Vec<&str> = checks.iter().filter_map(|c| c["check"].as_str()).collect();
    assert_eq!(ids, CHECKS, "{out:?}");
    for c in &checks {
        let mut keys: Vec<&str> = c
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(keys, ["check", "detail", "fix", "status"], "{c}");
        let status = c["status"].as_str().expect("status");
        assert!(["ok", "warn", "fail"].contains(&status), "{c}");
        // Whatever is not ok says what to do.
        assert_eq!(status == "ok", c["fix"].is_null(), "{c}");
    }
    let failed = checks.iter().any(|c| c["status"] == "fail");
    assert_eq!(out.code, Some(if failed { 1 } else { 0 }), "{out:?}");

    let policy = find(&checks, "policy");
    assert_eq!(policy["status"], "ok", "{policy}");
    assert!(
        policy["detail"].as_str().unwrap().contains("version 1"),
        "{policy}"
    );

    // cgroups: the layout the test reads from mountinfo.
    let cg = find(&checks, "cgroups")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(cg.starts_with(cgroup_mode()), "{} vs {cg}", cgroup_mode());
    let dev = find(&checks, "device-control")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(cgroup_mode() == "v2", dev.contains("v2"), "{dev}");

    // LSM: what the kernel lists.
    let lsm = find(&checks, "lsm");
    let detail = lsm["detail"].as_str().unwrap();
    let active = lsms();
    match std::fs::read_to_string("/sys/kernel/security/lsm") {
        Ok(t) => assert!(
            detail.contains(&format!("active LSMs: {}", t.trim())),
            "{lsm}"
        ),
        Err(_) if active.is_empty() => assert!(detail.contains("no AppArmor, no SELinux"), "{lsm}"),
        Err(_) => assert!(detail.contains(&active.join(",")), "{lsm}"),
    }
    if !active.iter().any(|l| l == "apparmor" || l == "selinux") {
        assert_eq!(lsm["status"], "warn", "{lsm}");
    }

    // trace-events: the capability tracepoint came with Linux 6.14 (the test host runs 6.18, the
    // guest Debian 12's 6.1).
    let trace = find(&checks, "trace-events");
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    let mut parts = release.trim().split(['.', '-']);
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    if (major, minor) >= (6, 14) {
        assert_eq!(trace["status"], "ok", "{trace}");
    } else {
        assert_eq!(trace["status"], "warn", "{trace}");
        assert!(
            trace["detail"]
                .as_str()
                .unwrap_or("")
                .contains("capability/cap_capable")
                && trace["fix"].as_str().unwrap_or("").contains("6.14"),
            "{trace}"
        );
    }

    // seccomp: the kernel's actions.
    let actions =
        std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
    let has = |a: &str| actions.split_whitespace().any(|x| x == a);
    let seccomp = find(&checks, "seccomp");
    assert_eq!(
        seccomp["status"] == "ok",
        has("errno") && has("kill_process"),
        "{seccomp}"
    );
    let notify = find(&checks, "seccomp-notify");
    assert_eq!(notify["status"] == "ok", has("user_notif"), "{notify}");

    // User namespaces: the sysctl, and root can make one.
    let max: i64 = std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(-1);
    let userns = find(&checks, "user-namespaces");
    assert!(
        userns["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("user.max_user_namespaces = {max}")),
        "{userns}"
    );
    assert_eq!(userns["status"] == "ok", max > 0, "{userns}");

    // The image stores: probed where they exist.
    for (id, dir) in [
        ("idmap-docker", "/var/lib/docker"),
        ("idmap-containerd", "/var/lib/containerd"),
        ("idmap-podman", "/var/lib/containers"),
    ] {
        let c = find(&checks, id);
        let d = c["detail"].as_str().unwrap();
        assert!(d.starts_with(dir), "{c}");
        assert_eq!(
            Path::new(dir).is_dir(),
            !d.contains("does not exist"),
            "{c}"
        );
    }
}

#[test]
fn doctor_text_is_one_line_per_check_and_changes_nothing() {
    let sb = Sandbox::new();
    let mounts_before = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let out = doctor(&sb, &sb.policy("enforce"), &[]);
    let mounts_after = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    // Other processes of a busy host may mount meanwhile: only mounts where doctor probes
    // count (the image stores, the root it clones, the cgroup tree, the sandbox).
    let probed = |l: &&str| {
        let point = l.split(' ').nth(4).unwrap_or("");
        point == "/"
            || ["/var/lib", "/sys/fs/cgroup", "/run/hardened"]
                .iter()
                .any(|p| point.starts_with(p))
            || point.starts_with(&sb.dir.path().display().to_string())
    };
    let added: Vec<&str> = mounts_after
        .lines()
        .filter(|l| !mounts_before.lines().any(|b| b == *l))
        .filter(probed)
        .collect();
    assert!(added.is_empty(), "doctor left mounts: {added:?}");
    assert!(!sb.root().exists(), "doctor made the state root");
    let json = checks(&doctor(&sb, &sb.policy("enforce"), &["--format", "json"]));
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), json.len(), "{out:?}");
    for (l, c) in lines.iter().zip(&json) {
        let mut words = l.split_whitespace();
        assert_eq!(words.next(), c["status"].as_str(), "{l}");
        assert_eq!(words.next(), c["check"].as_str(), "{l}");
        if let Some(fix) = c["fix"].as_str() {
            assert!(l.ends_with(&format!("fix: {fix}")), "{l}");
        }
    }
}

#[test]
fn a_bad_policy_makes_doctor_fail() {
    let sb = Sandbox::new();
    for (name, body, says) in [
        ("version", "version = 7\n", "knows policy version(s) 1"),
        ("key", "[defaults]\nallow_caps = []\n", "allow_caps"),
    ] {
        let p = sb.dir.path().join(format!("bad-{name}.toml"));
        std::fs::write(&p, body).expect("write");
        let out = doctor(&sb, &p, &["--format", "json"]);
        assert_eq!(out.code, Some(1), "{out:?}");
        let checks = checks(&out);
        let policy = find(&checks, "policy");
        assert_eq!(policy["status"], "fail", "{policy}");
        assert!(
            policy["detail"].as_str().unwrap().contains(says),
            "{policy}"
        );
        assert!(
            policy["fix"].as_str().unwrap().contains("docs/policy.md"),
            "{policy}"
        );
        // The text form too.
        let text = doctor(&sb, &p, &[]);
        assert_eq!(text.code, Some(1), "{text:?}");
        assert!(
            text.stdout.lines().any(|l| l.starts_with("fail  policy")),
            "{text:?}"
        );
    }
}

/// A store on a filesystem that cannot be idmapped (an overlay mount itself) fails, with the
/// fix; with `user_namespace = false` it is only a warning. The overlay is mounted in a private
/// mount namespace (`unshare -m`) over a tmpfs on /var/lib: the host never sees it.
#[test]
fn a_store_that_cannot_be_idmapped_fails() {
    let sb = Sandbox::new();
    let no_userns = sb.dir.path().join("no-userns.toml");
    std::fs::write(
        &no_userns,
        format!(
            "audit_log = {:?}\n[defaults]\nuser_namespace = false\n",
            sb.audit_log().display().to_string()
        ),
    )
    .expect("write");
    for (policy, status) in [(sb.policy("enforce"), "fail"), (no_userns, "warn")] {
        let script = "mount --make-rprivate / && mount -t tmpfs tmpfs /var/lib && \
             mkdir /var/lib/l /var/lib/u /var/lib/w /var/lib/containers && \
             mount -t overlay overlay -o lowerdir=/var/lib/l,upperdir=/var/lib/u,workdir=/var/lib/w /var/lib/containers && \
             exec \"$0\" --root \"$1\" --policy \"$2\" doctor --format json";
        let out = run(Command::new("unshare")
            .args(["-m", "sh", "-c", script])
            .arg(common::hardened_bin())
            .arg(sb.root())
            .arg(&policy));
        let checks = checks(&out);
        let c = find(&checks, "idmap-podman");
        assert_eq!(c["status"], status, "{c}");
        let d = c["detail"].as_str().unwrap();
        assert!(
            d.starts_with("/var/lib/containers (overlay): an idmapped mount failed"),
            "{c}"
        );
        assert!(
            c["fix"]
                .as_str()
                .unwrap()
                .contains("user_namespace = false"),
            "{c}"
        );
        if status == "fail" {
            assert_eq!(out.code, Some(1), "{out:?}");
        }
    }
}
