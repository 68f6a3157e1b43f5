//! config.md: root, hostname, domainname, annotations, extensibility.

use serde_json::json;

use super::Case;
use crate::harness::*;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "root/readonly-true",
            "config.md Root: readonly (bool, OPTIONAL) If true then the root filesystem MUST be read-only inside the container.",
            |ctx| {
                let out = ctx.sh("touch /rst-write 2>&1; echo rc=$?", |b| {
                    b.cfg["root"]["readonly"] = json!(true);
                })?;
                check(!out.contains("rc=0"), || "writing to / succeeded".into())?;
                check(out.contains("Read-only file system"), || {
                    format!("write failed but not with EROFS: {}", last_line(&out))
                })
            },
        ),
        Case::new(
            "root/readonly-false",
            "config.md Root: readonly (bool, OPTIONAL) If true then the root filesystem MUST be read-only inside the container, defaults to false.",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.cfg["root"]["readonly"] = json!(false);
                let out = ctx.sh_in(&mut b, "touch /rst-write 2>&1; echo rc=$?")?;
                check(out.contains("rc=0"), || format!("writing to / failed: {}", last_line(&out)))?;
                check(b.rootfs.join("rst-write").exists(), || {
                    "the file is not in the bundle's rootfs".into()
                })
            },
        ),
        Case::new(
            "root/readonly-keeps-mounts-writable",
            "config.md Root/Mounts: readonly applies to the root filesystem; a mount listed rw stays writable (mounts are mounted as listed).",
            |ctx| {
                let out = ctx.sh("{ echo hi > /out/f; } 2>&1; echo rc=$?", |b| {
                    b.cfg["root"]["readonly"] = json!(true);
                })?;
                check(out.contains("rc=0"), || format!("writing to the rw /out mount failed: {}", last_line(&out)))
            },
        ),
        Case::new(
            "root/path-absolute",
            "config.md Root: path (string, REQUIRED) Specifies the path to the root filesystem for the container; either an absolute path or a relative path to the bundle.",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.cfg["root"]["path"] = json!(b.rootfs.display().to_string());
                std::fs::write(b.rootfs.join("marker"), "absolute-root\n")?;
                let out = ctx.sh_in(&mut b, "cat /marker")?;
                check_eq("marker", out.trim(), "absolute-root")
            },
        ),
        Case::new(
            "root/path-relative",
            "config.md Root: On POSIX platforms, path is either an absolute path or a relative path to the bundle.",
            |ctx| {
                let mut b = ctx.bundle()?;
                std::fs::rename(&b.rootfs, b.dir.join("other-root"))?;
                b.cfg["root"]["path"] = json!("other-root");
                std::fs::write(b.dir.join("other-root/marker"), "relative-root\n")?;
                let out = ctx.sh_in(&mut b, "cat /marker")?;
                check_eq("marker", out.trim(), "relative-root")
            },
        ),
        Case::new(
            "root/path-missing-errors",
            "config.md Root: A directory MUST exist at the path declared by the field (runtime.md: if the runtime is unable to create the environment, it MUST generate an error).",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.args(&["true"]);
                b.cfg["root"]["path"] = json!("no-such-rootfs");
                let o = ctx.try_create(&b)?;
                check(!o.ok(), || "create succeeded with a missing root directory".into())
            },
        ),
        Case::new(
            "hostname/set",
            "config.md Hostname: hostname (string, OPTIONAL) specifies the container's hostname as seen by processes running inside the container.",
            |ctx| {
                let out = ctx.sh("hostname", |b| b.cfg["hostname"] = json!("rst-hostname"))?;
                check_eq("hostname", out.trim(), "rst-hostname")
            },
        ),
        Case::new(
            "hostname/host-unchanged",
            "config.md Hostname: On Linux, for example, this will change the hostname in the container UTS namespace (not the host's).",
            |ctx| {
                let before = std::fs::read_to_string("/proc/sys/kernel/hostname")?;
                ctx.sh("hostname", |b| b.cfg["hostname"] = json!("rst-other-name"))?;
                let after = std::fs::read_to_string("/proc/sys/kernel/hostname")?;
                check_eq("host's hostname", after, before)
            },
        ),
        Case::new(
            "hostname/domainname",
            "config.md Domainname: domainname (string, OPTIONAL) specifies the container's domainname as seen by processes running inside the container.",
            |ctx| {
                let out = ctx.sh("cat /proc/sys/kernel/domainname", |b| {
                    b.cfg["domainname"] = json!("rst.example")
                })?;
                check_eq("domainname", out.trim(), "rst.example")
            },
        ),
        Case::new(
            "annotations/arbitrary-keys-accepted",
            "config.md Annotations: Implementations that are reading/processing this configuration file MUST NOT generate an error if they encounter an unknown annotation key.",
            |ctx| {
                let out = ctx.sh("echo ran", |b| {
                    b.cfg["annotations"] = json!({
                        "org.example.rst.unknown": "x",
                        "com.example/odd key": "with spaces",
                        "io.example.empty": ""
                    })
                })?;
                check_eq("output", out.trim(), "ran")
            },
        ),
        Case::new(
            "annotations/in-state",
            "config.md Annotations / runtime.md State: annotations contains the list of annotations associated with the container (as configured).",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.args(&["sleep", "1000"]);
                b.cfg["annotations"] = json!({ "org.example.key": "org.example.value" });
                ctx.create(&b)?;
                let st = ctx.state(&b.id)?;
                check_eq(
                    "state annotation",
                    st["annotations"]["org.example.key"].as_str(),
                    Some("org.example.value"),
                )
            },
        ),
        Case::new(
            "config/unknown-top-level-property-ignored",
            "config.md Extensibility: Runtimes that are reading or processing this configuration file MUST NOT generate an error if they encounter an unknown property. Instead they MUST ignore unknown properties.",
            |ctx| {
                let out = ctx.sh("echo ran", |b| {
                    b.cfg["org.example.rstUnknown"] = json!({ "nested": [1, 2, 3] });
                })?;
                check_eq("output", out.trim(), "ran")
            },
        ),
        Case::new(
            "config/unknown-process-property-ignored",
            "config.md Extensibility: Runtimes ... MUST NOT generate an error if they encounter an unknown property. Instead they MUST ignore unknown properties.",
            |ctx| {
                let out = ctx.sh("echo ran", |b| {
                    b.cfg["process"]["rstUnknownField"] = json!("x");
                    b.cfg["process"]["user"]["rstUnknownUserField"] = json!(7);
                })?;
                check_eq("output", out.trim(), "ran")
            },
        ),
        Case::new(
            "config/unknown-linux-property-ignored",
            "config.md Extensibility: Runtimes ... MUST NOT generate an error if they encounter an unknown property. Instead they MUST ignore unknown properties.",
            |ctx| {
                let out = ctx.sh("echo ran", |b| {
                    b.cfg["linux"]["rstUnknownLinuxField"] = json!({ "a": true });
                    b.cfg["mounts"][0]["rstUnknownMountField"] = json!(1);
                })?;
                check_eq("output", out.trim(), "ran")
            },
        ),
    ]
}
