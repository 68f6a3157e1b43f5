//! Absurd values refused before libcontainer sees them: the kernel would refuse them later, after
//! the state dir, cgroups and processes exist, with a message that names no field (or, for a
//! 10 MiB mount destination, after a long walk that looks like a hang).
//!
//! Each refusal is one line that names the JSON path of the field and says how to fix it; no
//! huge value is echoed back. Pure: the spec in, a message out.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use oci_spec::runtime::{Process, Spec};

use crate::oneline;

/// The longest path the kernel takes (`PATH_MAX`, with its terminating NUL).
pub const PATH_MAX: usize = 4096;
/// The longest path component (`NAME_MAX`).
pub const NAME_MAX: usize = 255;
/// The longest single argument or environment string (`MAX_ARG_STRLEN`, 32 pages).
pub const ARG_STRLEN_MAX: usize = 32 * 4096;
/// The most `execve` takes for arguments and environment together, pointers included. The
/// kernel's limit is a quarter of the stack limit (2 MiB with the usual 8 MiB stack); this is
/// that usual value, so that a config runs the same on every host.
pub const ARG_MAX: usize = 2 * 1024 * 1024;
/// The most supplementary groups a process may have (`NGROUPS_MAX`).
pub const NGROUPS_MAX: usize = 65536;
/// `HOST_NAME_MAX`, also the limit of the NIS domain name.
pub const HOST_NAME_MAX: usize = 64;

/// A path field: at most `PATH_MAX` bytes, components at most `NAME_MAX`, no NUL byte.
pub fn check_path(field: &str, p: &Path) -> Result<(), String> {
    let bytes = p.as_os_str().as_bytes();
    if bytes.len() >= PATH_MAX {
        return Err(format!(
            "{field} is {} bytes long, longer than the kernel takes (PATH_MAX {PATH_MAX}): give a path of fewer than {PATH_MAX} bytes",
            bytes.len()
        ));
    }
    if bytes.contains(&0) {
        return Err(format!(
            "{field} {} contains a NUL byte: remove it",
            oneline::path(p)
        ));
    }
    if let Some(c) = bytes.split(|b| *b == b'/').find(|c| c.len() > NAME_MAX) {
        return Err(format!(
            "{field} {} has a component of {} bytes, longer than the kernel takes (NAME_MAX {NAME_MAX}): shorten it",
            oneline::path(p),
            c.len()
        ));
    }
    Ok(())
}

fn check_string(field: &str, s: &str, max: usize) -> Result<(), String> {
    if s.len() > max {
        return Err(format!(
            "{field} is {} bytes long, more than the kernel takes ({max}): shorten it",
            s.len()
        ));
    }
    if s.contains('\0') {
        return Err(format!(
            "{field} {} contains a NUL byte: remove it",
            oneline::value(s)
        ));
    }
    Ok(())
}

/// `args` and `env` of a process (`prefix` is `process`): what `execve` can take.
pub fn check_process(prefix: &str, p: &Process) -> Result<(), String> {
    if let Some(args) = p.args() {
        if args.is_empty() {
            return Err(format!(
                "{prefix}.args is empty: give the command to run, e.g. [\"/bin/sh\"]"
            ));
        }
        if args[0].is_empty() {
            return Err(format!(
                "{prefix}.args[0] is empty: give the command to run, e.g. \"/bin/sh\""
            ));
        }
    }
    let mut total = 0usize;
    for (name, list) in [("args", p.args()), ("env", p.env())] {
        for (i, s) in list.iter().flatten().enumerate() {
            check_string(&format!("{prefix}.{name}[{i}]"), s, ARG_STRLEN_MAX)?;
            if name == "env" && !s.contains('=') {
                return Err(format!(
                    "{prefix}.env[{i}] {} is not KEY=VALUE: write it as KEY=VALUE",
                    oneline::value(s)
                ));
            }
            // The string, its NUL, and its pointer.
            total = total.saturating_add(s.len() + 1 + std::mem::size_of::<usize>());
        }
    }
    if total > ARG_MAX {
        return Err(format!(
            "{prefix}.args and {prefix}.env take {total} bytes, more than execve takes ({ARG_MAX}): pass large data in a file or a mount instead"
        ));
    }
    check_path(&format!("{prefix}.cwd"), p.cwd())?;
    let groups = p.user().additional_gids().as_ref().map_or(0, |g| g.len());
    if groups > NGROUPS_MAX {
        return Err(format!(
            "{prefix}.user.additionalGids lists {groups} groups, more than the kernel takes (NGROUPS_MAX {NGROUPS_MAX}): list fewer"
        ));
    }
    Ok(())
}

/// The limits of every field of `spec` that names a path or a string the kernel takes.
pub fn validate(spec: &Spec) -> Result<(), String> {
    if let Some(root) = spec.root() {
        check_path("root.path", root.path())?;
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if m.destination().as_os_str().is_empty() {
            return Err(format!(
                "mounts[{i}].destination is empty: give the absolute path of the mount inside the container"
            ));
        }
        check_path(&format!("mounts[{i}].destination"), m.destination())?;
        if let Some(src) = m.source() {
            check_path(&format!("mounts[{i}].source"), src)?;
        }
        if let Some(t) = m.typ() {
            check_string(&format!("mounts[{i}].type"), t, NAME_MAX)?;
        }
        // The kernel copies at most one page of mount data.
        let options: usize = m.options().iter().flatten().map(|o| o.len() + 1).sum();
        if options > 4096 {
            return Err(format!(
                "mounts[{i}].options take {options} bytes, more than mount(2) takes (4096): remove options"
            ));
        }
    }
    if let Some(p) = spec.process() {
        check_process("process", p)?;
    }
    if let Some(h) = spec.hostname() {
        check_string("hostname", h, HOST_NAME_MAX)?;
    }
    if let Some(d) = spec.domainname() {
        check_string("domainname", d, HOST_NAME_MAX)?;
    }
    if let Some(linux) = spec.linux() {
        // linux.cgroupsPath: the cgroup-path rule (src/policy/rules/cgroup_path.rs).
        for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
            if let Some(p) = ns.path() {
                check_path(&format!("linux.namespaces[{i}].path"), p)?;
            }
        }
        for (i, d) in linux.devices().iter().flatten().enumerate() {
            check_path(&format!("linux.devices[{i}].path"), d.path())?;
        }
        for (name, list) in [
            ("maskedPaths", linux.masked_paths()),
            ("readonlyPaths", linux.readonly_paths()),
        ] {
            for (i, p) in list.iter().flatten().enumerate() {
                check_path(&format!("linux.{name}[{i}]"), Path::new(p))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{MountBuilder, ProcessBuilder};
    use std::path::PathBuf;

    fn with_mount(dest: &str) -> Spec {
        let mut s = Spec::default();
        let mut mounts = s.mounts().clone().unwrap_or_default();
        mounts.push(
            MountBuilder::default()
                .destination(PathBuf::from(dest))
                .build()
                .unwrap(),
        );
        s.set_mounts(Some(mounts));
        s
    }

    #[test]
    fn the_default_spec_passes() {
        validate(&Spec::default()).unwrap();
    }

    #[test]
    fn huge_mount_destination_is_refused_by_field() {
        let s = with_mount(&format!("/{}", "a".repeat(10 << 20)));
        let n = s.mounts().as_ref().unwrap().len() - 1;
        let e = validate(&s).unwrap_err();
        assert!(
            e.starts_with(&format!("mounts[{n}].destination is 10485761 bytes")),
            "{e}"
        );
        assert!(e.len() < 300, "{e}");
        let e = validate(&with_mount(&format!("/x/{}/y", "b".repeat(256)))).unwrap_err();
        assert!(e.contains("component of 256 bytes"), "{e}");
        assert!(e.len() < 300, "{e}");
        validate(&with_mount(&format!("/x/{}/y", "b".repeat(255)))).unwrap();
        assert!(validate(&with_mount("/a\0b")).unwrap_err().contains("NUL"));
    }

    #[test]
    fn process_args_and_env_within_execve_limits() {
        let p = |args: Vec<String>, env: Vec<String>| {
            let mut s = Spec::default();
            s.set_process(Some(
                ProcessBuilder::default()
                    .args(args)
                    .env(env)
                    .cwd("/")
                    .build()
                    .unwrap(),
            ));
            validate(&s)
        };
        assert!(p(vec![], vec![])
            .unwrap_err()
            .starts_with("process.args is empty"));
        assert!(p(vec!["".into()], vec![])
            .unwrap_err()
            .starts_with("process.args[0] is empty"));
        let e = p(vec!["sh".into(), "x".repeat(10 << 20)], vec![]).unwrap_err();
        assert!(e.starts_with("process.args[1] is 10485760 bytes"), "{e}");
        let many: Vec<String> = (0..40).map(|_| "y".repeat(100_000)).collect();
        let e = p(
            vec!["sh".into()],
            many.iter().map(|v| format!("A={v}")).collect(),
        )
        .unwrap_err();
        assert!(e.starts_with("process.args and process.env take"), "{e}");
        let e = p(vec!["sh".into()], vec!["NOEQUALS".into()]).unwrap_err();
        assert!(e.starts_with("process.env[0]"), "{e}");
        p(vec!["sh".into()], vec!["PATH=/bin".into()]).unwrap();
        let mut s = Spec::default();
        let mut proc_ = s.process().clone().unwrap();
        let mut user = proc_.user().clone();
        user.set_additional_gids(Some(vec![7; 70_000]));
        proc_.set_user(user);
        s.set_process(Some(proc_));
        let e = validate(&s).unwrap_err();
        assert!(
            e.starts_with("process.user.additionalGids lists 70000"),
            "{e}"
        );
    }
}
