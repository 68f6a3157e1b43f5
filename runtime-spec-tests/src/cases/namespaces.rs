//! config-linux.md Namespaces, User namespace mappings, timeOffsets.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

use anyhow::{bail, Result};
use serde_json::json;

use super::Case;
use crate::harness::*;

/// (config type, /proc/<pid>/ns file)
const TYPES: &[(&str, &str)] = &[
    ("pid", "pid"),
    ("network", "net"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("mount", "mnt"),
    ("cgroup", "cgroup"),
    ("user", "user"),
    ("time", "time"),
];

fn ns_file(typ: &str) -> &'static str {
    TYPES
        .iter()
        .find(|(t, _)| *t == typ)
        .map(|(_, f)| *f)
        .unwrap_or("")
}

fn host_ns(ctx: &Ctx<'_>, file: &str) -> Result<String> {
    match ctx.host.ns.get(file) {
        Some(v) => Ok(v.clone()),
        None => Err(skip(format!("the kernel has no {file} namespaces"))),
    }
}

/// The container's namespace `file` as its process sees it.
fn inside_ns(ctx: &mut Ctx<'_>, file: &str, edit: impl FnOnce(&mut Bundle)) -> Result<String> {
    let out = ctx.sh(&format!("readlink /proc/self/ns/{file}"), edit)?;
    Ok(out.trim().to_string())
}

fn new_ns_case(ctx: &mut Ctx<'_>, typ: &str) -> Result<()> {
    let file = ns_file(typ);
    let host = host_ns(ctx, file)?;
    let got = inside_ns(ctx, file, |b| {
        if typ == "user" {
            b.userns();
        } else {
            b.ns_set(typ, None);
        }
    })?;
    check(!got.is_empty() && got != host, || {
        format!("container {file} namespace {got:?} is the runtime's {host:?}")
    })
}

fn inherit_case(ctx: &mut Ctx<'_>, typ: &str) -> Result<()> {
    let file = ns_file(typ);
    let host = host_ns(ctx, file)?;
    let got = inside_ns(ctx, file, |b| {
        b.ns_remove(typ);
        if typ == "uts" {
            if let Some(o) = b.cfg.as_object_mut() {
                o.remove("hostname");
                o.remove("domainname");
            }
        }
    })?;
    check_eq(&format!("{file} namespace"), got, host)
}

/// A process holding new namespaces (util-linux unshare); the pid whose /proc/<pid>/ns/* to join.
fn holder(ctx: &mut Ctx<'_>, flags: &[&str]) -> Result<i32> {
    let mut cmd = Command::new("unshare");
    cmd.args(flags)
        .args(["--fork", "--kill-child", "sleep", "1000"]);
    let pid = ctx.helper(&mut cmd)?;
    let mut child = None;
    wait_for(WAIT, || {
        child = children_of(pid).into_iter().next();
        // Wait until the child has exec'd sleep (its namespaces are final then).
        child
            .map(|c| {
                fs::read_to_string(format!("/proc/{c}/comm"))
                    .map(|s| s.trim() == "sleep")
                    .unwrap_or(false)
            })
            .unwrap_or(false)
    });
    match child {
        Some(c) => Ok(c),
        None => bail!(
            "the namespace holder (unshare {}) did not start",
            flags.join(" ")
        ),
    }
}

fn join_case(ctx: &mut Ctx<'_>, typ: &str, flag: &str) -> Result<()> {
    let file = ns_file(typ);
    host_ns(ctx, file)?;
    let h = holder(ctx, &[flag])?;
    let want = proc_ns(h, file)?;
    let path = format!("/proc/{h}/ns/{file}");
    let got = inside_ns(ctx, file, |b| {
        b.ns_set(typ, Some(&path));
    })?;
    check_eq(&format!("{file} namespace"), got, want)
}

fn create_must_fail(ctx: &mut Ctx<'_>, what: &str, edit: impl FnOnce(&mut Bundle)) -> Result<()> {
    let mut b = ctx.bundle()?;
    b.args(&["true"]);
    edit(&mut b);
    let o = ctx.try_create(&b)?;
    if o.ok() {
        let s = ctx.try_start(&b.id)?;
        if s.ok() {
            bail!("create and start succeeded: {what}");
        }
    }
    Ok(())
}

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("namespaces/new-pid", "config-linux.md Namespaces: If path is not specified, the runtime MUST create a new container namespace of type type (pid).", |ctx| {
            new_ns_case(ctx, "pid")?;
            let out = ctx.sh("echo $$", |_| {})?;
            check_eq("pid of the container process in its namespace", out.trim(), "1")
        }),
        Case::new("namespaces/new-network", "config-linux.md Namespaces: If path is not specified, the runtime MUST create a new container namespace of type type (network).", |ctx| {
            new_ns_case(ctx, "network")?;
            let out = ctx.sh("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' '", |_| {})?;
            check_eq("interfaces in a new network namespace", out.trim(), "lo")
        }),
        Case::new("namespaces/new-ipc", "config-linux.md Namespaces: If path is not specified, the runtime MUST create a new container namespace of type type (ipc).", |ctx| new_ns_case(ctx, "ipc")),
        Case::new("namespaces/new-uts", "config-linux.md Namespaces: If path is not specified, the runtime MUST create a new container namespace of type type (uts).", |ctx| new_ns_case(ctx, "uts")),
        Case::new("namespaces/new-mount", "config-linux.md Namespaces: If path is not specified, the runtime MUST create a new container namespace of type type (mount).", |ctx| new_ns_case(ctx, "mount")),
        Case::new("namespaces/new-cgroup", "config-linux.md Namespaces: If path is not specified, the runtime MUST create a new container namespace of type type (cgroup).", |ctx| {
            new_ns_case(ctx, "cgroup")?;
            let out = ctx.sh("cat /proc/self/cgroup", |b| b.ns_set("cgroup", None))?;
            let bad: Vec<&str> = out.lines().filter(|l| !l.ends_with(":/")).collect();
            check(bad.is_empty(), || format!("cgroup paths not rooted at the namespace: {bad:?}"))
        }),
        Case::new("namespaces/new-user", "config-linux.md Namespaces: If path is not specified, the runtime MUST create a new container namespace of type type (user).", |ctx| new_ns_case(ctx, "user")),
        Case::new("namespaces/new-time", "config-linux.md Namespaces: If path is not specified, the runtime MUST create a new container namespace of type type (time).", |ctx| new_ns_case(ctx, "time")),
        Case::new("namespaces/inherit-network", "config-linux.md Namespaces: If a namespace type is not specified in the namespaces array, the container MUST inherit the runtime namespace of that type (network).", |ctx| inherit_case(ctx, "network")),
        Case::new("namespaces/inherit-ipc", "config-linux.md Namespaces: If a namespace type is not specified in the namespaces array, the container MUST inherit the runtime namespace of that type (ipc).", |ctx| inherit_case(ctx, "ipc")),
        Case::new("namespaces/inherit-uts", "config-linux.md Namespaces: If a namespace type is not specified in the namespaces array, the container MUST inherit the runtime namespace of that type (uts).", |ctx| inherit_case(ctx, "uts")),
        Case::new("namespaces/inherit-pid", "config-linux.md Namespaces: If a namespace type is not specified in the namespaces array, the container MUST inherit the runtime namespace of that type (pid).", |ctx| inherit_case(ctx, "pid")),
        Case::new("namespaces/inherit-cgroup", "config-linux.md Namespaces: If a namespace type is not specified in the namespaces array, the container MUST inherit the runtime namespace of that type (cgroup).", |ctx| inherit_case(ctx, "cgroup")),
        Case::new("namespaces/join-network", "config-linux.md Namespaces: path (string, OPTIONAL) namespace file; the runtime MUST place the container process in the namespace associated with that path (network).", |ctx| join_case(ctx, "network", "--net")),
        Case::new("namespaces/join-ipc", "config-linux.md Namespaces: the runtime MUST place the container process in the namespace associated with that path (ipc).", |ctx| join_case(ctx, "ipc", "--ipc")),
        Case::new("namespaces/join-uts", "config-linux.md Namespaces: the runtime MUST place the container process in the namespace associated with that path (uts).", |ctx| join_case(ctx, "uts", "--uts")),
        Case::new("namespaces/join-pid", "config-linux.md Namespaces: the runtime MUST place the container process in the namespace associated with that path (pid).", |ctx| join_case(ctx, "pid", "--pid")),
        Case::new("namespaces/join-cgroup", "config-linux.md Namespaces: the runtime MUST place the container process in the namespace associated with that path (cgroup).", |ctx| join_case(ctx, "cgroup", "--cgroup")),
        Case::new("namespaces/join-user", "config-linux.md Namespaces: the runtime MUST place the container process in the namespace associated with that path (user; the config's mappings are the namespace's).", |ctx| {
            host_ns(ctx, "user")?;
            let h = holder(ctx, &["--user"])?;
            for f in ["uid_map", "gid_map"] {
                fs::write(format!("/proc/{h}/{f}"), "0 100000 65536\n")?;
            }
            let want = proc_ns(h, "user")?;
            let path = format!("/proc/{h}/ns/user");
            let got = inside_ns(ctx, "user", |b| {
                b.userns();
                b.ns_set("user", Some(&path));
            })?;
            check_eq("user namespace", got, want)
        }),
        Case::new("namespaces/join-wrong-type-errors", "config-linux.md Namespaces: The runtime MUST generate an error if path is not associated with a namespace of type type.", |ctx| {
            let h = holder(ctx, &["--uts"])?;
            let p = format!("/proc/{h}/ns/uts");
            create_must_fail(ctx, "a network namespace path naming a uts namespace", |b| b.ns_set("network", Some(&p)))
        }),
        Case::new("namespaces/join-missing-path-errors", "config-linux.md Namespaces: the runtime MUST place the container process in the namespace associated with that path (runtime.md: unable to create the environment MUST generate an error).", |ctx| {
            let p = ctx.dir.join("no-such-ns").display().to_string();
            create_must_fail(ctx, "a namespace path that does not exist", |b| b.ns_set("network", Some(&p)))
        }),
        Case::new("namespaces/duplicate-type-errors", "config-linux.md Namespaces: If a namespaces field contains duplicated namespaces with same type, the runtime MUST generate an error.", |ctx| {
            create_must_fail(ctx, "two network namespaces", |b| {
                if let Some(a) = b.cfg["linux"]["namespaces"].as_array_mut() {
                    a.push(json!({ "type": "network" }));
                }
            })
        }),
        Case::new("namespaces/time-offsets", "config-linux.md timeOffsets (object, OPTIONAL) sets the offset for Time Namespace (monotonic and boottime, secs and nanosecs).", |ctx| {
            host_ns(ctx, "time")?;
            let out = ctx.sh("cat /proc/self/timens_offsets", |b| {
                b.ns_set("time", None);
                b.cfg["linux"]["timeOffsets"] = json!({
                    "monotonic": { "secs": 86400, "nanosecs": 0 },
                    "boottime": { "secs": 172800, "nanosecs": 0 }
                });
            })?;
            let norm: Vec<String> = out.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
            check(norm.iter().any(|l| l == "monotonic 86400 0") && norm.iter().any(|l| l == "boottime 172800 0"), || format!("timens_offsets: {norm:?}"))
        }),
        // ---- user namespace mappings
        Case::new("userns/uid-mappings", "config-linux.md User namespace mappings: uidMappings (array of objects, OPTIONAL) describes the user namespace uid mappings from the host to the container.", |ctx| {
            let out = ctx.sh("cat /proc/self/uid_map", |b| b.userns())?;
            check_eq("uid_map", out.split_whitespace().collect::<Vec<_>>(), vec!["0", "100000", "65536"])
        }),
        Case::new("userns/gid-mappings", "config-linux.md User namespace mappings: gidMappings (array of objects, OPTIONAL) describes the user namespace gid mappings from the host to the container.", |ctx| {
            let out = ctx.sh("cat /proc/self/gid_map", |b| b.userns())?;
            check_eq("gid_map", out.split_whitespace().collect::<Vec<_>>(), vec!["0", "100000", "65536"])
        }),
        Case::new("userns/several-ranges", "config-linux.md User namespace mappings: containerID, hostID, size (several mapping entries).", |ctx| {
            let out = ctx.sh("cat /proc/self/uid_map; echo --; cat /proc/self/gid_map", |b| {
                b.userns();
                b.cfg["linux"]["uidMappings"] = json!([
                    { "containerID": 0, "hostID": 100000, "size": 1000 },
                    { "containerID": 1000, "hostID": 300000, "size": 500 }
                ]);
                b.cfg["linux"]["gidMappings"] = json!([
                    { "containerID": 0, "hostID": 100000, "size": 1000 },
                    { "containerID": 1000, "hostID": 400000, "size": 500 }
                ]);
            })?;
            let norm = out.split_whitespace().collect::<Vec<_>>().join(" ");
            check_eq("uid_map -- gid_map", norm.as_str(), "0 100000 1000 1000 300000 500 -- 0 100000 1000 1000 400000 500")
        }),
        Case::new("userns/host-uid-of-process", "config-linux.md User namespace mappings: hostID (uint32, REQUIRED) is the starting uid/gid on the host to be mapped to containerID.", |ctx| {
            let mut b = ctx.bundle()?;
            b.userns();
            b.args(&["sleep", "1000"]);
            b.cfg["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
            ctx.launch(&b)?;
            let pid = ctx.pid(&b.id)?;
            let st = proc_status(pid)?;
            check_eq("host Uid", status_field(&st, "Uid").as_deref(), Some("101000\t101000\t101000\t101000"))?;
            check_eq("host Gid", status_field(&st, "Gid").as_deref(), Some("101000\t101000\t101000\t101000"))
        }),
        Case::new("userns/rootfs-ownership-unchanged", "config-linux.md User namespace mappings: The runtime SHOULD NOT modify the ownership of referenced filesystems to realize the mapping.", |ctx| {
            let mut b = ctx.bundle()?;
            b.userns();
            b.sh("id -u");
            ctx.run(&b)?;
            let m = fs::symlink_metadata(b.rootfs.join("bin/busybox"))?;
            let r = fs::symlink_metadata(&b.rootfs)?;
            check_eq("owner of rootfs and rootfs/bin/busybox", (r.uid(), m.uid()), (0, 0))
        }),
        Case::new("userns/container-root", "config-linux.md User namespace mappings: containerID (uint32, REQUIRED) is the starting uid/gid in the container (uid 0 in the container).", |ctx| {
            let out = ctx.sh("id -u; id -g", |b| b.userns())?;
            check_eq("ids", out.split_whitespace().collect::<Vec<_>>(), vec!["0", "0"])
        }),
    ]
}
