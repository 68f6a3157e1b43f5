//! The namespaces a container joins by path, seen from the user namespaces that own them.
//!
//! A process in a new user namespace may only join namespaces that user namespace owns. So a
//! container that gets a user namespace and also joins namespaces of someone else needs care:
//!
//! - namespaces of another container that has a user namespace (Docker `--network container:X`,
//!   the containers of a Kubernetes pod joining the sandbox's ipc and uts): the container joins
//!   that user namespace too, and shares its host ID range;
//! - network, ipc or uts namespaces owned by the host's user namespace that are not the host's
//!   own (the network namespace containerd's CRI creates for a pod before its sandbox): `create`
//!   enters them itself before the container's user namespace exists, as runc does;
//! - other namespace types owned by the host's user namespace (`--pid container:X` of a
//!   container without a user namespace): no user namespace can be added.

use std::collections::BTreeSet;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::IdRange;

/// A namespace related to another, as ioctl_ns(2) finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NsRelation {
    /// `NS_GET_USERNS`: the user namespace that owns a namespace.
    Owner,
    /// `NS_GET_PARENT`: the parent of a PID or user namespace.
    Parent,
}

/// A new descriptor of the namespace `relation` names for the namespace open at `ns`.
pub(crate) fn related_ns(ns: BorrowedFd<'_>, relation: NsRelation) -> std::io::Result<OwnedFd> {
    let request = match relation {
        NsRelation::Owner => libc::NS_GET_USERNS,
        NsRelation::Parent => libc::NS_GET_PARENT,
    };
    // SAFETY: NS_GET_USERNS and NS_GET_PARENT take no argument (nothing is read or written
    // through a pointer) and only return a new descriptor or -1; `ns` is borrowed, so it stays
    // open for the call. On any other kind of file they fail (ENOTTY).
    let fd = unsafe { libc::ioctl(ns.as_raw_fd(), request) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is the new descriptor the ioctl just returned: open, and owned by nothing
    // else, so the `OwnedFd` is its only owner and closes it once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Joins {
    /// Joined namespaces owned by the host's user namespace, to enter before the container's
    /// user namespace is made.
    pub prejoin: Vec<(LinuxNamespaceType, PathBuf)>,
    /// The user namespace (`/proc/<pid>/ns/user`) and host range of the container whose
    /// namespaces this one joins.
    pub donor: Option<(PathBuf, IdRange)>,
    /// Why no user namespace can be added.
    pub blocked: Option<String>,
}

fn ns_id(m: &std::fs::Metadata) -> (u64, u64) {
    (m.dev(), m.ino())
}

/// The (dev, inode) of the user namespace owning the namespace at `path`.
fn owner_of(path: &Path) -> Result<(u64, u64), String> {
    let f = std::fs::File::open(path)
        .map_err(|e| format!("cannot open the namespace {}: {e}", path.display()))?;
    let owner = related_ns(f.as_fd(), NsRelation::Owner).map_err(|e| {
        format!(
            "cannot find the user namespace owning {}: {e}",
            path.display()
        )
    })?;
    let owner = std::fs::File::from(owner);
    owner
        .metadata()
        .map(|m| ns_id(&m))
        .map_err(|e| format!("stat the owner of {}: {e}", path.display()))
}

/// A one-line mapping "0 H N" (as this runtime writes them).
fn single_range(text: &str) -> Option<IdRange> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let [line] = lines.as_slice() else {
        return None;
    };
    let f: Vec<u32> = line
        .split_whitespace()
        .map(|n| n.parse().ok())
        .collect::<Option<_>>()?;
    match f.as_slice() {
        [0, host, size] if *host != 0 => Some(IdRange {
            host_start: *host,
            size: *size,
        }),
        _ => None,
    }
}

fn proc_pid(path: &Path) -> Option<i32> {
    let rest = path.strip_prefix("/proc").ok()?;
    rest.components().next()?.as_os_str().to_str()?.parse().ok()
}

/// Look at the namespaces `spec` joins by path (not the host's own: `host_paths`).
pub fn inspect(spec: &Spec, host_paths: &BTreeSet<PathBuf>) -> Result<Joins, String> {
    let own = std::fs::metadata("/proc/self/ns/user")
        .map(|m| ns_id(&m))
        .map_err(|e| format!("stat /proc/self/ns/user: {e}"))?;
    let mut joins = Joins::default();
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in &namespaces {
        let Some(path) = ns.path() else { continue };
        if ns.typ() == LinuxNamespaceType::User || host_paths.contains(path) {
            continue;
        }
        let owner = owner_of(path)?;
        if owner == own {
            match ns.typ() {
                LinuxNamespaceType::Network | LinuxNamespaceType::Ipc | LinuxNamespaceType::Uts => {
                    joins.prejoin.push((ns.typ(), path.clone()))
                }
                t => {
                    joins.blocked = Some(format!(
                    "it joins the {t} namespace {}, which belongs to no container's user namespace",
                    path.display()
                ))
                }
            }
            continue;
        }
        let not_ours = || {
            format!(
                "the namespace {} belongs to a user namespace that is not one container's range of this runtime; join it with an explicit user namespace (path) in the config",
                path.display()
            )
        };
        let pid = proc_pid(path).ok_or_else(not_ours)?;
        let user = PathBuf::from(format!("/proc/{pid}/ns/user"));
        let same = std::fs::metadata(&user).is_ok_and(|m| ns_id(&m) == owner);
        if !same {
            return Err(not_ours());
        }
        let read = |f: &str| std::fs::read_to_string(format!("/proc/{pid}/{f}")).ok();
        let range = match (
            read("uid_map").as_deref().and_then(single_range),
            read("gid_map").as_deref().and_then(single_range),
        ) {
            (Some(u), Some(g)) if u == g => u,
            _ => return Err(not_ours()),
        };
        match &joins.donor {
            Some((p, _)) if std::fs::metadata(p).map(|m| ns_id(&m)).ok() != Some(owner) => {
                return Err(format!(
                    "it joins namespaces owned by two different user namespaces ({} and {})",
                    p.display(),
                    user.display()
                ))
            }
            Some(_) => {}
            None => joins.donor = Some((user, range)),
        }
    }
    Ok(joins)
}

fn clone_flag(t: LinuxNamespaceType) -> nix::sched::CloneFlags {
    use nix::sched::CloneFlags as F;
    match t {
        LinuxNamespaceType::Network => F::CLONE_NEWNET,
        LinuxNamespaceType::Ipc => F::CLONE_NEWIPC,
        LinuxNamespaceType::Uts => F::CLONE_NEWUTS,
        LinuxNamespaceType::Mount => F::CLONE_NEWNS,
        LinuxNamespaceType::Pid => F::CLONE_NEWPID,
        LinuxNamespaceType::Cgroup => F::CLONE_NEWCGROUP,
        LinuxNamespaceType::User => F::CLONE_NEWUSER,
        LinuxNamespaceType::Time => F::empty(),
    }
}

/// The name of a namespace type under `/proc/<pid>/ns/`.
pub fn proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Time => "time",
    }
}

/// The calling thread's namespaces before `enter`, to go back to after the container's
/// process is forked (so hooks and `delete` run where they would have).
pub struct Entered(Vec<(nix::sched::CloneFlags, OwnedFd)>);

/// Enter `namespaces` on the calling thread (the one that forks the container's process).
pub fn enter(namespaces: &[(LinuxNamespaceType, PathBuf)]) -> anyhow::Result<Entered> {
    use anyhow::Context;
    let mut back = Entered(Vec::new());
    for (t, path) in namespaces {
        let flag = clone_flag(*t);
        let ours: OwnedFd = std::fs::File::open(format!("/proc/thread-self/ns/{}", proc_name(*t)))
            .with_context(|| format!("open this thread's {} namespace", proc_name(*t)))?
            .into();
        let theirs = std::fs::File::open(path)
            .with_context(|| format!("open the namespace {}", path.display()))?;
        nix::sched::setns(&theirs, flag)
            .with_context(|| format!("enter the namespace {}", path.display()))?;
        back.0.push((flag, ours));
    }
    Ok(back)
}

impl Drop for Entered {
    fn drop(&mut self) {
        for (flag, fd) in self.0.drain(..).rev() {
            if let Err(e) = nix::sched::setns(&fd, flag) {
                tracing::error!("return to the runtime's own namespace ({flag:?}): {e}");
            }
        }
    }
}

/// Namespaces entered by `create` itself (`userns::join`) are inherited by the container's
/// process: they leave the spec libcontainer sees. Its sysfs cannot be mounted then when the
/// network namespace is one of them (sysfs needs the mounter's user namespace to own the network
/// namespace): as runc does in that case, the host's /sys is bind-mounted read-only instead.
pub fn without_prejoined(spec: &mut Spec, prejoined: &[(LinuxNamespaceType, PathBuf)]) {
    if prejoined.is_empty() {
        return;
    }
    // libcontainer refuses a hostname without a uts namespace in its spec: `create` sets the
    // names itself, in the joined namespace (`set_uts_names`).
    if prejoined.iter().any(|(t, _)| *t == LinuxNamespaceType::Uts) {
        spec.set_hostname(None);
        spec.set_domainname(None);
    }
    if let Some(mut linux) = spec.linux().clone() {
        if let Some(mut ns) = linux.namespaces().clone() {
            ns.retain(|n| !prejoined.iter().any(|(t, _)| *t == n.typ()));
            linux.set_namespaces(Some(ns));
        }
        spec.set_linux(Some(linux));
    }
    if !prejoined
        .iter()
        .any(|(t, _)| *t == LinuxNamespaceType::Network)
    {
        return;
    }
    if let Some(mut mounts) = spec.mounts().clone() {
        for m in mounts.iter_mut() {
            if m.typ().as_deref() == Some("sysfs") {
                m.set_typ(Some("bind".into()));
                m.set_source(Some(PathBuf::from("/sys")));
                m.set_options(Some(
                    ["rbind", "nosuid", "noexec", "nodev", "ro"]
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                ));
            }
        }
        spec.set_mounts(Some(mounts));
    }
}

/// The `hostname` and `domainname` of `spec`, set by `create` on the thread that has entered
/// the `prejoined` namespaces, when a uts namespace is among them (runc sets them in a joined uts
/// namespace too; libcontainer, which does not see that namespace, would refuse them).
pub fn set_uts_names(
    spec: &Spec,
    prejoined: &[(LinuxNamespaceType, PathBuf)],
) -> anyhow::Result<()> {
    use anyhow::Context;
    if !prejoined.iter().any(|(t, _)| *t == LinuxNamespaceType::Uts) {
        return Ok(());
    }
    if let Some(h) = spec.hostname() {
        rustix::system::sethostname(h.as_bytes())
            .with_context(|| format!("set the hostname {h:?} in the joined uts namespace"))?;
    }
    if let Some(d) = spec.domainname() {
        rustix::system::setdomainname(d.as_bytes())
            .with_context(|| format!("set the domainname {d:?} in the joined uts namespace"))?;
    }
    Ok(())
}

/// Where `create` attaches the mqueue filesystem of a prejoined ipc namespace, in its private
/// mount namespace (an empty directory on the host, mode 0711).
pub const MQUEUE_DIR: &str = "/run/hardened-mqueue";

/// The `mqueue` mounts of a container that joins an ipc namespace owned by the host's user
/// namespace (`prejoined`): an mqueue filesystem belongs to the ipc namespace of its mounter, and
/// only a mounter privileged over that namespace's user namespace may make one, so libcontainer's
/// mount from inside the container's new user namespace fails (`EPERM`). `create` makes it
/// itself (host root, on this thread inside the joined ipc namespace: `fsopen`, `fsmount`),
/// attaches it on [`MQUEUE_DIR`] in its private mount namespace (`idmap::private_mount_namespace`
/// must have been entered) and hands libcontainer a bind mount of it with the same flags.
pub fn mqueue_of_prejoined(
    spec: &mut Spec,
    prejoined: &[(LinuxNamespaceType, PathBuf)],
) -> anyhow::Result<()> {
    use anyhow::Context;
    use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags as A};
    let Some(ipc) = prejoined
        .iter()
        .find(|(t, _)| *t == LinuxNamespaceType::Ipc)
    else {
        return Ok(());
    };
    let Some(mut mounts) = spec.mounts().clone() else {
        return Ok(());
    };
    let mut mqueue = None;
    for m in mounts
        .iter_mut()
        .filter(|m| m.typ().as_deref() == Some("mqueue"))
    {
        let options: Vec<String> = m.options().clone().unwrap_or_default();
        let attrs = options.iter().fold(A::empty(), |a, o| match o.as_str() {
            "nosuid" => a | A::MOUNT_ATTR_NOSUID,
            "nodev" => a | A::MOUNT_ATTR_NODEV,
            "noexec" => a | A::MOUNT_ATTR_NOEXEC,
            "ro" => a | A::MOUNT_ATTR_RDONLY,
            _ => a,
        });
        if mqueue.is_none() {
            let entered = enter(std::slice::from_ref(ipc))?;
            let fs = rustix::mount::fsopen("mqueue", FsOpenFlags::FSOPEN_CLOEXEC)
                .context("fsopen(mqueue)")?;
            rustix::mount::fsconfig_create(&fs)
                .with_context(|| format!("make the mqueue filesystem of {}", ipc.1.display()))?;
            let mnt = rustix::mount::fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs)
                .context("fsmount(mqueue)")?;
            drop(entered);
            let dir = super::idmap::host_dir(MQUEUE_DIR)?;
            rustix::mount::move_mount(
                &mnt,
                "",
                rustix::fs::CWD,
                &dir,
                rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
            )
            .with_context(|| format!("move_mount to {}", dir.display()))?;
            mqueue = Some(dir);
        }
        m.set_typ(Some("bind".into()));
        m.set_source(mqueue.clone());
        let mut bind = vec!["rbind".to_string()];
        bind.extend(options.into_iter().filter(|o| o != "rbind" && o != "bind"));
        m.set_options(Some(bind));
    }
    spec.set_mounts(Some(mounts));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_range_reads_one_line_maps_only() {
        assert_eq!(
            single_range("         0 1000000000      65536\n"),
            Some(IdRange {
                host_start: 1_000_000_000,
                size: 65536
            })
        );
        assert_eq!(single_range("0 0 4294967295\n"), None);
        assert_eq!(single_range("0 1000 1\n1 100000 65536\n"), None);
        assert_eq!(single_range(""), None);
    }

    #[test]
    fn proc_pid_of_namespace_paths() {
        assert_eq!(proc_pid(Path::new("/proc/42/ns/net")), Some(42));
        assert_eq!(proc_pid(Path::new("/var/run/netns/cni-1")), None);
        assert_eq!(proc_pid(Path::new("/proc/self/ns/net")), None);
    }
}
