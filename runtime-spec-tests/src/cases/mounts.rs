//! config.md Mounts; config-linux.md rootfsPropagation.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use serde_json::{json, Value};

use super::Case;
use crate::harness::*;

const MI: &str = "cat /proc/self/mountinfo";

/// The container's mountinfo with `mounts` added to its bundle.
fn mounts_seen(ctx: &mut Ctx<'_>, mounts: Vec<Value>) -> Result<Vec<MountEntry>> {
    let out = ctx.sh(MI, |b| {
        for m in mounts {
            b.add_mount(m);
        }
    })?;
    Ok(parse_mountinfo(&out))
}

/// The topmost mount at `dest`.
fn top<'a>(ms: &'a [MountEntry], dest: &str) -> Result<&'a MountEntry> {
    ms.iter()
        .rev()
        .find(|m| m.mount_point == Path::new(dest))
        .ok_or_else(|| anyhow!("nothing is mounted at {dest}"))
}

fn has_opt(opts: &str, o: &str) -> bool {
    opts.split(',').any(|x| x == o)
}

fn tmpfs(dest: &str, opts: &[&str]) -> Value {
    json!({ "destination": dest, "type": "tmpfs", "source": "tmpfs", "options": opts })
}

/// A host directory with a file `file` holding `content`.
fn host_src(ctx: &mut Ctx<'_>, name: &str, content: &str) -> Result<PathBuf> {
    let d = ctx.scratch(name)?;
    fs::write(d.join("file"), content)?;
    Ok(d)
}

fn mount_flag_case(ctx: &mut Ctx<'_>, opt: &str, want: &str) -> Result<()> {
    let ms = mounts_seen(ctx, vec![tmpfs("/mnt/t", &[opt])])?;
    let m = top(&ms, "/mnt/t")?;
    check(has_opt(&m.opts, want), || {
        format!("mount options of /mnt/t are {:?}, no {want}", m.opts)
    })
}

fn root_propagation(ctx: &mut Ctx<'_>, value: &str) -> Result<MountEntry> {
    let out = ctx.sh(MI, |b| b.cfg["linux"]["rootfsPropagation"] = json!(value))?;
    let ms = parse_mountinfo(&out);
    let m = top(&ms, "/")?;
    Ok(MountEntry {
        mount_point: m.mount_point.clone(),
        fstype: m.fstype.clone(),
        opts: m.opts.clone(),
        optional: m.optional.clone(),
        super_opts: m.super_opts.clone(),
        root: m.root.clone(),
    })
}

/// A host tmpfs made shared, bound into a container with `opt`; after the container started,
/// the host mounts another tmpfs below it. What the container sees of it.
fn propagation_from_host(ctx: &mut Ctx<'_>, opt: &str) -> Result<bool> {
    let src = ctx.dir.join("prop-src");
    mount_tmpfs(&src, "size=1m")?;
    make_shared(&src)?;
    fs::create_dir_all(src.join("late"))?;
    let mut b = ctx.bundle()?;
    b.add_mount(json!({
        "destination": "/mnt/p", "type": "bind", "source": src.display().to_string(),
        "options": ["rbind", opt]
    }));
    b.sh("touch /out/ready; while [ ! -e /out/go ]; do sleep 0.05; done; cat /proc/self/mountinfo > /out/mi; touch /out/done");
    ctx.launch(&b)?;
    check(wait_file(&b.out_file("ready"), WAIT), || {
        format!("container did not start: {}", last_line(&b.stderr()))
    })?;
    mount_tmpfs(&src.join("late"), "size=1m")?;
    fs::write(b.out_file("go"), "")?;
    check(wait_file(&b.out_file("done"), WAIT), || {
        "container did not finish".into()
    })?;
    let mi = b.read_out("mi").unwrap_or_default();
    Ok(parse_mountinfo(&mi)
        .iter()
        .any(|m| m.mount_point == Path::new("/mnt/p/late")))
}

pub fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "mounts/tmpfs",
            "config.md Mounts: type (string, OPTIONAL) the type of the filesystem to be mounted; options (array of strings, OPTIONAL) mount options of the filesystem to be used.",
            |ctx| {
                let out = ctx.sh("cat /proc/self/mountinfo; echo mode=$(stat -c %a /mnt/t)", |b| {
                    b.add_mount(tmpfs("/mnt/t", &["size=1m", "mode=710"]));
                })?;
                let ms = parse_mountinfo(&out);
                let m = top(&ms, "/mnt/t")?;
                check_eq("type", m.fstype.as_str(), "tmpfs")?;
                check(has_opt(&m.super_opts, "size=1024k"), || format!("tmpfs options {:?} lack size=1024k", m.super_opts))?;
                check(out.contains("mode=710"), || format!("mode of /mnt/t: {}", last_line(&out)))
            },
        ),
        Case::new(
            "mounts/bind",
            "config.md Mounts: source (string, OPTIONAL) A device name, but can also be a file or directory name for bind mounts or a dummy.",
            |ctx| {
                let src = host_src(ctx, "bind-src", "bound content")?;
                let out = ctx.sh("cat /mnt/b/file", |b| {
                    b.add_mount(json!({ "destination": "/mnt/b", "type": "bind", "source": src.display().to_string(), "options": ["bind"] }));
                })?;
                check_eq("content", out.trim(), "bound content")
            },
        ),
        Case::new(
            "mounts/bind-type-none",
            "config.md Mounts: For bind mounts (when options include either bind or rbind), the type is a dummy, often \"none\" (not listed in /proc/filesystems).",
            |ctx| {
                let src = host_src(ctx, "bind-src", "none-type")?;
                let out = ctx.sh("cat /mnt/b/file", |b| {
                    b.add_mount(json!({ "destination": "/mnt/b", "type": "none", "source": src.display().to_string(), "options": ["rbind"] }));
                })?;
                check_eq("content", out.trim(), "none-type")
            },
        ),
        Case::new(
            "mounts/bind-no-type",
            "config.md Mounts: type (string, OPTIONAL) ... (a bind mount needs no type when options include bind or rbind).",
            |ctx| {
                let src = host_src(ctx, "bind-src", "untyped")?;
                let out = ctx.sh("cat /mnt/b/file", |b| {
                    b.add_mount(json!({ "destination": "/mnt/b", "source": src.display().to_string(), "options": ["rbind"] }));
                })?;
                check_eq("content", out.trim(), "untyped")
            },
        ),
        Case::new(
            "mounts/bind-file",
            "config.md Mounts: source ... can also be a file or directory name for bind mounts (a single file).",
            |ctx| {
                let src = host_src(ctx, "bind-src", "single file")?;
                let f = src.join("file").display().to_string();
                let out = ctx.sh("cat /etc/rst-bound", |b| {
                    b.add_mount(json!({ "destination": "/etc/rst-bound", "type": "bind", "source": f, "options": ["bind"] }));
                })?;
                check_eq("content", out.trim(), "single file")
            },
        ),
        Case::new(
            "mounts/bind-ro",
            "config.md Mounts: options ... ro (mount(8)): the mount is read-only.",
            |ctx| {
                let src = host_src(ctx, "bind-src", "x")?;
                let out = ctx.sh("{ echo y > /mnt/b/file; } 2>&1; echo rc=$?", |b| {
                    b.add_mount(json!({ "destination": "/mnt/b", "type": "bind", "source": src.display().to_string(), "options": ["rbind", "ro"] }));
                })?;
                check(out.contains("Read-only file system"), || format!("write to a ro bind mount: {}", out.replace('\n', " ")))?;
                check_eq("host file", fs::read_to_string(src.join("file"))?.as_str(), "x")
            },
        ),
        Case::new(
            "mounts/rbind-submounts",
            "config.md Mounts: options ... rbind (mount(8) --rbind): submounts of the source are bound too.",
            |ctx| {
                let src = ctx.scratch("rbind-src")?;
                mount_tmpfs(&src.join("sub"), "size=1m")?;
                fs::write(src.join("sub/inner"), "submount")?;
                let out = ctx.sh("cat /mnt/b/sub/inner 2>&1", |b| {
                    b.add_mount(json!({ "destination": "/mnt/b", "type": "bind", "source": src.display().to_string(), "options": ["rbind"] }));
                })?;
                check_eq("submount content", out.trim(), "submount")
            },
        ),
        Case::new(
            "mounts/bind-not-recursive",
            "config.md Mounts: options ... bind (mount(8) --bind): only the source mount, not its submounts.",
            |ctx| {
                let src = ctx.scratch("bind-src")?;
                mount_tmpfs(&src.join("sub"), "size=1m")?;
                fs::write(src.join("sub/inner"), "submount")?;
                let out = ctx.sh("ls /mnt/b/sub | wc -l", |b| {
                    b.add_mount(json!({ "destination": "/mnt/b", "type": "bind", "source": src.display().to_string(), "options": ["bind"] }));
                })?;
                check_eq("entries in the unbound submount point", out.trim(), "0")
            },
        ),
        Case::new(
            "mounts/order-nested",
            "config.md Mounts: The runtime MUST mount entries in the listed order (a bind below a tmpfs listed before it).",
            |ctx| {
                let src = host_src(ctx, "bind-src", "inner")?;
                let out = ctx.sh("cat /mnt/n/inner/file 2>&1", |b| {
                    b.add_mount(tmpfs("/mnt/n", &["size=1m"]));
                    b.add_mount(json!({ "destination": "/mnt/n/inner", "type": "bind", "source": src.display().to_string(), "options": ["bind"] }));
                })?;
                check_eq("content", out.trim(), "inner")
            },
        ),
        Case::new(
            "mounts/order-same-destination",
            "config.md Mounts: The runtime MUST mount entries in the listed order (the last of two mounts on one destination is on top).",
            |ctx| {
                let ms = mounts_seen(ctx, vec![tmpfs("/mnt/s", &["size=1m"]), tmpfs("/mnt/s", &["size=2m"])])?;
                let m = top(&ms, "/mnt/s")?;
                check(has_opt(&m.super_opts, "size=2048k"), || format!("top mount at /mnt/s has {:?}", m.super_opts))
            },
        ),
        Case::new(
            "mounts/relative-destination",
            "config.md Mounts: destination ... For compatibility with old tools and configurations, it MAY be a relative path, in which case it MUST be interpreted as relative to \"/\".",
            |ctx| {
                let ms = mounts_seen(ctx, vec![tmpfs("rst-relative", &["size=1m"])])?;
                top(&ms, "/rst-relative").map(|_| ())
            },
        ),
        Case::new(
            "mounts/unknown-type-errors",
            "config.md Mounts: type ... Linux: filesystemtype argument supported by the kernel are listed in /proc/filesystems (runtime.md: if the runtime is unable to create the environment, it MUST generate an error).",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.args(&["true"]);
                b.add_mount(json!({ "destination": "/mnt/x", "type": "rstnosuchfs", "source": "none" }));
                let o = ctx.try_create(&b)?;
                check(!o.ok(), || "create succeeded with an unknown filesystem type".into())
            },
        ),
        Case::new(
            "mounts/missing-bind-source-errors",
            "runtime.md Lifecycle step 2: If the runtime is unable to create the environment specified in the config.json, it MUST generate an error (bind source missing).",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.args(&["true"]);
                let missing = ctx.dir.join("no-such-source").display().to_string();
                b.add_mount(json!({ "destination": "/mnt/x", "type": "bind", "source": missing, "options": ["rbind"] }));
                let o = ctx.try_create(&b)?;
                check(!o.ok(), || "create succeeded with a missing bind source".into())
            },
        ),
        Case::new(
            "mounts/option-ro",
            "config.md Mounts: options ... ro (read-only) on a tmpfs.",
            |ctx| {
                let out = ctx.sh("touch /mnt/t/x 2>&1; echo rc=$?", |b| b.add_mount(tmpfs("/mnt/t", &["ro"])))?;
                check(out.contains("Read-only file system"), || format!("write: {}", out.replace('\n', " ")))
            },
        ),
        Case::new(
            "mounts/option-nosuid",
            "config.md Mounts: options ... nosuid (mount(8)).",
            |ctx| mount_flag_case(ctx, "nosuid", "nosuid"),
        ),
        Case::new(
            "mounts/option-nodev",
            "config.md Mounts: options ... nodev (mount(8)).",
            |ctx| mount_flag_case(ctx, "nodev", "nodev"),
        ),
        Case::new(
            "mounts/option-noexec",
            "config.md Mounts: options ... noexec (mount(8)): executing a file on the mount fails.",
            |ctx| {
                let out = ctx.sh("cp /bin/busybox /mnt/t/bb && /mnt/t/bb true 2>&1; echo rc=$?", |b| {
                    b.add_mount(tmpfs("/mnt/t", &["noexec"]));
                })?;
                check(!out.contains("rc=0"), || "a binary on a noexec mount ran".into())?;
                check(out.contains("Permission denied"), || format!("exec: {}", out.replace('\n', " ")))
            },
        ),
        Case::new(
            "mounts/option-noatime",
            "config.md Mounts: options ... noatime (mount(8)).",
            |ctx| mount_flag_case(ctx, "noatime", "noatime"),
        ),
        Case::new(
            "mounts/option-nodiratime",
            "config.md Mounts: options ... nodiratime (mount(8)).",
            |ctx| mount_flag_case(ctx, "nodiratime", "nodiratime"),
        ),
        Case::new(
            "mounts/option-strictatime",
            "config.md Mounts: options ... strictatime (mount(8)): neither relatime nor noatime.",
            |ctx| {
                let ms = mounts_seen(ctx, vec![tmpfs("/mnt/t", &["strictatime"])])?;
                let m = top(&ms, "/mnt/t")?;
                check(!has_opt(&m.opts, "relatime") && !has_opt(&m.opts, "noatime"), || format!("options {:?}", m.opts))
            },
        ),
        Case::new(
            "mounts/option-nosymfollow",
            "config.md Mounts: options ... nosymfollow (mount(8), Linux 5.10).",
            |ctx| mount_flag_case(ctx, "nosymfollow", "nosymfollow"),
        ),
        Case::new(
            "mounts/option-rro",
            "config.md Mounts: options ... rro: recursively read-only (mount_setattr(2) MOUNT_ATTR_RDONLY with AT_RECURSIVE).",
            |ctx| {
                let src = ctx.scratch("rro-src")?;
                mount_tmpfs(&src.join("sub"), "size=1m")?;
                let out = ctx.sh("touch /mnt/r/sub/x 2>&1; echo rc=$?", |b| {
                    b.add_mount(json!({ "destination": "/mnt/r", "type": "bind", "source": src.display().to_string(), "options": ["rbind", "rro"] }));
                })?;
                check(out.contains("Read-only file system"), || format!("write to a submount of an rro mount: {}", out.replace('\n', " ")))
            },
        ),
        Case::new(
            "mounts/proc-type",
            "config.md Mounts: type ... proc (a second proc mount).",
            |ctx| {
                let out = ctx.sh("test -r /rstproc/self/status && echo yes", |b| {
                    b.add_mount(json!({ "destination": "/rstproc", "type": "proc", "source": "proc" }));
                })?;
                check_eq("proc mounted", out.trim(), "yes")
            },
        ),
        Case::new(
            "mounts/listed-filesystems",
            "config.md Mounts: The runtime MUST mount entries in the listed order (proc, tmpfs, devpts, mqueue, sysfs as listed).",
            |ctx| {
                let ms = mounts_seen(ctx, vec![])?;
                for (d, t) in [("/proc", "proc"), ("/dev", "tmpfs"), ("/dev/pts", "devpts"), ("/dev/shm", "tmpfs"), ("/dev/mqueue", "mqueue"), ("/sys", "sysfs")] {
                    let m = top(&ms, d)?;
                    check_eq(d, m.fstype.as_str(), t)?;
                }
                check(has_opt(&top(&ms, "/sys")?.opts, "ro"), || "/sys is not read-only as listed".into())
            },
        ),
        Case::new(
            "mounts/cgroup-type",
            "config.md Mounts: type ... cgroup (the container's cgroup filesystem at /sys/fs/cgroup).",
            |ctx| {
                let out = ctx.sh("ls /sys/fs/cgroup", |b| {
                    b.add_mount(json!({ "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }));
                })?;
                let names: Vec<&str> = out.split_whitespace().collect();
                check(names.contains(&"pids") || names.contains(&"cgroup.controllers"), || format!("/sys/fs/cgroup holds {names:?}"))
            },
        ),
        Case::new(
            "mounts/propagation-shared",
            "config.md Mounts: options ... shared (mount(8) --make-shared) on a bind mount.",
            |ctx| {
                let src = host_src(ctx, "bind-src", "x")?;
                let ms = mounts_seen(ctx, vec![json!({ "destination": "/mnt/b", "type": "bind", "source": src.display().to_string(), "options": ["rbind", "shared"] })])?;
                let m = top(&ms, "/mnt/b")?;
                check(m.optional.contains("shared:"), || format!("/mnt/b propagation: {:?}", m.optional))
            },
        ),
        Case::new(
            "mounts/propagation-unbindable",
            "config.md Mounts: options ... unbindable (mount(8) --make-unbindable) on a bind mount.",
            |ctx| {
                let src = host_src(ctx, "bind-src", "x")?;
                let ms = mounts_seen(ctx, vec![json!({ "destination": "/mnt/b", "type": "bind", "source": src.display().to_string(), "options": ["rbind", "unbindable"] })])?;
                let m = top(&ms, "/mnt/b")?;
                check(m.optional.contains("unbindable"), || format!("/mnt/b propagation: {:?}", m.optional))
            },
        ),
        Case::new(
            "mounts/propagation-rslave-receives",
            "config.md Mounts: options ... rslave (mount(8) --make-rslave): mounts made on the host below a shared source appear in the container.",
            |ctx| {
                let seen = propagation_from_host(ctx, "rslave")?;
                check(seen, || "a host mount made below the rslave source did not appear".into())
            },
        ),
        Case::new(
            "mounts/propagation-rprivate-isolated",
            "config.md Mounts: options ... rprivate (mount(8) --make-rprivate): mounts made on the host below the source do not appear in the container.",
            |ctx| {
                let seen = propagation_from_host(ctx, "rprivate")?;
                check(!seen, || "a host mount made below an rprivate source appeared".into())
            },
        ),
        Case::new(
            "mounts/rootfs-propagation-shared",
            "config-linux.md rootfsPropagation (string, OPTIONAL) sets the rootfs's mount propagation. Its value is either shared, slave, private or unbindable (shared).",
            |ctx| {
                let m = root_propagation(ctx, "shared")?;
                check(m.optional.contains("shared:"), || format!("/ propagation: {:?}", m.optional))
            },
        ),
        Case::new(
            "mounts/rootfs-propagation-private",
            "config-linux.md rootfsPropagation ... private.",
            |ctx| {
                let m = root_propagation(ctx, "private")?;
                check(!m.optional.contains("shared:") && !m.optional.contains("master:"), || format!("/ propagation: {:?}", m.optional))
            },
        ),
        Case::new(
            "mounts/rootfs-propagation-slave",
            "config-linux.md rootfsPropagation ... slave (never shared back).",
            |ctx| {
                let m = root_propagation(ctx, "slave")?;
                check(!m.optional.contains("shared:"), || format!("/ propagation: {:?}", m.optional))
            },
        ),
        Case::new(
            "mounts/rootfs-propagation-unbindable",
            "config-linux.md rootfsPropagation ... unbindable.",
            |ctx| {
                let m = root_propagation(ctx, "unbindable")?;
                check(m.optional.contains("unbindable"), || format!("/ propagation: {:?}", m.optional))
            },
        ),
    ]
}
