//! Idmapped mounts, so that images work unchanged under a user namespace: inside the container
//! every file has the owner the image gave it, and nothing is copied or chowned (the cost does
//! not grow with the image).
//!
//! All of it happens in a private mount namespace of the runtime process, made just before the
//! container is created: the container's mount namespace is a copy of it, and the host never
//! sees these mounts, so nothing is left behind, even when the runtime is killed mid-create.
//! The idmapped trees are attached in a tmpfs mounted (in that namespace only) on
//! `/run/hardened-idmap`, an empty directory on the host, mode 0711: the container's root
//! (an unprivileged host ID) must be able to reach them, and the engines' state directories
//! that hold the original root filesystem and bind sources are not searchable by it.
//!
//! - a root filesystem that is a directory (a bundle's `rootfs`) gets an idmapped clone of
//!   itself mounted over it (`open_tree(OPEN_TREE_CLONE)` + `mount_setattr(MOUNT_ATTR_IDMAP)`);
//! - an overlayfs root filesystem (Docker's `merged`) cannot be idmapped itself (`EINVAL`): a new
//!   overlay is mounted over it from idmapped clones of its layers (each lower directory, and the
//!   layer directory that holds the upper and work directories), with `index=off` as Docker's;
//! - bind mounts (volumes, `/etc/hosts`, `/etc/resolv.conf`, `/etc/hostname`, `/dev/shm`) get
//!   idmapped clones of their sources, attached in a scratch tmpfs, and the spec points to them.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxIdMapping, Mount, Spec};

use super::IdRange;

// mount_setattr(2) is not in rustix's mount API yet: its flags and struct are ours.
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
pub(crate) struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

/// mount_setattr(2) on the mount `fd` refers to (and, `recursive`, the mounts below it).
pub(crate) fn mount_setattr(
    fd: &OwnedFd,
    recursive: bool,
    attr: &MountAttr,
) -> std::io::Result<()> {
    let flags = libc::AT_EMPTY_PATH as libc::c_uint | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: the kernel reads only its arguments: `fd` is open for the whole call (borrowed
    // from an `OwnedFd`), the path is a NUL-terminated static string, and `attr` points to a
    // live `#[repr(C)]` struct mount_attr whose exact size is passed, so the kernel reads no
    // byte past it. No memory is written and no descriptor is created or closed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// An errno from nix as the I/O error it is, with what failed.
fn os_err(e: nix::errno::Errno, what: &str) -> anyhow::Error {
    anyhow::Error::new(std::io::Error::from(e)).context(what.to_string())
}

/// A user namespace with the container's mapping, for `MOUNT_ATTR_IDMAP`: a child process
/// unshares one, we write its maps, keep a descriptor of it, and let the child go.
pub fn userns_fd(range: IdRange) -> Result<OwnedFd> {
    let map = format!("0 {} {}\n", range.host_start, range.size);
    userns_fd_maps(&map, &map)
}

/// The `uid_map`/`gid_map` text of runtime-spec ID mappings.
pub fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// A user namespace with the given `uid_map` and `gid_map` contents, for `MOUNT_ATTR_IDMAP`.
pub fn userns_fd_maps(uid_map: &str, gid_map: &str) -> Result<OwnedFd> {
    let holder = UsernsHolder::spawn()?;
    let result = holder.map(uid_map, gid_map);
    holder.release();
    result
}

/// A child process that unshares a user namespace and stays in it until released, so that its
/// maps can be written and a descriptor of it kept.
struct UsernsHolder {
    pid: nix::unistd::Pid,
    /// One byte from the child: 1 when its unshare(CLONE_NEWUSER) succeeded.
    ready: OwnedFd,
    /// Closed to let the child exit.
    release: OwnedFd,
}

impl UsernsHolder {
    fn spawn() -> Result<Self> {
        use nix::unistd::{fork, pipe2, ForkResult};
        let cloexec = nix::fcntl::OFlag::O_CLOEXEC;
        let (ready_r, ready_w) = pipe2(cloexec).map_err(|e| os_err(e, "pipe"))?;
        let (release_r, release_w) = pipe2(cloexec).map_err(|e| os_err(e, "pipe"))?;
        // SAFETY: the child runs only `holder_child`, which makes async-signal-safe system
        // calls (close, unshare, write, read, _exit) on descriptors made before the fork,
        // allocates nothing and takes no lock, so no lock held by another thread of the parent
        // at the fork can block it or be left inconsistent for it.
        match unsafe { fork() }.map_err(|e| os_err(e, "fork"))? {
            ForkResult::Child => holder_child(ready_r, ready_w, release_r, release_w),
            ForkResult::Parent { child } => Ok(UsernsHolder {
                pid: child,
                ready: ready_r,
                release: release_w,
            }),
        }
    }

    /// Wait for the child's user namespace, write its maps and open it.
    fn map(&self, uid_map: &str, gid_map: &str) -> Result<OwnedFd> {
        let pid = self.pid;
        let mut ok = [0u8];
        let n = nix::unistd::read(self.ready.as_raw_fd(), &mut ok);
        if n != Ok(1) || ok[0] != 1 {
            bail!(
                "create a user namespace for the idmapped mounts (unshare(CLONE_NEWUSER) failed)"
            );
        }
        std::fs::write(format!("/proc/{pid}/uid_map"), uid_map)
            .with_context(|| format!("write uid_map {uid_map:?}"))?;
        std::fs::write(format!("/proc/{pid}/gid_map"), gid_map)
            .with_context(|| format!("write gid_map {gid_map:?}"))?;
        let f = std::fs::File::open(format!("/proc/{pid}/ns/user"))
            .context("open the user namespace")?;
        Ok(f.into())
    }

    /// Let the child exit, and reap it.
    fn release(self) {
        drop(self.release);
        let _ = nix::sys::wait::waitpid(self.pid, None);
    }
}

/// The child of [`UsernsHolder::spawn`]: only async-signal-safe calls. It closes the parent's
/// ends first, or its read would never see the end of the release pipe.
fn holder_child(ready_r: OwnedFd, ready_w: OwnedFd, release_r: OwnedFd, release_w: OwnedFd) -> ! {
    drop(release_w);
    drop(ready_r);
    let ok = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).is_ok();
    let _ = nix::unistd::write(&ready_w, &[u8::from(ok)]);
    let _ = nix::unistd::read(release_r.as_raw_fd(), &mut [0u8]);
    // SAFETY: _exit(2) has no preconditions; it ends this forked child at once, without
    // running the parent's atexit handlers or flushing its stdio buffers, which a fork must
    // not do.
    unsafe { libc::_exit(0) }
}

/// A detached, idmapped clone of the tree at `path` (`recursive`: with its submounts).
pub fn idmapped_clone(path: &Path, userns: &OwnedFd, recursive: bool) -> Result<OwnedFd> {
    clone_tree(path, Some(userns), recursive, false)
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// A detached clone of the tree at `path`: idmapped with `userns`, and/or read-only. A
/// read-only bind is made read-only here, on the clone, because libcontainer's read-only
/// remount of a bind inside a user namespace drops the mount's locked flags and fails (EPERM).
pub fn clone_tree(
    path: &Path,
    userns: Option<&OwnedFd>,
    recursive: bool,
    readonly: bool,
) -> Result<OwnedFd> {
    use rustix::mount::OpenTreeFlags as F;
    let flags = F::OPEN_TREE_CLONE
        | F::OPEN_TREE_CLOEXEC
        | if recursive {
            F::AT_RECURSIVE
        } else {
            F::empty()
        };
    let fd = rustix::mount::open_tree(rustix::fs::CWD, path, flags)
        .with_context(|| format!("open_tree({})", path.display()))?;
    let attr = MountAttr {
        attr_set: if userns.is_some() {
            MOUNT_ATTR_IDMAP
        } else {
            0
        } | if readonly { MOUNT_ATTR_RDONLY } else { 0 },
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.map(|u| u.as_raw_fd() as u64).unwrap_or(0),
    };
    if attr.attr_set == 0 {
        return Ok(fd);
    }
    if let Err(e) = mount_setattr(&fd, recursive, &attr) {
        return Err(anyhow::Error::new(e).context(format!(
            "idmap {} (mount_setattr(MOUNT_ATTR_IDMAP); its filesystem may not support idmapped mounts)",
            path.display()
        )));
    }
    Ok(fd)
}

/// Attach a detached mount at `target`.
pub(crate) fn attach(mnt: &OwnedFd, target: &Path) -> Result<()> {
    rustix::mount::move_mount(
        mnt,
        "",
        rustix::fs::CWD,
        target,
        rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .with_context(|| format!("move_mount to {}", target.display()))
}

/// Give this process a private mount namespace (only for the rest of this command). The
/// idmapped trees, the device nodes and the tmpcopyup mounts of one create share it: it is made
/// once, whoever asks first.
pub fn private_mount_namespace() -> Result<()> {
    static ENTERED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if ENTERED.load(std::sync::atomic::Ordering::Acquire) {
        return Ok(());
    }
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .context("unshare a private mount namespace for the idmapped mounts")?;
    // Slave, not private: nothing made here reaches the host, but what the host mounts below a
    // bind source still reaches the container when its mount asks for it (`rslave`): a clone
    // of a slave mount (`open_tree(OPEN_TREE_CLONE)`) is a slave of the same master, where a
    // clone of a private one receives nothing.
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .context("make the private mount namespace a slave of the host's")?;
    ENTERED.store(true, std::sync::atomic::Ordering::Release);
    Ok(())
}

/// A directory on the host (mode 0711, made once and left empty there) where this command
/// attaches mounts in its private mount namespace.
pub fn host_dir(path: &str) -> Result<PathBuf> {
    let dir = PathBuf::from(path);
    if !dir.exists() {
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))?;
    }
    Ok(dir)
}

/// [`host_dir`] with a small tmpfs (mode 0711, `nosuid,noexec` and `extra` flags) mounted on it
/// in this command's private mount namespace; `what` names it in errors.
pub fn private_tmpfs(path: &str, extra: nix::mount::MsFlags, what: &str) -> Result<PathBuf> {
    private_mount_namespace()?;
    let dir = host_dir(path)?;
    nix::mount::mount(
        Some("tmpfs"),
        &dir,
        Some("tmpfs"),
        nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NOEXEC | extra,
        Some("mode=711,size=16k"),
    )
    .with_context(|| format!("mount the {what}"))?;
    Ok(dir)
}

/// An overlayfs mount point: its lower directories, upper and work directories.
#[derive(Debug, PartialEq, Eq)]
pub struct Overlay {
    pub lower: Vec<PathBuf>,
    pub upper: Option<PathBuf>,
    pub work: Option<PathBuf>,
    /// Mounted `volatile` (shown as `fsync=volatile` by newer kernels), as podman mounts the
    /// layer of a `--rm` container: its work directory then holds `work/incompat/volatile`,
    /// which the kernel refuses (`EINVAL`) in the work directory of any other overlay.
    pub volatile: bool,
}

fn unescape(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo.
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| c.is_ascii_digit()) {
            let v = u8::from_str_radix(&s[i + 1..i + 4], 8).unwrap_or(b'?');
            out.push(v as char);
            i += 4;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// The overlay mounted at `mount_point`, from `/proc/self/mountinfo` text. Relative layer paths
/// (Docker's `l/<short>` links) are resolved against `mount_point/../..`.
pub fn find_overlay(mountinfo: &str, mount_point: &Path) -> Option<Overlay> {
    let line = mountinfo.lines().rev().find(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        f.len() > 4 && Path::new(&unescape(f[4])) == mount_point
    })?;
    let (_, post) = line.split_once(" - ")?;
    let mut parts = post.splitn(3, ' ');
    if parts.next()? != "overlay" {
        return None;
    }
    let _source = parts.next()?;
    let options = parts.next()?;
    let base = mount_point.parent()?.parent()?;
    let resolve = |p: &str| {
        let p = PathBuf::from(unescape(p));
        if p.is_absolute() {
            p
        } else {
            base.join(p)
        }
    };
    let mut ov = Overlay {
        lower: Vec::new(),
        upper: None,
        work: None,
        volatile: false,
    };
    for opt in options.split(',') {
        if let Some(v) = opt.strip_prefix("lowerdir=") {
            ov.lower
                .extend(v.split(':').filter(|s| !s.is_empty()).map(resolve));
        } else if let Some(v) = opt.strip_prefix("lowerdir+=") {
            ov.lower.push(resolve(v));
        } else if let Some(v) = opt.strip_prefix("upperdir=") {
            ov.upper = Some(resolve(v));
        } else if let Some(v) = opt.strip_prefix("workdir=") {
            ov.work = Some(resolve(v));
        } else if opt == "volatile" || opt == "fsync=volatile" {
            ov.volatile = true;
        }
    }
    (!ov.lower.is_empty()).then_some(ov)
}

/// Scratch space (a tmpfs in the private mount namespace) where idmapped clones are attached.
struct Scratch {
    dir: PathBuf,
    n: usize,
}

impl Scratch {
    fn new(dir: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        nix::mount::mount(
            Some("tmpfs"),
            &dir,
            Some("tmpfs"),
            nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
            Some("mode=711,size=64k"),
        )
        .context("mount the scratch tmpfs for idmapped mounts")?;
        Ok(Scratch { dir, n: 0 })
    }

    /// A new mount point (a directory, or a file for a file source).
    fn point(&mut self, is_dir: bool) -> Result<PathBuf> {
        self.n += 1;
        let p = self.dir.join(format!("m{}", self.n));
        if is_dir {
            std::fs::create_dir(&p)?;
        } else {
            std::fs::File::create(&p)?;
        }
        Ok(p)
    }
}

/// What happened to one bind mount.
#[derive(Debug)]
pub enum BindOutcome {
    Idmapped,
    /// Not idmappable: made read-only (policy) with this reason.
    ReadOnly(String),
}

/// The user namespace for a mount's own `uidMappings`/`gidMappings` (runtime-spec 1.1), if it
/// has them; both are needed, and only bind mounts can be idmapped.
fn explicit_userns(m: &Mount) -> Result<Option<OwnedFd>> {
    let (u, g) = (m.uid_mappings(), m.gid_mappings());
    if u.is_none() && g.is_none() {
        return Ok(None);
    }
    let dest = m.destination().display();
    let (Some(u), Some(g)) = (u, g) else {
        bail!("the mount on {dest} has only one of uidMappings and gidMappings: an idmapped mount needs both");
    };
    if !crate::facts::is_bind(m) {
        bail!("the mount on {dest} has uidMappings/gidMappings but is not a bind mount: only bind mounts can be idmapped");
    }
    userns_fd_maps(&map_text(u), &map_text(g))
        .map(Some)
        .with_context(|| format!("the user namespace of the idmapped mount on {dest}"))
}

fn has_explicit_mappings(m: &Mount) -> bool {
    m.uid_mappings().is_some() || m.gid_mappings().is_some()
}

/// Honour the `uidMappings`/`gidMappings` of bind mounts (runtime-spec 1.1, what containerd and
/// the kubelet send for `hostUsers: false`) for a container that gets no user namespace from the
/// policy: each source is replaced by an idmapped clone, attached in a scratch tmpfs in a
/// private mount namespace of this process (as `prepare` does). None when no mount asks.
pub fn explicit_mounts(spec: &Spec) -> Result<Option<Spec>> {
    if !spec.mounts().iter().flatten().any(has_explicit_mappings) {
        return Ok(None);
    }
    private_mount_namespace()?;
    let mut scratch = Scratch::new(scratch_dir()?)?;
    let mut spec = spec.clone();
    if let Some(mut mounts) = spec.mounts().clone() {
        for m in mounts.iter_mut() {
            let Some(userns) = explicit_userns(m)? else {
                continue;
            };
            let src = m.source().clone().with_context(|| {
                format!(
                    "the idmapped mount on {} has no source",
                    m.destination().display()
                )
            })?;
            let recursive = m.options().iter().flatten().any(|o| o == "rbind");
            let clone = idmapped_clone(&src, &userns, recursive).with_context(|| {
                format!(
                    "idmap the mount of {} (uidMappings/gidMappings)",
                    src.display()
                )
            })?;
            let p = scratch.point(src.is_dir())?;
            attach(&clone, &p)?;
            m.set_source(Some(p));
            m.set_uid_mappings(None);
            m.set_gid_mappings(None);
        }
        spec.set_mounts(Some(mounts));
    }
    Ok(Some(spec))
}

fn scratch_dir() -> Result<PathBuf> {
    host_dir(SCRATCH_DIR)
}

/// Where the idmapped trees are attached (in the private mount namespace).
pub const SCRATCH_DIR: &str = "/run/hardened-idmap";

/// Prepare the root filesystem and the bind mounts of `spec` (its rootfs at `rootfs`) for a
/// container whose user namespace maps container 0 to `range`. Must run in a private mount
/// namespace (`private_mount_namespace`). Returns the spec with the root path and the bind
/// sources pointing to the idmapped trees.
pub fn prepare(
    spec: &Spec,
    rootfs: &Path,
    range: IdRange,
    refuse_unmappable: bool,
) -> Result<(Spec, Vec<(PathBuf, BindOutcome)>)> {
    let userns = userns_fd(range)?;
    let mut scratch = Scratch::new(scratch_dir()?)?;
    let new_root = scratch.point(true)?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").context("read mountinfo")?;

    // The root filesystem.
    if let Some(ov) = find_overlay(&mountinfo, rootfs) {
        create_mount_points(spec, rootfs)?;
        // A writable root (`readonly_rootfs = false`): the overlay is made by the container's
        // root, through whom its upper layer is written (see `new_overlay`).
        let writable = spec.root().as_ref().and_then(|r| r.readonly()) != Some(true);
        let creator = writable.then_some(range.host_start);
        let m = idmapped_overlay(&ov, &userns, &mut scratch, creator)?;
        attach(&m, &new_root).context("mount the idmapped overlay of the root filesystem")?;
    } else {
        let m = idmapped_clone(rootfs, &userns, true)?;
        attach(&m, &new_root).context("mount the idmapped root filesystem")?;
    }
    let mut spec = spec.clone();
    if let Some(mut root) = spec.root().clone() {
        root.set_path(new_root);
        spec.set_root(Some(root));
    }

    // Bind mounts.
    let mut outcomes = Vec::new();
    if let Some(mut mounts) = spec.mounts().clone() {
        for m in mounts.iter_mut() {
            if let Some(outcome) = idmap_bind(m, &userns, &mut scratch, refuse_unmappable)? {
                outcomes.push(outcome);
            }
        }
        spec.set_mounts(Some(mounts));
    }
    Ok((spec, outcomes))
}

/// The new overlay over an overlay root filesystem is read-only (its creator, host root, has no
/// ID in the idmapped upper layer): create the mount points first, on the original, as runc
/// would. Destinations resolved inside the root filesystem (`/var/run/x` is `/run/x` when
/// `/var/run` links to `../run`); none beneath an earlier mount, whose own filesystem (a scratch
/// tmpfs) gets that mount point when it is made.
fn create_mount_points(spec: &Spec, rootfs: &Path) -> Result<()> {
    let dests = crate::scratch::resolved_destinations(spec, rootfs)?;
    for (i, (m, dest)) in spec.mounts().iter().flatten().zip(&dests).enumerate() {
        if dests[..i].iter().any(|earlier| dest.starts_with(earlier)) {
            continue;
        }
        let file = m.source().as_ref().is_some_and(|s| s.is_file());
        if let Err(e) = create_mount_point(rootfs, dest, file) {
            tracing::debug!("mount point {}: {e}", m.destination().display());
        }
    }
    Ok(())
}

/// A new (detached) overlay made of idmapped clones of the layers of `ov`: each lower
/// directory, and the layer directory that holds the upper and work directories. It gets a work
/// directory of its own in that layer directory ([`VOLATILE_WORK`], made fresh): the engine's
/// overlay of the same layer keeps using the engine's. A `volatile` overlay (podman's `--rm`
/// containers) is mounted `volatile` as the original is.
///
/// `creator`: for a writable root, the host ID of the container's root, who makes the overlay
/// (its upper layer is then writable) in a work directory of its own; otherwise the overlay is
/// made by the host's root, who has no ID in the idmapped upper layer, and the kernel mounts it
/// read-only.
fn idmapped_overlay(
    ov: &Overlay,
    userns: &OwnedFd,
    scratch: &mut Scratch,
    creator: Option<u32>,
) -> Result<OwnedFd> {
    let mut lowers = Vec::new();
    for l in &ov.lower {
        let m = idmapped_clone(l, userns, false)?;
        let p = scratch.point(true)?;
        attach(&m, &p)?;
        lowers.push(p);
    }
    let mut fs_opts: Vec<(&str, Option<String>)> = vec![(
        "lowerdir",
        Some(
            lowers
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(":"),
        ),
    )];
    if let (Some(upper), Some(engine_work)) = (&ov.upper, &ov.work) {
        // The layer directory that holds both.
        let layer = upper
            .parent()
            .filter(|p| engine_work.parent() == Some(*p))
            .context("the overlay's upper and work directories are not in one layer directory")?;
        // Never the engine's own work directory: the kernel empties a work directory it mounts
        // (`work/work`), and the engine's overlay of the same layer still uses it: Docker's
        // writes through its `merged` directory (`docker cp` into a running container) failed.
        let work = fresh_work_dir(layer)?;
        let m = idmapped_clone(layer, userns, false)?;
        let p = scratch.point(true)?;
        attach(&m, &p)?;
        let rel = |x: &Path| p.join(x.strip_prefix(layer).unwrap_or(x));
        fs_opts.push(("upperdir", Some(rel(upper).display().to_string())));
        fs_opts.push(("workdir", Some(rel(&work).display().to_string())));
        if ov.volatile {
            fs_opts.push(("volatile", None));
        }
    }
    fs_opts.push(("index", Some("off".into())));
    new_overlay(&fs_opts, creator)
}

/// The work directory of the idmapped overlay, in the layer directory (a work directory must be
/// on the upper directory's mount), never the engine's own. The engine removes the layer
/// directory with the container.
pub const VOLATILE_WORK: &str = "hardened-work";

/// An empty [`VOLATILE_WORK`] in `layer`: what an earlier create of this container left there
/// (a volatile overlay's `incompat/volatile`, which the kernel refuses) is removed first.
fn fresh_work_dir(layer: &Path) -> Result<PathBuf> {
    let dir = layer.join(VOLATILE_WORK);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("remove the old {}", dir.display())),
    }
    std::fs::create_dir(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(dir)
}

/// Point the bind mount `m` to an idmapped clone of its source (with the mount's own mappings,
/// else the container's `userns`), or, when its source cannot be idmapped, to a read-only clone
/// (`refuse_unmappable`: refuse it instead). `None` for a mount that is left as it is.
fn idmap_bind(
    m: &mut Mount,
    userns: &OwnedFd,
    scratch: &mut Scratch,
    refuse_unmappable: bool,
) -> Result<Option<(PathBuf, BindOutcome)>> {
    if !crate::facts::is_bind(m) {
        // Mappings on a mount that is not a bind mount: refused by explicit_userns.
        if has_explicit_mappings(m) {
            explicit_userns(m)?;
        }
        return Ok(None);
    }
    let Some(src) = m.source().clone() else {
        return Ok(None);
    };
    // A scratch tmpfs filled by `crate::scratch` already has the container's owners.
    if src.starts_with(crate::scratch::COPYUP_DIR) {
        return Ok(None);
    }
    let is_dir = src.is_dir();
    let recursive = m.options().iter().flatten().any(|o| o == "rbind");
    // The mount's own mappings (runtime-spec 1.1), else the container's.
    let own = explicit_userns(m)?;
    m.set_uid_mappings(None);
    m.set_gid_mappings(None);
    match idmapped_clone(&src, own.as_ref().unwrap_or(userns), recursive) {
        Ok(clone) => {
            let p = scratch.point(is_dir)?;
            attach(&clone, &p)?;
            m.set_source(Some(p));
            Ok(Some((src, BindOutcome::Idmapped)))
        }
        Err(e) if own.is_some() => Err(e.context(format!(
            "idmap the mount of {} (its uidMappings/gidMappings)",
            src.display()
        ))),
        Err(e) => {
            if refuse_unmappable {
                bail!(
                    "the bind mount of {} cannot be idmapped ({e:#}): refused by policy (userns_unmappable_mounts = \"refuse\"); set it to \"readonly\" to mount it read-only instead",
                    src.display()
                );
            }
            readonly_bind(m, &src, is_dir, recursive, scratch)?;
            Ok(Some((src, BindOutcome::ReadOnly(format!("{e:#}")))))
        }
    }
}

/// Point the bind mount `m` of `src`, which cannot be idmapped, to a read-only clone of it
/// (made read-only here, see [`clone_tree`]).
fn readonly_bind(
    m: &mut Mount,
    src: &Path,
    is_dir: bool,
    recursive: bool,
    scratch: &mut Scratch,
) -> Result<()> {
    let clone = clone_tree(src, None, recursive, true)?;
    let p = scratch.point(is_dir)?;
    attach(&clone, &p)?;
    m.set_source(Some(p));
    let opts: Vec<String> = m
        .options()
        .iter()
        .flatten()
        .filter(|o| *o != "ro" && *o != "rw")
        .cloned()
        .collect();
    m.set_options(Some(opts));
    Ok(())
}

/// Create `dest` (a directory, or an empty file) below `rootfs` without following symlinks:
/// a component that is a symlink stops the walk (libcontainer resolves it safely later).
pub(crate) fn create_mount_point(rootfs: &Path, dest: &Path, file: bool) -> Result<()> {
    use rustix::fs::{mkdirat, openat, Mode, OFlags, CWD};
    use rustix::io::Errno;
    let parts: Vec<_> = dest
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_owned()),
            _ => None,
        })
        .collect();
    let Some((last, dirs)) = parts.split_last() else {
        return Ok(());
    };
    let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY;
    let mut dir = openat(CWD, rootfs, flags, Mode::empty())?;
    let walk = |dir: &OwnedFd, name: &std::ffi::OsStr| -> Result<OwnedFd> {
        match mkdirat(dir, name, Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(openat(dir, name, flags, Mode::empty())?)
    };
    for d in dirs {
        dir = walk(&dir, d)?;
    }
    if file {
        match openat(
            &dir,
            last.as_os_str(),
            OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::WRONLY,
            Mode::from_bits_truncate(0o644),
        ) {
            Ok(_created) => {}
            Err(Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
    } else {
        walk(&dir, last.as_os_str())?;
    }
    Ok(())
}

/// A new detached overlay with `opts` (`None`: a flag such as `volatile`). Overlayfs writes its
/// upper layer with the credentials of whoever created it. Through an idmapped upper layer the
/// host's root has no ID (`EOVERFLOW` on its work directory: the kernel mounts the overlay
/// read-only), the container's root does:
/// with `creator`, the overlay is created on a thread of its own whose filesystem IDs are that
/// host ID, its capabilities kept (copy-up sets the original owners, modes and times).
fn new_overlay(opts: &[(&str, Option<String>)], creator: Option<u32>) -> Result<OwnedFd> {
    use rustix::mount::{fsconfig_create, fsconfig_set_flag, fsconfig_set_string, fsmount, fsopen};
    let fs =
        fsopen("overlay", rustix::mount::FsOpenFlags::FSOPEN_CLOEXEC).context("fsopen(overlay)")?;
    for (k, v) in opts {
        match v {
            Some(v) => fsconfig_set_string(&fs, *k, v.as_str()),
            None => fsconfig_set_flag(&fs, *k),
        }
        .with_context(|| format!("overlay option {k}"))?;
    }
    match creator {
        None => fsconfig_create(&fs).context("create the idmapped overlay")?,
        Some(id) => std::thread::scope(|s| {
            s.spawn(|| -> Result<()> {
                // setfsuid/setfsgid change this thread's credentials only; the thread ends here.
                nix::unistd::setfsuid(nix::unistd::Uid::from_raw(id));
                nix::unistd::setfsgid(nix::unistd::Gid::from_raw(id));
                if nix::unistd::setfsuid(nix::unistd::Uid::from_raw(id)).as_raw() != id
                    || nix::unistd::setfsgid(nix::unistd::Gid::from_raw(id)).as_raw() != id
                {
                    bail!("could not take the filesystem IDs {id} of the container's root");
                }
                // Leaving fsuid 0 dropped the file capabilities from the effective set.
                let permitted = caps::read(None, caps::CapSet::Permitted)
                    .context("read the permitted capabilities")?;
                caps::set(None, caps::CapSet::Effective, &permitted)
                    .context("raise the effective capabilities")?;
                fsconfig_create(&fs).context("create the writable idmapped overlay")?;
                Ok(())
            })
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the thread creating the overlay panicked")))
        })?,
    }
    fsmount(
        &fs,
        rustix::mount::FsMountFlags::FSMOUNT_CLOEXEC,
        rustix::mount::MountAttrFlags::empty(),
    )
    .context("fsmount the idmapped overlay")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_from_mountinfo() {
        let mi = "100 30 0:50 / /var/lib/docker/overlay2/abc/merged rw,relatime - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/X:/var/lib/docker/overlay2/l/Y,upperdir=/var/lib/docker/overlay2/abc/diff,workdir=/var/lib/docker/overlay2/abc/work,index=off\n";
        let ov = find_overlay(mi, Path::new("/var/lib/docker/overlay2/abc/merged")).unwrap();
        assert_eq!(
            ov.lower,
            vec![
                PathBuf::from("/var/lib/docker/overlay2/l/X"),
                PathBuf::from("/var/lib/docker/overlay2/l/Y")
            ]
        );
        assert_eq!(
            ov.upper,
            Some(PathBuf::from("/var/lib/docker/overlay2/abc/diff"))
        );
        let rel = "1 2 0:5 / /d/overlay2/abc/merged rw - overlay overlay rw,lowerdir=l/X:l/Y,upperdir=/d/overlay2/abc/diff,workdir=/d/overlay2/abc/work\n";
        let ov = find_overlay(rel, Path::new("/d/overlay2/abc/merged")).unwrap();
        assert_eq!(ov.lower[0], PathBuf::from("/d/overlay2/l/X"));
        assert!(find_overlay(mi, Path::new("/elsewhere")).is_none());
        assert!(!ov.volatile);
    }

    /// Podman's overlay (a `--rm` container's): `l/` links as lower directories, `uuid=on`,
    /// and `volatile`, which the kernel shows as `fsync=volatile`.
    #[test]
    fn podman_volatile_overlay_from_mountinfo() {
        let mi = "49 45 0:41 / /s/overlay/abc/merged rw,relatime - overlay overlay rw,lowerdir=/s/overlay/l/H2O5:/s/overlay/l/K7XY,upperdir=/s/overlay/abc/diff,workdir=/s/overlay/abc/work,uuid=on,fsync=volatile\n";
        let ov = find_overlay(mi, Path::new("/s/overlay/abc/merged")).unwrap();
        assert!(ov.volatile);
        assert_eq!(ov.lower.len(), 2);
        assert_eq!(ov.work, Some(PathBuf::from("/s/overlay/abc/work")));
        let old = mi.replace("fsync=volatile", "volatile");
        assert!(
            find_overlay(&old, Path::new("/s/overlay/abc/merged"))
                .unwrap()
                .volatile
        );
        let kept = mi.replace(",fsync=volatile", "");
        assert!(
            !find_overlay(&kept, Path::new("/s/overlay/abc/merged"))
                .unwrap()
                .volatile
        );
    }
}
