//! `hardened doctor`: what this host gives the runtime, one line per capability, each `ok`,
//! `warn` or `fail` with the fix. Exits 1 when a check fails.
//!
//! Read-only: doctor never changes the host. The probes that need the kernel to act leave
//! nothing behind: the user namespace is held by a child process that exits; the idmapped-mount
//! probe clones a storage directory's mount with `open_tree(OPEN_TREE_CLONE)`, idmaps the clone
//! (`mount_setattr(MOUNT_ATTR_IDMAP)`) and closes it: a detached clone is attached nowhere, in
//! no mount namespace, and goes with its descriptor; the mount-API probe makes an `fsopen`
//! context and a detached clone of `/`, and closes both. The parsers are pure functions, tested
//! below; integration/doctor.rs checks the lines against the host.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use std::collections::BTreeSet;

use anyhow::Result;
use serde::Serialize;

use crate::cli::{Doctor, DoctorFormat};
use crate::policy::{self, Policy};

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One line of the report (`--format json`: these field names are stable).
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The check's ID (e.g. `user-namespaces`).
    pub check: &'static str,
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do about it (None when nothing is to be done).
    pub fix: Option<String>,
}

fn line(check: &'static str, status: Status, detail: impl Into<String>) -> Check {
    Check {
        check,
        status,
        detail: detail.into(),
        fix: None,
    }
}

impl Check {
    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// Docker's, containerd's and podman's image stores: idmapped mounts must work on their
/// filesystems for a container's root filesystem to be idmapped.
const STORES: &[(&str, &str, &str)] = &[
    ("idmap-docker", "Docker", "/var/lib/docker"),
    ("idmap-containerd", "containerd", "/var/lib/containerd"),
    ("idmap-podman", "podman", "/var/lib/containers"),
];

pub fn doctor(policy_arg: Option<&Path>, root: &Path, a: &Doctor) -> Result<i32> {
    let checks = run_checks(policy_arg, root);
    let failed = checks.iter().any(|c| c.status == Status::Fail);
    match a.format {
        DoctorFormat::Json => println!("{}", serde_json::to_string_pretty(&checks)?),
        DoctorFormat::Text => {
            let width = checks.iter().map(|c| c.check.len()).max().unwrap_or(0);
            for c in &checks {
                let fix = c
                    .fix
                    .as_deref()
                    .map(|f| format!("; fix: {f}"))
                    .unwrap_or_default();
                println!(
                    "{:4}  {:width$}  {}{fix}",
                    c.status.as_str(),
                    c.check,
                    c.detail
                );
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// Every check, in the order printed.
pub fn run_checks(policy_arg: Option<&Path>, root: &Path) -> Vec<Check> {
    let (policy_check, policy) = check_policy(policy_arg);
    // The later checks judge the host against the policy in force (its defaults when invalid:
    // the policy line says so).
    let policy_ok = policy.is_some();
    let policy = policy.unwrap_or_default();
    let mut v = vec![policy_check];
    let (userns_check, userns) = check_user_namespaces(&policy);
    v.push(userns_check);
    v.push(check_id_ranges(&policy, root, policy_ok));
    for (id, engine, dir) in STORES {
        v.push(check_idmap(
            id,
            engine,
            Path::new(dir),
            userns.as_ref(),
            &policy,
        ));
    }
    v.push(check_mount_api());
    v.extend(check_cgroups());
    v.extend(check_seccomp());
    v.push(check_lsm());
    v.push(check_trace_events());
    v.push(check_docker());
    v.push(check_containerd());
    v.push(check_podman());
    v
}

/// The policy in force, loaded as `create` loads it.
fn check_policy(arg: Option<&Path>) -> (Check, Option<Policy>) {
    match policy::load(arg) {
        Ok(p) => (
            line(
                "policy",
                Status::Ok,
                format!("{}: {}", p.file_name(), super::policy::summary(&p)),
            ),
            Some(p),
        ),
        Err(e) => (
            line("policy", Status::Fail, e.to_string()).fix(
                "correct the policy file (hardened policy validate FILE shows the first \
                 problem; the keys: docs/policy.md): create and run refuse every container \
                 until then",
            ),
            None,
        ),
    }
}

/// A number in a /proc/sys file.
fn sysctl(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// User namespaces: the sysctls, and one made (with the pool's first range mapped), whose
/// descriptor the idmap probes use.
fn check_user_namespaces(policy: &Policy) -> (Check, Option<OwnedFd>) {
    let max = sysctl("/proc/sys/user/max_user_namespaces");
    let unpriv = sysctl("/proc/sys/kernel/unprivileged_userns_clone");
    let mut facts = match max {
        Some(n) => format!("user.max_user_namespaces = {n}"),
        None => "user.max_user_namespaces unreadable".to_string(),
    };
    if let Some(u) = unpriv {
        facts.push_str(&format!(
            ", kernel.unprivileged_userns_clone = {u} (only unprivileged users need it)"
        ));
    }
    let sysctl_fix = "set the sysctl user.max_user_namespaces to at least the number of \
                      containers (e.g. 15000, in /etc/sysctl.d/hardened.conf), then sysctl --system";
    if max == Some(0) {
        return (
            line(
                "user-namespaces",
                Status::Fail,
                format!("{facts}: no user namespace can be made"),
            )
            .fix(sysctl_fix),
            None,
        );
    }
    let range = crate::userns::alloc::pool_of(&policy.user_namespace)
        .map(|p| p.range(0))
        .unwrap_or(crate::userns::IdRange {
            host_start: 1_000_000_000,
            size: crate::userns::RANGE_SIZE,
        });
    match crate::userns::idmap::userns_fd(range) {
        Ok(fd) => (
            line(
                "user-namespaces",
                Status::Ok,
                format!(
                    "{facts}; one made with host IDs {}-{} mapped",
                    range.host_start,
                    range.host_start as u64 + range.size as u64 - 1
                ),
            ),
            Some(fd),
        ),
        Err(e) => (
            line(
                "user-namespaces",
                if policy.defaults.user_namespace {
                    Status::Fail
                } else {
                    Status::Warn
                },
                format!("{facts}; making one failed: {e:#}"),
            )
            .fix(format!(
                "run hardened as root on a kernel with user namespaces (CONFIG_USER_NS); {sysctl_fix}"
            )),
            None,
        ),
    }
}

/// Users whose `/etc/subuid` (or subgid) ranges overlap `[start, end)`, but `except`.
pub fn subid_overlaps(text: &str, start: u64, end: u64, except: Option<&str>) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let (user, s, n) = (f.next()?, f.next()?, f.next()?);
            let (s, n): (u64, u64) = (s.parse().ok()?, n.parse().ok()?);
            (Some(user) != except && s < end && start < s + n).then(|| user.to_string())
        })
        .collect()
}

/// The pool of host ID ranges: where it comes from, that nothing else hands out its IDs, and
/// how much of it is in use.
fn check_id_ranges(policy: &Policy, root: &Path, policy_ok: bool) -> Check {
    let cfg = &policy.user_namespace;
    let pool =
        match crate::userns::alloc::pool_of(cfg) {
            Ok(p) => p,
            Err(e) => return line("id-ranges", Status::Fail, e.to_string()).fix(
                "give the subid_user of [user_namespace] a range of at least 65536 IDs in both \
                 /etc/subuid and /etc/subgid (usermod --add-subuids/--add-subgids), or remove \
                 subid_user to use start and ranges",
            ),
        };
    let start = pool.start as u64;
    let end = start + pool.ranges as u64 * crate::userns::RANGE_SIZE as u64;
    let source = match &cfg.subid_user {
        Some(u) => format!("{u}'s entries in /etc/subuid and /etc/subgid"),
        None => "[user_namespace] start and ranges".to_string(),
    };
    let used = crate::userns::alloc::list(root).len();
    let mut detail = format!(
        "{} ranges of 65536 (host IDs {start}-{}) from {source}{}; {used} in use under {}",
        pool.ranges,
        end - 1,
        if policy_ok {
            ""
        } else {
            " (the built-in defaults: the policy is invalid)"
        },
        root.display()
    );
    let mut others = Vec::new();
    for file in ["/etc/subuid", "/etc/subgid"] {
        if let Ok(text) = std::fs::read_to_string(file) {
            for u in subid_overlaps(&text, start, end, cfg.subid_user.as_deref()) {
                if !others.contains(&u) {
                    others.push(u);
                }
            }
        }
    }
    if !others.is_empty() {
        detail.push_str(&format!(
            "; the pool overlaps the subordinate IDs of {} (/etc/subuid, /etc/subgid)",
            others.join(", ")
        ));
        return line("id-ranges", Status::Warn, detail).fix(
            "move the pool ([user_namespace] start and ranges in the policy) off the ranges \
             other users are given in /etc/subuid and /etc/subgid, or take it from a user of \
             its own with subid_user: a rootless container of theirs would share host IDs with \
             hardened's containers",
        );
    }
    if used as u64 >= pool.ranges as u64 {
        return line("id-ranges", Status::Warn, detail).fix(
            "every range is in use: raise [user_namespace] ranges in the policy, or delete \
             stopped containers",
        );
    }
    line("id-ranges", Status::Ok, detail)
}

/// Idmapped mounts on the filesystem of an engine's image store.
fn check_idmap(
    id: &'static str,
    engine: &str,
    dir: &Path,
    userns: Option<&OwnedFd>,
    policy: &Policy,
) -> Check {
    if !dir.is_dir() {
        return line(
            id,
            Status::Ok,
            format!(
                "{} does not exist ({engine} not installed): nothing to check",
                dir.display()
            ),
        );
    }
    let fs = fs_type(dir).unwrap_or_else(|| "unknown filesystem".into());
    let Some(userns) = userns else {
        return line(
            id,
            Status::Warn,
            format!(
                "{} ({fs}): not tried, no user namespace could be made",
                dir.display()
            ),
        )
        .fix("see the user-namespaces line");
    };
    match crate::userns::idmap::idmapped_clone(dir, userns, false) {
        Ok(clone) => {
            drop(clone);
            line(
                id,
                Status::Ok,
                format!(
                    "{} ({fs}): idmapped mounts work, so {engine}'s images keep their owners in a container's user namespace",
                    dir.display()
                ),
            )
        }
        Err(e) => line(
            id,
            if policy.defaults.user_namespace {
                Status::Fail
            } else {
                Status::Warn
            },
            format!(
                "{} ({fs}): an idmapped mount failed: {e:#}; containers of {engine} cannot get a user namespace of their own",
                dir.display()
            ),
        )
        .fix(format!(
            "keep {engine}'s storage on a filesystem that supports idmapped mounts (ext4, xfs, \
             btrfs, tmpfs on Linux 6.3 or later), or set user_namespace = false in the policy \
             (docs/policy.md)"
        )),
    }
}

/// The filesystem type of the mount `path` is on (from /proc/self/mountinfo).
fn fs_type(path: &Path) -> Option<String> {
    let canon = std::fs::canonicalize(path).ok()?;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mount_fs_type(&info, &canon)
}

/// The filesystem type of the deepest mount in `mountinfo` that holds `path`.
pub fn mount_fs_type(mountinfo: &str, path: &Path) -> Option<String> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split(' ').collect();
            let point = PathBuf::from(unescape(fields.get(4)?));
            let sep = fields.iter().position(|f| *f == "-")?;
            let fs = fields.get(sep + 1)?;
            path.starts_with(&point)
                .then(|| (point.components().count(), fs.to_string()))
        })
        // The last of the deepest (max_by keeps the last of equals): a later mount over the
        // same point hides the earlier.
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, fs)| fs)
}

/// mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let (b'\\', Some(d)) = (b[i], octal) {
            out.push(
                d.iter()
                    .fold(0u8, |n, c| n.wrapping_mul(8).wrapping_add(c - b'0')),
            );
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// fsopen, open_tree and mount_setattr: the idmapped mounts and the per-mount fixups need them.
fn check_mount_api() -> Check {
    use rustix::mount::{fsopen, open_tree, FsOpenFlags, OpenTreeFlags};
    let fix = "run a kernel with the new mount API (Linux 5.12 or later for mount_setattr): \
               hardened needs it for idmapped mounts";
    if let Err(e) = fsopen("tmpfs", FsOpenFlags::FSOPEN_CLOEXEC) {
        return line("mount-api", Status::Fail, format!("fsopen(\"tmpfs\"): {e}")).fix(fix);
    }
    let clone = match open_tree(
        rustix::fs::CWD,
        "/",
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    ) {
        Ok(fd) => fd,
        Err(e) => {
            return line(
                "mount-api",
                Status::Fail,
                format!("open_tree(OPEN_TREE_CLONE): {e}"),
            )
            .fix(fix)
        }
    };
    // No attribute set or cleared: a valid call that changes nothing (on a clone attached
    // nowhere).
    let attr = crate::userns::idmap::MountAttr {
        attr_set: 0,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    if let Err(e) = crate::userns::idmap::mount_setattr(&clone, false, &attr) {
        if e.raw_os_error() == Some(libc::ENOSYS) {
            return line("mount-api", Status::Fail, format!("mount_setattr: {e}")).fix(fix);
        }
    }
    line(
        "mount-api",
        Status::Ok,
        "fsopen, open_tree and mount_setattr work",
    )
}

/// The kernel's trace events that hints and learn mode read (docs/learn.md). Looked at through
/// tracefs in this command's private mount namespace where the host has none mounted.
fn check_trace_events() -> Check {
    let tf =
        match crate::trace::Tracefs::reach() {
            Ok(t) => t,
            Err(e) => return line("trace-events", Status::Warn, format!("{e}")).fix(
                "hints and learn mode need tracefs (CONFIG_FTRACE); containers run without them",
            ),
        };
    let wanted: BTreeSet<&str> = crate::learn::EVENTS
        .iter()
        .copied()
        .chain(["sched/sched_process_exit"])
        .collect();
    let missing: Vec<&str> = wanted.into_iter().filter(|e| !tf.has_event(e)).collect();
    if missing.is_empty() {
        return line(
            "trace-events",
            Status::Ok,
            "capability:cap_capable, raw_syscalls:sys_enter, the sched events and task:task_rename are there: hints and learn mode work",
        );
    }
    line(
        "trace-events",
        Status::Warn,
        format!(
            "the kernel lacks {}: no hints, and learn mode refuses to start",
            missing.join(", ")
        ),
    )
    .fix("a kernel with the tracepoint capability:cap_capable (Linux 6.14 or later) and syscall tracing (CONFIG_FTRACE_SYSCALLS); containers run without them")
}

/// The cgroup layout, the pids controller, and device control.
fn check_cgroups() -> Vec<Check> {
    use libcgroups::common::CgroupSetup;
    let setup = match libcgroups::common::get_cgroup_setup() {
        Ok(s) => s,
        Err(e) => {
            return vec![line(
                "cgroups",
                Status::Fail,
                format!("no cgroup hierarchy found: {e}"),
            )
            .fix("mount cgroup2 on /sys/fs/cgroup (or let systemd do it)")]
        }
    };
    let root = Path::new("/sys/fs/cgroup");
    let (mode, pids, devices) = match setup {
        CgroupSetup::Unified => {
            let controllers =
                std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
            let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
            ("v2 (unified)", has("pids"), v2_device_control())
        }
        CgroupSetup::Hybrid => (
            "hybrid (v1 controllers, cgroup2 at /sys/fs/cgroup/unified)",
            root.join("pids").is_dir(),
            v1_device_control(root),
        ),
        CgroupSetup::Legacy => (
            "v1 (legacy)",
            root.join("pids").is_dir(),
            v1_device_control(root),
        ),
    };
    let cg = if pids {
        line(
            "cgroups",
            Status::Ok,
            format!("{mode}; pids controller present"),
        )
    } else {
        line(
            "cgroups",
            Status::Fail,
            format!("{mode}; no pids controller: the pids limit cannot be set"),
        )
        .fix("enable the pids controller (CONFIG_CGROUP_PIDS; on cgroup v2, +pids in the root's cgroup.subtree_control)")
    };
    vec![cg, devices]
}

fn v1_device_control(root: &Path) -> Check {
    if root.join("devices").is_dir() {
        line(
            "device-control",
            Status::Ok,
            "the v1 devices controller is mounted",
        )
    } else {
        line(
            "device-control",
            Status::Warn,
            "no v1 devices controller at /sys/fs/cgroup/devices: device rules are not enforced",
        )
        .fix("mount the devices controller (CONFIG_CGROUP_DEVICE)")
    }
}

/// On cgroup v2, device rules are eBPF programs (libcgroups' `cgroupsv2_devices`, always built
/// in). Before loading one, libcgroups sets RLIMIT_MEMLOCK to 128 MiB, soft and hard: where the
/// hard limit is lower and the runtime lacks CAP_SYS_RESOURCE, every create fails with
/// "Failed to increase rlimit".
fn v2_device_control() -> Check {
    const NEEDED: u64 = 128 << 20;
    let hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_MEMLOCK)
        .map(|(_, hard)| hard)
        .unwrap_or(0);
    let raise = caps::has_cap(
        None,
        caps::CapSet::Effective,
        caps::Capability::CAP_SYS_RESOURCE,
    )
    .unwrap_or(false);
    if hard >= NEEDED || raise {
        line(
            "device-control",
            Status::Ok,
            "cgroup v2 device control: an eBPF device program per container",
        )
    } else {
        line(
            "device-control",
            Status::Fail,
            format!(
                "RLIMIT_MEMLOCK's hard limit is {} KiB and the runtime lacks CAP_SYS_RESOURCE: \
                 loading a container's device program needs 128 MiB, so every create fails \
                 (\"Failed to increase rlimit\")",
                hard >> 10
            ),
        )
        .fix("raise the hard memlock limit of the engine that runs hardened to 128 MiB or more (LimitMEMLOCK= in its systemd unit, or limits.conf), or run it with CAP_SYS_RESOURCE")
    }
}

/// The seccomp actions the kernel lists (`/proc/sys/kernel/seccomp/actions_avail`): whether
/// filters can deny (`errno`, `kill_process`) and whether user notification exists.
pub fn seccomp_actions(text: &str) -> (bool, bool) {
    let has = |a: &str| text.split_whitespace().any(|x| x == a);
    (has("errno") && has("kill_process"), has("user_notif"))
}

fn check_seccomp() -> Vec<Check> {
    let Ok(text) = std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail") else {
        return vec![line(
            "seccomp",
            Status::Fail,
            "no /proc/sys/kernel/seccomp/actions_avail: this kernel has no seccomp filters",
        )
        .fix("run a kernel built with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER")];
    };
    let (filters, notify) = seccomp_actions(&text);
    let actions = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let f = if filters {
        line(
            "seccomp",
            Status::Ok,
            format!("filters work (actions: {actions})"),
        )
    } else {
        line(
            "seccomp",
            Status::Fail,
            format!("the kernel lacks the errno or kill_process action (actions: {actions})"),
        )
        .fix("run a kernel with seccomp filters (Linux 4.14 or later)")
    };
    let n = if notify {
        line(
            "seccomp-notify",
            Status::Ok,
            "user notification (SECCOMP_RET_USER_NOTIF) available: system calls a profile refuses are hinted",
        )
    } else {
        line(
            "seccomp-notify",
            Status::Warn,
            "no user notification: configs with a seccomp listener (linux.seccomp.listenerPath) fail, and refused system calls get no hints",
        )
        .fix("run Linux 5.0 or later")
    };
    vec![f, n]
}

/// The active LSMs, from `/sys/kernel/security/lsm` ("capability,landlock,yama,apparmor").
pub fn lsm_list(text: &str) -> Vec<String> {
    text.trim()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// AppArmor or SELinux: enabled, and a profile loadable.
fn check_lsm() -> Check {
    // Without securityfs (not mounted), what /sys/module and /sys/fs say.
    let apparmor_module = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .map(|s| s.trim() == "Y")
        .unwrap_or(false);
    let (active, lsms) = match std::fs::read_to_string("/sys/kernel/security/lsm") {
        Ok(text) => {
            let lsms = lsm_list(&text);
            (format!("active LSMs: {}", lsms.join(",")), lsms)
        }
        Err(_) => {
            let mut lsms = Vec::new();
            if apparmor_module {
                lsms.push("apparmor".to_string());
            }
            if Path::new("/sys/fs/selinux/enforce").exists() {
                lsms.push("selinux".to_string());
            }
            (
                format!(
                    "securityfs is not mounted (no /sys/kernel/security/lsm); from /sys/module and /sys/fs: {}",
                    if lsms.is_empty() { "no AppArmor, no SELinux".to_string() } else { lsms.join(",") }
                ),
                lsms,
            )
        }
    };
    if lsms.iter().any(|l| l == "apparmor") {
        let enabled = apparmor_module;
        let loadable = Path::new("/sys/kernel/security/apparmor/.load").exists();
        let parser = in_path("apparmor_parser");
        return match (enabled, loadable, parser) {
            (true, true, Some(p)) => line(
                "lsm",
                Status::Ok,
                format!("{active}; AppArmor enabled, profiles loadable ({})", p.display()),
            ),
            (true, true, None) => line(
                "lsm",
                Status::Warn,
                format!("{active}; AppArmor enabled, but apparmor_parser is missing: no profile can be loaded"),
            )
            .fix("apt-get install apparmor"),
            _ => line(
                "lsm",
                Status::Warn,
                format!("{active}; AppArmor is listed but not enabled or its securityfs interface is missing"),
            )
            .fix("boot with apparmor=1 security=apparmor and mount securityfs"),
        };
    }
    if lsms.iter().any(|l| l == "selinux") {
        let enforce = std::fs::read_to_string("/sys/fs/selinux/enforce")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        return match enforce.as_str() {
            "1" => line("lsm", Status::Ok, format!("{active}; SELinux enforcing")),
            "0" => line("lsm", Status::Warn, format!("{active}; SELinux permissive"))
                .fix("setenforce 1 (and SELINUX=enforcing in /etc/selinux/config)"),
            _ => line(
                "lsm",
                Status::Warn,
                format!("{active}; SELinux without /sys/fs/selinux"),
            )
            .fix("mount selinuxfs on /sys/fs/selinux"),
        };
    }
    line(
        "lsm",
        Status::Warn,
        format!("{active}; neither AppArmor nor SELinux: containers get no mandatory access control (the other layers still hold)"),
    )
    .fix("enable AppArmor: apt-get install apparmor, boot with apparmor=1 security=apparmor")
}

/// The runtimes of an engine's config that are hardened: (name, path) whose path is this
/// binary or a file named `hardened`.
pub fn hardened_entries(
    entries: &[(String, String)],
    this: Option<&Path>,
) -> Vec<(String, String)> {
    entries
        .iter()
        .filter(|(_, path)| {
            let p = Path::new(path);
            p.file_name().is_some_and(|f| f == "hardened")
                || this.is_some_and(|t| std::fs::canonicalize(p).ok().as_deref() == Some(t))
        })
        .cloned()
        .collect()
}

/// An installer's reader of the runtimes a config registers: (name, path).
type RuntimesOf = fn(&str, &Path) -> Result<Vec<(String, String)>, crate::install::InstallError>;

/// What one engine's config files say (`files`: path and text), as an ok/warn line.
fn registration(
    id: &'static str,
    engine: &str,
    program: &str,
    files: &[(PathBuf, String)],
    parse: RuntimesOf,
    install: &str,
) -> Check {
    let this = std::env::current_exe()
        .ok()
        .and_then(|p| std::fs::canonicalize(p).ok());
    let mut found = Vec::new();
    for (file, text) in files {
        match parse(text, file) {
            Ok(entries) => {
                for (name, path) in hardened_entries(&entries, this.as_deref()) {
                    found.push((file.clone(), name, path));
                }
            }
            Err(e) => {
                return line(id, Status::Warn, format!("{e}"))
                    .fix(format!("correct the file, then {install}"))
            }
        }
    }
    let installed = !files.is_empty() || in_path(program).is_some();
    if found.is_empty() {
        return if installed {
            line(
                id,
                Status::Warn,
                format!("{engine} is installed, hardened is not registered with it"),
            )
            .fix(format!("{install} (docs: README.md)"))
        } else {
            line(
                id,
                Status::Ok,
                format!("{engine} not installed (no {program}, no config): nothing to register"),
            )
        };
    }
    let missing: Vec<&(PathBuf, String, String)> = found
        .iter()
        .filter(|(_, _, path)| !Path::new(path).is_file())
        .collect();
    let list: Vec<String> = found
        .iter()
        .map(|(f, n, p)| format!("{n} = {p} ({})", f.display()))
        .collect();
    if let Some((f, n, p)) = missing.first() {
        return line(
            id,
            Status::Warn,
            format!("registered: {}; but {p} does not exist", list.join(", ")),
        )
        .fix(format!(
            "install hardened at {p}, or register it again: {install} --name {n} --config {}",
            f.display()
        ));
    }
    line(id, Status::Ok, format!("registered: {}", list.join(", ")))
}

/// A config file's text; None when it does not exist or cannot be read.
fn read(path: &Path) -> Option<(PathBuf, String)> {
    std::fs::read_to_string(path)
        .ok()
        .map(|t| (path.to_path_buf(), t))
}

fn check_docker() -> Check {
    let files: Vec<_> = read(Path::new("/etc/docker/daemon.json"))
        .into_iter()
        .collect();
    registration(
        "docker",
        "Docker",
        "dockerd",
        &files,
        crate::install::docker::runtimes,
        "hardened install docker",
    )
}

fn check_containerd() -> Check {
    let files: Vec<_> = read(Path::new("/etc/containerd/config.toml"))
        .into_iter()
        .collect();
    registration(
        "containerd",
        "containerd",
        "containerd",
        &files,
        crate::install::containerd::runtimes,
        "hardened install containerd",
    )
}

fn check_podman() -> Check {
    // podman reads the main file, then the drop-ins in name order.
    let mut paths = vec![
        PathBuf::from("/usr/share/containers/containers.conf"),
        PathBuf::from("/etc/containers/containers.conf"),
    ];
    if let Ok(dir) = std::fs::read_dir("/etc/containers/containers.conf.d") {
        let mut drop_ins: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "conf"))
            .collect();
        drop_ins.sort();
        paths.extend(drop_ins);
    }
    let files: Vec<_> = paths.iter().filter_map(|p| read(p)).collect();
    registration(
        "podman",
        "podman",
        "podman",
        &files,
        crate::install::podman::runtimes,
        "hardened install podman",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subid_overlaps_finds_the_users_sharing_the_pool() {
        let text = "alice:100000:65536\nbob:1000000000:65536\n# junk\ncarol:x:1\nhardened:2000000000:65536\n";
        let pool = (1_000_000_000u64, 1_000_000_000u64 + 16384 * 65536);
        assert_eq!(
            subid_overlaps(text, pool.0, pool.1, None),
            ["bob", "hardened"]
        );
        assert_eq!(
            subid_overlaps(text, pool.0, pool.1, Some("hardened")),
            ["bob"]
        );
        // Adjacent is not overlapping.
        assert!(subid_overlaps("a:100:100\n", 200, 300, None).is_empty());
        assert_eq!(subid_overlaps("a:100:101\n", 200, 300, None), ["a"]);
    }

    #[test]
    fn seccomp_actions_of_this_kernel_and_older_ones() {
        let now = "kill_process kill_thread trap errno user_notif trace log allow\n";
        assert_eq!(seccomp_actions(now), (true, true));
        assert_eq!(
            seccomp_actions("kill_process kill_thread trap errno trace log allow"),
            (true, false)
        );
        assert_eq!(seccomp_actions(""), (false, false));
    }

    #[test]
    fn lsm_lists() {
        assert_eq!(
            lsm_list("lockdown,capability,landlock,yama,apparmor,tomoyo,bpf\n"),
            [
                "lockdown",
                "capability",
                "landlock",
                "yama",
                "apparmor",
                "tomoyo",
                "bpf"
            ]
        );
        assert_eq!(lsm_list("capability"), ["capability"]);
        assert!(lsm_list("\n").is_empty());
    }

    #[test]
    fn the_deepest_mount_gives_the_filesystem() {
        let info = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:25 / /var/lib/docker rw shared:2 - xfs /dev/sdb rw
31 30 0:26 / /var/lib/docker/overlay2/x/merged rw - overlay overlay rw
32 22 0:27 / /var/lib/my\\040dir rw - tmpfs tmpfs rw
";
        let fs = |p: &str| mount_fs_type(info, Path::new(p));
        assert_eq!(fs("/var/lib/docker").as_deref(), Some("xfs"));
        assert_eq!(fs("/var/lib/docker/overlay2").as_deref(), Some("xfs"));
        assert_eq!(fs("/var/lib/containerd").as_deref(), Some("ext4"));
        assert_eq!(fs("/var/lib/my dir/x").as_deref(), Some("tmpfs"));
        // A later mount on the same point hides the earlier one.
        let stacked = format!("{info}40 30 0:30 / /var/lib/docker rw - btrfs /dev/sdc rw\n");
        assert_eq!(
            mount_fs_type(&stacked, Path::new("/var/lib/docker")).as_deref(),
            Some("btrfs")
        );
    }

    #[test]
    fn hardened_entries_by_name_or_by_this_binary() {
        let entries = vec![
            ("runc".to_string(), "/usr/bin/runc".to_string()),
            (
                "hardened".to_string(),
                "/usr/local/bin/hardened".to_string(),
            ),
            ("h2".to_string(), "/opt/x/hardened".to_string()),
            ("crun".to_string(), "crun".to_string()),
        ];
        let names: Vec<String> = hardened_entries(&entries, None)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["hardened", "h2"]);
        // This binary under another name counts too.
        let sh = std::fs::canonicalize("/bin/sh").expect("sh");
        let e = vec![("mine".to_string(), "/bin/sh".to_string())];
        assert_eq!(hardened_entries(&e, Some(&sh)).len(), 1);
    }

    /// The engines' configs through the installers' own parsers.
    #[test]
    fn registrations_read_through_the_installers() {
        let docker = r#"{"runtimes": {"hardened": {"path": "/usr/local/bin/hardened"}, "runsc": {"path": "/usr/bin/runsc"}}}"#;
        let got = crate::install::docker::runtimes(docker, Path::new("d.json")).expect("docker");
        assert_eq!(hardened_entries(&got, None).len(), 1);
        let containerd = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.hardened]\nruntime_type = \"io.containerd.runc.v2\"\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.hardened.options]\nBinaryName = \"/usr/local/bin/hardened\"\n";
        let got = crate::install::containerd::runtimes(containerd, Path::new("c.toml"))
            .expect("containerd");
        assert_eq!(
            got,
            [(
                "hardened".to_string(),
                "/usr/local/bin/hardened".to_string()
            )]
        );
        let podman = "[engine.runtimes]\nhardened = [\"/usr/local/bin/hardened\"]\ncrun = [\"/usr/bin/crun\"]\n";
        let got = crate::install::podman::runtimes(podman, Path::new("p.conf")).expect("podman");
        assert_eq!(hardened_entries(&got, None).len(), 1);
        assert!(crate::install::docker::runtimes("{", Path::new("d.json")).is_err());
    }
}
