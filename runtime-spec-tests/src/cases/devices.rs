//! config-linux.md Devices and Default Devices; runtime-linux.md Dev symbolic links.

use std::fs;

use anyhow::Result;
use serde_json::{json, Value};

use super::Case;
use crate::harness::*;

fn stat_device(ctx: &mut Ctx<'_>, dev: Value, path: &str, fmt: &str) -> Result<String> {
    let out = ctx.sh(&format!("stat -c '{fmt}' {path}"), |b| {
        b.cfg["linux"]["devices"] = json!([dev]);
    })?;
    Ok(out.trim().to_string())
}

fn default_device(ctx: &mut Ctx<'_>, path: &str, want: &str, use_it: &str) -> Result<()> {
    let out = ctx.sh(
        &format!("stat -c '%F %t %T' {path}; {use_it} && echo usable"),
        |_| {},
    )?;
    let mut lines = out.lines();
    check_eq(path, lines.next().map(str::trim), Some(want))?;
    check(out.contains("usable"), || {
        format!("{path} is not usable: {}", out.replace('\n', " "))
    })
}

fn dev_link(ctx: &mut Ctx<'_>, link: &str, target: &str) -> Result<()> {
    let out = ctx.sh(&format!("readlink {link}"), |_| {})?;
    check_eq(link, out.trim(), target)
}

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("devices/char-device", "config-linux.md Devices: devices (array of objects, OPTIONAL) lists devices that MUST be available in the container; type c, major, minor.", |ctx| {
            let got = stat_device(ctx, json!({ "path": "/dev/rstnull", "type": "c", "major": 1, "minor": 3 }), "/dev/rstnull", "%F %t %T")?;
            check_eq("/dev/rstnull", got.as_str(), "character special file 1 3")
        }),
        Case::new("devices/block-device", "config-linux.md Devices: type (string, REQUIRED) type of device: c, b, u or p (b).", |ctx| {
            let got = stat_device(ctx, json!({ "path": "/dev/rstblk", "type": "b", "major": 7, "minor": 0 }), "/dev/rstblk", "%F %t %T")?;
            check_eq("/dev/rstblk", got.as_str(), "block special file 7 0")
        }),
        Case::new("devices/fifo", "config-linux.md Devices: type ... p (a FIFO; major and minor not required).", |ctx| {
            let got = stat_device(ctx, json!({ "path": "/dev/rstfifo", "type": "p" }), "/dev/rstfifo", "%F")?;
            check_eq("/dev/rstfifo", got.as_str(), "fifo")
        }),
        Case::new("devices/unbuffered-char", "config-linux.md Devices: type ... u (an unbuffered character device).", |ctx| {
            let got = stat_device(ctx, json!({ "path": "/dev/rstu", "type": "u", "major": 1, "minor": 5 }), "/dev/rstu", "%F %t %T")?;
            check_eq("/dev/rstu", got.as_str(), "character special file 1 5")
        }),
        Case::new("devices/file-mode", "config-linux.md Devices: fileMode (uint32, OPTIONAL) file mode for the device.", |ctx| {
            let got = stat_device(ctx, json!({ "path": "/dev/rstmode", "type": "c", "major": 1, "minor": 3, "fileMode": 0o620 }), "/dev/rstmode", "%a")?;
            check_eq("mode", got.as_str(), "620")
        }),
        Case::new("devices/owner", "config-linux.md Devices: uid (uint32, OPTIONAL) id of device owner in the container namespace; gid (uint32, OPTIONAL) id of device group in the container namespace.", |ctx| {
            let got = stat_device(ctx, json!({ "path": "/dev/rstown", "type": "c", "major": 1, "minor": 3, "uid": 1000, "gid": 1001 }), "/dev/rstown", "%u %g")?;
            check_eq("owner", got.as_str(), "1000 1001")
        }),
        Case::new("devices/outside-dev", "config-linux.md Devices: path (string, REQUIRED) full path to device inside container.", |ctx| {
            let got = stat_device(ctx, json!({ "path": "/srv/rstdev", "type": "c", "major": 1, "minor": 3 }), "/srv/rstdev", "%F %t %T")?;
            check_eq("/srv/rstdev", got.as_str(), "character special file 1 3")
        }),
        Case::new("devices/existing-mismatch-errors", "config-linux.md Devices: If a file already exists at path that does not match the requested device, the runtime MUST generate an error.", |ctx| {
            let mut b = ctx.bundle()?;
            b.args(&["true"]);
            // No tmpfs on /dev: the rootfs's own /dev, holding a regular file at the path.
            if let Some(m) = b.cfg["mounts"].as_array_mut() {
                m.retain(|x| x["destination"] != "/dev");
            }
            fs::write(b.rootfs.join("dev/rstdev"), "regular file")?;
            b.cfg["linux"]["devices"] = json!([{ "path": "/dev/rstdev", "type": "c", "major": 1, "minor": 3 }]);
            let o = ctx.try_create(&b)?;
            if o.ok() {
                let s = ctx.try_start(&b.id)?;
                check(!s.ok(), || "create and start succeeded over a regular file".into())?;
            }
            Ok(())
        }),
        Case::new("devices/default-null", "config-linux.md Default Devices: In addition to any devices configured with this setting, the runtime MUST also supply /dev/null.", |ctx| default_device(ctx, "/dev/null", "character special file 1 3", "echo x > /dev/null")),
        Case::new("devices/default-zero", "config-linux.md Default Devices: the runtime MUST also supply /dev/zero.", |ctx| default_device(ctx, "/dev/zero", "character special file 1 5", "[ $(head -c 3 /dev/zero | wc -c) = 3 ]")),
        Case::new("devices/default-full", "config-linux.md Default Devices: the runtime MUST also supply /dev/full.", |ctx| default_device(ctx, "/dev/full", "character special file 1 7", "! echo x 2>/dev/null > /dev/full")),
        Case::new("devices/default-random", "config-linux.md Default Devices: the runtime MUST also supply /dev/random.", |ctx| default_device(ctx, "/dev/random", "character special file 1 8", "[ $(head -c 4 /dev/random | wc -c) = 4 ]")),
        Case::new("devices/default-urandom", "config-linux.md Default Devices: the runtime MUST also supply /dev/urandom.", |ctx| default_device(ctx, "/dev/urandom", "character special file 1 9", "[ $(head -c 4 /dev/urandom | wc -c) = 4 ]")),
        Case::new("devices/default-tty", "config-linux.md Default Devices: the runtime MUST also supply /dev/tty.", |ctx| default_device(ctx, "/dev/tty", "character special file 5 0", "true")),
        Case::new("devices/default-ptmx", "config-linux.md Default Devices: /dev/ptmx. A bind-mount or symlink of the container's /dev/pts/ptmx.", |ctx| {
            let out = ctx.sh("stat -L -c %d:%i /dev/ptmx /dev/pts/ptmx", |_| {})?;
            let v: Vec<&str> = out.split_whitespace().collect();
            check(v.len() == 2 && v[0] == v[1], || format!("/dev/ptmx and /dev/pts/ptmx (dev:inode): {v:?}"))
        }),
        Case::new("devices/dev-fd", "runtime-linux.md Dev symbolic links: runtimes MUST create the following symlinks if the source file exists after processing mounts: /proc/self/fd -> /dev/fd.", |ctx| dev_link(ctx, "/dev/fd", "/proc/self/fd")),
        Case::new("devices/dev-stdin", "runtime-linux.md Dev symbolic links: /proc/self/fd/0 -> /dev/stdin.", |ctx| dev_link(ctx, "/dev/stdin", "/proc/self/fd/0")),
        Case::new("devices/dev-stdout", "runtime-linux.md Dev symbolic links: /proc/self/fd/1 -> /dev/stdout.", |ctx| dev_link(ctx, "/dev/stdout", "/proc/self/fd/1")),
        Case::new("devices/dev-stderr", "runtime-linux.md Dev symbolic links: /proc/self/fd/2 -> /dev/stderr.", |ctx| dev_link(ctx, "/dev/stderr", "/proc/self/fd/2")),
    ]
}
