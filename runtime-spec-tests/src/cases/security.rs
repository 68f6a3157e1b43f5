//! config-linux.md Sysctl, maskedPaths, readonlyPaths.

use std::fs;

use anyhow::Result;
use serde_json::json;

use super::Case;
use crate::harness::*;

fn sysctl_case(ctx: &mut Ctx<'_>, key: &str, value: &str) -> Result<()> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    let host_before = fs::read_to_string(&path).unwrap_or_default();
    let out = ctx.sh(&format!("cat {path}"), |b| {
        b.cfg["linux"]["sysctl"] = json!({ key: value });
    })?;
    check_eq(key, out.trim(), value)?;
    let host_after = fs::read_to_string(&path).unwrap_or_default();
    check_eq("the host's value", host_after, host_before)
}

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("sysctl/net", "config-linux.md Sysctl: sysctl (object, OPTIONAL) allows kernel parameters to be modified at runtime for the container (net.ipv4.ip_forward, network namespace).", |ctx| {
            let host = fs::read_to_string("/proc/sys/net/ipv4/ip_forward")?;
            let want = if host.trim() == "1" { "0" } else { "1" };
            sysctl_case(ctx, "net.ipv4.ip_forward", want)
        }),
        Case::new("sysctl/net-core", "config-linux.md Sysctl: sysctl (object, OPTIONAL) allows kernel parameters to be modified at runtime for the container (net.core.somaxconn).", |ctx| {
            sysctl_case(ctx, "net.core.somaxconn", "1234")
        }),
        Case::new("sysctl/ipc", "config-linux.md Sysctl: sysctl (object, OPTIONAL) allows kernel parameters to be modified at runtime for the container (kernel.msgmax, ipc namespace).", |ctx| {
            sysctl_case(ctx, "kernel.msgmax", "12345")
        }),
        Case::new("sysctl/several", "config-linux.md Sysctl: sysctl (object, OPTIONAL) allows kernel parameters to be modified at runtime for the container (several keys).", |ctx| {
            let out = ctx.sh("cat /proc/sys/kernel/msgmnb /proc/sys/net/ipv4/tcp_syncookies", |b| {
                b.cfg["linux"]["sysctl"] = json!({ "kernel.msgmnb": "23456", "net.ipv4.tcp_syncookies": "2" });
            })?;
            check_eq("values", out.split_whitespace().collect::<Vec<_>>(), vec!["23456", "2"])
        }),
        Case::new("masked/proc-file", "config-linux.md Masked Paths: maskedPaths (array of strings, OPTIONAL) will mask over the provided paths inside the container so that they cannot be read.", |ctx| {
            let out = ctx.sh("cat /proc/version 2>/dev/null | wc -c", |b| {
                b.cfg["linux"]["maskedPaths"] = json!(["/proc/version"]);
            })?;
            check_eq("bytes read from masked /proc/version", out.trim(), "0")
        }),
        Case::new("masked/proc-dir", "config-linux.md Masked Paths: maskedPaths ... will mask over the provided paths inside the container so that they cannot be read (a directory).", |ctx| {
            let out = ctx.sh("ls /proc/sys/kernel 2>/dev/null | wc -l", |b| {
                b.cfg["linux"]["maskedPaths"] = json!(["/proc/sys/kernel"]);
            })?;
            check_eq("entries in masked /proc/sys/kernel", out.trim(), "0")
        }),
        Case::new("masked/rootfs-file", "config-linux.md Masked Paths: maskedPaths ... The values MUST be absolute paths in the container namespace (a file of the rootfs).", |ctx| {
            let out = ctx.sh("cat /etc/rst-secret 2>/dev/null | wc -c", |b| {
                fs::write(b.rootfs.join("etc/rst-secret"), "do not read").ok();
                b.cfg["linux"]["maskedPaths"] = json!(["/etc/rst-secret"]);
            })?;
            check_eq("bytes read from the masked file", out.trim(), "0")
        }),
        Case::new("masked/rootfs-dir", "config-linux.md Masked Paths: maskedPaths ... will mask over the provided paths inside the container so that they cannot be read (a directory of the rootfs).", |ctx| {
            let out = ctx.sh("cat /srv/secret/key 2>/dev/null | wc -c; ls /srv/secret 2>/dev/null | wc -l", |b| {
                fs::create_dir_all(b.rootfs.join("srv/secret")).ok();
                fs::write(b.rootfs.join("srv/secret/key"), "do not read").ok();
                b.cfg["linux"]["maskedPaths"] = json!(["/srv/secret"]);
            })?;
            check_eq("bytes and entries in the masked directory", out.split_whitespace().collect::<Vec<_>>(), vec!["0", "0"])
        }),
        Case::new("readonly/proc-sys", "config-linux.md Readonly Paths: readonlyPaths (array of strings, OPTIONAL) will set the provided paths as readonly inside the container.", |ctx| {
            let out = ctx.sh("{ echo 1 > /proc/sys/net/ipv4/ip_forward; } 2>&1; echo rc=$?", |b| {
                b.cfg["linux"]["readonlyPaths"] = json!(["/proc/sys"]);
            })?;
            check(out.contains("Read-only file system"), || format!("write below a readonly path: {}", out.replace('\n', " ")))
        }),
        Case::new("readonly/rootfs-dir", "config-linux.md Readonly Paths: readonlyPaths ... The values MUST be absolute paths in the container namespace (a directory of the rootfs).", |ctx| {
            let out = ctx.sh("cat /data/f; touch /data/new 2>&1; echo rc=$?; touch /other 2>&1; echo rc2=$?", |b| {
                fs::create_dir_all(b.rootfs.join("data")).ok();
                fs::write(b.rootfs.join("data/f"), "readable\n").ok();
                b.cfg["linux"]["readonlyPaths"] = json!(["/data"]);
            })?;
            check(out.contains("readable"), || format!("the readonly directory is not readable: {}", out.replace('\n', " ")))?;
            check(out.contains("Read-only file system"), || format!("write in a readonly directory: {}", out.replace('\n', " ")))?;
            check(out.contains("rc2=0"), || "the rest of the root became read-only".into())
        }),
        Case::new("readonly/rootfs-file", "config-linux.md Readonly Paths: readonlyPaths ... will set the provided paths as readonly inside the container (a file).", |ctx| {
            let out = ctx.sh("cat /etc/rst-ro; { echo more >> /etc/rst-ro; } 2>&1; echo rc=$?", |b| {
                fs::write(b.rootfs.join("etc/rst-ro"), "ro-content\n").ok();
                b.cfg["linux"]["readonlyPaths"] = json!(["/etc/rst-ro"]);
            })?;
            check(out.contains("ro-content"), || "the readonly file is not readable".into())?;
            check(out.contains("Read-only file system"), || format!("write to a readonly file: {}", out.replace('\n', " ")))
        }),
    ]
}
