//! `process.rlimits` the container could not get, refused before anything is created.
//!
//! libcontainer sets the rlimits in its intermediate process, after that process entered the
//! container's user namespace: there it has no `CAP_SYS_RESOURCE` over the host, so a hard
//! limit above the one the runtime inherited from its caller fails with `EPERM`, which the
//! caller saw as `failed to run intermediate process EPERM` (podman's default
//! `RLIMIT_NOFILE` of 1048576 under a smaller hard limit). Without a user namespace the
//! runtime's root may raise hard limits, except `RLIMIT_NOFILE` beyond `fs.nr_open`; and a soft
//! limit above its hard limit is always `EINVAL`. The message names the rlimit, the value asked,
//! the limit it exceeds, and what to change.

use oci_spec::runtime::{LinuxNamespaceType, PosixRlimit, PosixRlimitType, Process, Spec};
use rustix::process::Resource;

/// The limits of the runtime's own process, which libcontainer's processes inherit.
pub struct Host {
    /// The hard limit of a resource (`u64::MAX`: unlimited).
    pub hard: fn(Resource) -> u64,
    /// `/proc/sys/fs/nr_open`, the most `RLIMIT_NOFILE` can be (None: unknown).
    pub nr_open: Option<u64>,
}

impl Host {
    /// This process's limits.
    pub fn current() -> Host {
        Host {
            hard: |r| rustix::process::getrlimit(r).maximum.unwrap_or(u64::MAX),
            nr_open: std::fs::read_to_string("/proc/sys/fs/nr_open")
                .ok()
                .and_then(|s| s.trim().parse().ok()),
        }
    }
}

/// The rlimits of a container's process, against this process's limits.
pub fn check(spec: &Spec) -> Result<(), String> {
    match spec.process() {
        Some(p) => check_process(p, has_user_namespace(spec), &Host::current()),
        None => Ok(()),
    }
}

/// The rlimits of a process `exec`'d in the container of `container`.
pub fn check_exec(container: &Spec, process: &Process) -> Result<(), String> {
    check_process(process, has_user_namespace(container), &Host::current())
}

fn has_user_namespace(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::User))
}

/// The rlimits of `p`, for a process in a user namespace of its own (`userns`) or not.
pub fn check_process(p: &Process, userns: bool, host: &Host) -> Result<(), String> {
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        check_one(i, r, userns, host)?;
    }
    Ok(())
}

fn check_one(i: usize, r: &PosixRlimit, userns: bool, host: &Host) -> Result<(), String> {
    let (resource, name) = resource(r.typ());
    let field = format!("process.rlimits[{i}] ({})", name.to_uppercase());
    let short = name.strip_prefix("rlimit_").unwrap_or(name);
    let (soft, hard) = (r.soft(), r.hard());
    if soft > hard {
        return Err(format!(
            "{field}: soft limit {} is above its hard limit {}: give a soft limit of at most the hard one (--ulimit {short}=SOFT:HARD)",
            shown(soft),
            shown(hard)
        ));
    }
    if resource == Resource::Nofile {
        if let Some(nr_open) = host.nr_open.filter(|max| hard > *max) {
            return Err(format!(
                "{field}: hard limit {} is above the kernel's most (fs.nr_open = {nr_open}): ask at most {nr_open} (--ulimit {short}={nr_open}:{nr_open}), or raise the sysctl fs.nr_open",
                shown(hard)
            ));
        }
    }
    let ours = (host.hard)(resource);
    if userns && hard > ours {
        return Err(format!(
            "{field}: hard limit {} is above this runtime's hard limit {}, which the container's user namespace cannot raise: ask at most {} (--ulimit {short}={}:{}), or raise the engine's limit (Limit{}= in its systemd unit)",
            shown(hard),
            shown(ours),
            shown(ours),
            shown(soft.min(ours)),
            shown(ours),
            short.to_uppercase(),
        ));
    }
    Ok(())
}

/// A limit as `ulimit` shows it.
fn shown(v: u64) -> String {
    if v == u64::MAX {
        "unlimited".into()
    } else {
        v.to_string()
    }
}

/// The resource of a spec's rlimit type, and its name in lower case (`rlimit_nofile`).
fn resource(t: PosixRlimitType) -> (Resource, &'static str) {
    use PosixRlimitType as T;
    match t {
        T::RlimitCpu => (Resource::Cpu, "rlimit_cpu"),
        T::RlimitFsize => (Resource::Fsize, "rlimit_fsize"),
        T::RlimitData => (Resource::Data, "rlimit_data"),
        T::RlimitStack => (Resource::Stack, "rlimit_stack"),
        T::RlimitCore => (Resource::Core, "rlimit_core"),
        T::RlimitRss => (Resource::Rss, "rlimit_rss"),
        T::RlimitNproc => (Resource::Nproc, "rlimit_nproc"),
        T::RlimitNofile => (Resource::Nofile, "rlimit_nofile"),
        T::RlimitMemlock => (Resource::Memlock, "rlimit_memlock"),
        T::RlimitAs => (Resource::As, "rlimit_as"),
        T::RlimitLocks => (Resource::Locks, "rlimit_locks"),
        T::RlimitSigpending => (Resource::Sigpending, "rlimit_sigpending"),
        T::RlimitMsgqueue => (Resource::Msgqueue, "rlimit_msgqueue"),
        T::RlimitNice => (Resource::Nice, "rlimit_nice"),
        T::RlimitRtprio => (Resource::Rtprio, "rlimit_rtprio"),
        T::RlimitRttime => (Resource::Rttime, "rlimit_rttime"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{PosixRlimitBuilder, ProcessBuilder};

    fn process(t: PosixRlimitType, soft: u64, hard: u64) -> Process {
        let r = PosixRlimitBuilder::default()
            .typ(t)
            .soft(soft)
            .hard(hard)
            .build()
            .unwrap();
        ProcessBuilder::default().rlimits(vec![r]).build().unwrap()
    }

    const HOST: Host = Host {
        hard: |r| if r == Resource::Nofile { 20000 } else { 100 },
        nr_open: Some(1048576),
    };

    #[test]
    fn above_the_hard_limit_in_a_user_namespace_names_it() {
        let p = process(PosixRlimitType::RlimitNofile, 1048576, 1048576);
        let err = check_process(&p, true, &HOST).unwrap_err();
        assert!(
            err.starts_with("process.rlimits[0] (RLIMIT_NOFILE)"),
            "{err}"
        );
        assert!(err.contains("1048576"), "{err}");
        assert!(err.contains("hard limit 20000"), "{err}");
        assert!(err.len() <= crate::oneline::LINE_MAX, "{err}");
        assert!(err.contains("--ulimit nofile=20000:20000"), "{err}");
        assert!(err.contains("LimitNOFILE="), "{err}");
        // Without a user namespace, the runtime's root raises it (up to fs.nr_open).
        check_process(&p, false, &HOST).unwrap();
    }

    #[test]
    fn within_the_limits_passes() {
        check_process(
            &process(PosixRlimitType::RlimitNofile, 1024, 20000),
            true,
            &HOST,
        )
        .unwrap();
        check_process(&process(PosixRlimitType::RlimitNproc, 10, 100), true, &HOST).unwrap();
        check_process(&ProcessBuilder::default().build().unwrap(), true, &HOST).unwrap();
    }

    #[test]
    fn soft_above_hard_and_beyond_nr_open_are_refused() {
        let err =
            check_process(&process(PosixRlimitType::RlimitCore, 5, 1), false, &HOST).unwrap_err();
        assert!(
            err.contains("soft limit 5 is above its hard limit 1"),
            "{err}"
        );
        let err = check_process(
            &process(PosixRlimitType::RlimitNofile, 1024, 1 << 21),
            false,
            &HOST,
        )
        .unwrap_err();
        assert!(err.contains("fs.nr_open = 1048576"), "{err}");
    }

    #[test]
    fn unlimited_is_shown_as_such() {
        let err = check_process(
            &process(PosixRlimitType::RlimitNproc, u64::MAX, u64::MAX),
            true,
            &HOST,
        )
        .unwrap_err();
        assert!(err.contains("hard limit unlimited"), "{err}");
    }
}
