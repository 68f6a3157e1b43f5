//! The scratch tmpfs mounts of a read-only root (`readonly-rootfs`, `/tmp` and `/run` by
//! default), prepared on the create path, where the root filesystem can be read (the rule itself
//! stays pure):
//!
//! - **Order**: a scratch mount is made before every mount at or beneath its destination
//!   (`-v DIR:/tmp/vol`, Compose secrets at `/run/secrets/NAME`, the kubelet's service-account
//!   token at `/var/run/secrets/...`), so that it does not hide them and their mount points are
//!   made inside the tmpfs, never in the read-only root. Destinations are compared after their
//!   symlinks are resolved *inside* the root filesystem ([`resolve_in_root`]): in Debian-based
//!   images `/var/run` is a symlink to `../run`, so `/var/run/secrets/x` lies beneath `/run`.
//!   The destinations in the spec are left as the caller wrote them: libcontainer resolves them
//!   again, safely inside the root, when it mounts.
//! - **tmpcopyup** (the mount option of runc and crun; libcontainer 0.7 does not know it and
//!   would pass it to tmpfs, which refuses it): what the image has at the destination (e.g.
//!   `/run/sshd`, `/run/lock`) is copied into the tmpfs before the container starts. The tmpfs
//!   is mounted here, in a private mount namespace of `create` (the container's mount namespace
//!   is a copy of it: the host never sees it), filled, and handed to libcontainer as a bind
//!   mount with the same flags. Files keep the owners the container sees on its root
//!   filesystem: under the user namespace the policy adds (whose root filesystem is idmapped),
//!   image owner `u` becomes host ID `host_start + u`. Only directories, regular files,
//!   symlinks and FIFOs are copied; the source is read without following any symlink.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Mount, Spec};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::userns::IdRange;

/// Where the filled tmpfs mounts are attached (in `create`'s private mount namespace).
pub const COPYUP_DIR: &str = "/run/hardened-copyup";
/// Symlinks followed while resolving one destination (as the kernel's `MAXSYMLINKS`).
const MAX_SYMLINKS: u32 = 40;
/// Bounds of one copy: entries in all, and directory depth.
const MAX_ENTRIES: usize = 100_000;
const MAX_DEPTH: usize = 64;

// ---------------------------------------------------------------------------------------------
// Resolution inside the root filesystem

/// `dest` with its symlinks resolved inside the root filesystem `root` (a directory
/// descriptor): an absolute target starts again at the root, `..` never climbs above it. The
/// part from the first component that does not exist on is kept as written (lexically
/// normalised). Never touches anything outside `root`.
pub fn resolve_in_root(root: &impl AsFd, dest: &Path) -> PathBuf {
    let mut pending: VecDeque<OsString> = components(dest).into();
    let mut resolved: Vec<OsString> = Vec::new();
    let mut exists = true;
    let mut links = 0;
    // Every step consumes a pending component; a symlink adds at most PATH_MAX of them and at
    // most MAX_SYMLINKS symlinks are followed: the loop is bounded.
    while let Some(c) = pending.pop_front() {
        if c == ".." {
            resolved.pop();
            continue;
        }
        if !exists {
            resolved.push(c);
            continue;
        }
        let mut rel: PathBuf = resolved.iter().collect();
        rel.push(&c);
        match rustix::fs::readlinkat(root, &rel, Vec::new()) {
            Ok(target) if links < MAX_SYMLINKS => {
                links += 1;
                let target = PathBuf::from(OsStr::from_bytes(target.as_bytes()));
                if target.is_absolute() {
                    resolved.clear();
                }
                for t in components(&target).into_iter().rev() {
                    pending.push_front(t);
                }
            }
            // Not a symlink: a directory or file that exists.
            Err(Errno::INVAL) => resolved.push(c),
            // Missing, too many links, or unreadable: the rest is taken as written.
            _ => {
                exists = false;
                resolved.push(c);
            }
        }
    }
    let mut out = PathBuf::from("/");
    out.extend(resolved);
    out
}

/// The components of `p`: names and `..` (the root and `.` dropped).
fn components(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn open_root(rootfs: &Path) -> Result<OwnedFd> {
    rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("open the root filesystem {}", rootfs.display()))
}

/// The destinations of `spec`'s mounts, resolved inside the root filesystem at `rootfs`.
pub fn resolved_destinations(spec: &Spec, rootfs: &Path) -> Result<Vec<PathBuf>> {
    let root = open_root(rootfs)?;
    Ok(spec
        .mounts()
        .iter()
        .flatten()
        .map(|m| resolve_in_root(&root, m.destination()))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Order

/// Move each scratch mount (`scratch[i]`) before the first mount listed earlier whose
/// (resolved) destination is at or beneath its own. Everything else keeps its order.
pub fn order_scratch_first(mounts: &mut Vec<Mount>, dests: &mut Vec<PathBuf>, scratch: &[bool]) {
    let mut items: Vec<(Mount, PathBuf, bool)> = mounts
        .drain(..)
        .zip(dests.drain(..))
        .zip(scratch.iter().copied().chain(std::iter::repeat(false)))
        .map(|((m, d), s)| (m, d, s))
        .collect();
    for i in 0..items.len() {
        if !items[i].2 {
            continue;
        }
        if let Some(j) = (0..i).find(|&j| items[j].1.starts_with(&items[i].1)) {
            let item = items.remove(i);
            items.insert(j, item);
        }
    }
    for (m, d, _) in items {
        mounts.push(m);
        dests.push(d);
    }
}

/// The mounts of `spec` that the policy added (tmpfs mounts the caller's config does not have).
pub fn added_tmpfs(caller: &Spec, spec: &Spec) -> Vec<bool> {
    let theirs = caller.mounts().clone().unwrap_or_default();
    spec.mounts()
        .iter()
        .flatten()
        .map(|m| m.typ().as_deref() == Some("tmpfs") && !theirs.contains(m))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// tmpcopyup

/// Whether a mount asks for its tmpfs to be filled with the image's content.
pub fn wants_copyup(m: &Mount) -> bool {
    m.typ().as_deref() == Some("tmpfs") && m.options().iter().flatten().any(|o| o == "tmpcopyup")
}

/// Mount options that are mount flags (kept on the bind mount); the rest is tmpfs data.
fn is_flag(o: &str) -> bool {
    matches!(
        o,
        "ro" | "rw"
            | "nosuid"
            | "suid"
            | "nodev"
            | "dev"
            | "noexec"
            | "exec"
            | "sync"
            | "async"
            | "dirsync"
            | "atime"
            | "noatime"
            | "diratime"
            | "nodiratime"
            | "relatime"
            | "norelatime"
            | "strictatime"
            | "nostrictatime"
            | "nosymfollow"
            | "symfollow"
            | "shared"
            | "rshared"
            | "slave"
            | "rslave"
            | "private"
            | "rprivate"
            | "unbindable"
            | "runbindable"
    )
}

fn ms_flags(options: &[String]) -> nix::mount::MsFlags {
    use nix::mount::MsFlags as F;
    let mut f = F::empty();
    for o in options {
        f |= match o.as_str() {
            "nosuid" => F::MS_NOSUID,
            "nodev" => F::MS_NODEV,
            "noexec" => F::MS_NOEXEC,
            "ro" => F::MS_RDONLY,
            _ => F::empty(),
        };
    }
    f
}

/// Owners in the copy: the image's, shifted into the range of the user namespace the policy
/// adds (its root filesystem is idmapped the same way); None for an owner outside the range.
/// Without that range, the owners on disk are what the container sees of its root filesystem
/// (no user namespace, or the engine's own, whose storage the engine shifted itself).
#[derive(Debug, Clone, Copy)]
pub struct Owners(pub Option<IdRange>);

/// The host uid and gid of the container's root: the tmpfs itself belongs to it, as a tmpfs
/// mounted inside the container's user namespace would.
fn root_owner(spec: &Spec, range: Option<IdRange>) -> (u32, u32) {
    if let Some(r) = range {
        return (r.host_start, r.host_start);
    }
    let Some(linux) = spec.linux().as_ref() else {
        return (0, 0);
    };
    let new_userns = linux
        .namespaces()
        .iter()
        .flatten()
        .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::User && n.path().is_none());
    if !new_userns {
        return (0, 0);
    }
    let host = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        crate::gaps::devices::host_id(0, maps.as_deref()).unwrap_or(0)
    };
    (host(linux.uid_mappings()), host(linux.gid_mappings()))
}

impl Owners {
    fn map(&self, id: u32) -> Option<u32> {
        match self.0 {
            None => Some(id),
            Some(r) => (id < r.size)
                .then(|| r.host_start.checked_add(id))
                .flatten(),
        }
    }
}

/// The holder of the filled tmpfs mounts in the private mount namespace.
struct Holder {
    dir: PathBuf,
    n: usize,
}

impl Holder {
    fn new() -> Result<Self> {
        let dir = crate::userns::idmap::private_tmpfs(
            COPYUP_DIR,
            nix::mount::MsFlags::MS_NODEV,
            "holder tmpfs of the tmpcopyup mounts",
        )?;
        Ok(Holder { dir, n: 0 })
    }

    fn point(&mut self) -> Result<PathBuf> {
        self.n += 1;
        let p = self.dir.join(format!("c{}", self.n));
        std::fs::create_dir(&p).with_context(|| format!("create {}", p.display()))?;
        Ok(p)
    }
}

/// The image's directory at `dest`, opened for reading (symlinks resolved inside the root), if
/// it exists and has entries.
fn image_dir(root: &OwnedFd, dest: &Path) -> Option<OwnedFd> {
    let rel = resolve_in_root(root, dest);
    let rel = rel.strip_prefix("/").unwrap_or(&rel);
    if rel.as_os_str().is_empty() {
        return None;
    }
    let fd = rustix::fs::openat2(
        root,
        rel,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_XDEV,
    )
    .ok()?;
    let mut dir = rustix::fs::Dir::read_from(&fd).ok()?;
    let mut any = false;
    while let Some(Ok(e)) = dir.read() {
        let name = e.file_name().to_bytes();
        if name != b"." && name != b".." {
            any = true;
            break;
        }
    }
    any.then_some(fd)
}

/// Fill the tmpfs mounts of `spec` that carry `tmpcopyup` with the image's content (the root
/// filesystem at `rootfs`), and drop the option (libcontainer would hand it to tmpfs). A mount
/// whose image directory is missing or empty stays a plain tmpfs mount.
/// Whether the spec changed.
pub fn copyup(spec: &mut Spec, rootfs: &Path, owners: Owners) -> Result<bool> {
    let Some(mut mounts) = spec.mounts().clone() else {
        return Ok(false);
    };
    if !mounts.iter().any(wants_copyup) {
        return Ok(false);
    }
    let root = open_root(rootfs)?;
    let top_owner = root_owner(spec, owners.0);
    let mut holder: Option<Holder> = None;
    for m in mounts.iter_mut() {
        if !wants_copyup(m) {
            continue;
        }
        let options: Vec<String> = m
            .options()
            .iter()
            .flatten()
            .filter(|o| *o != "tmpcopyup")
            .cloned()
            .collect();
        m.set_options(Some(options.clone()));
        let dest = m.destination().clone();
        let Some(src) = image_dir(&root, &dest) else {
            continue;
        };
        if holder.is_none() {
            holder = Some(Holder::new()?);
        }
        let Some(h) = holder.as_mut() else {
            continue;
        };
        let point = h.point()?;
        let top = mount_tmpfs(&point, &options, &dest, top_owner)?;
        copy_image(&src, &top, owners, &dest)?;
        let mut bind = vec!["bind".to_string()];
        bind.extend(options.iter().filter(|o| is_flag(o)).cloned());
        m.set_typ(Some("bind".into()));
        m.set_source(Some(point));
        m.set_options(Some(bind));
    }
    spec.set_mounts(Some(mounts));
    Ok(true)
}

/// Mount the tmpfs for `dest` (with the mount's `options`, writable while it is filled) at
/// `point`, owned by `owner` (uid, gid); its top directory, opened.
fn mount_tmpfs(
    point: &Path,
    options: &[String],
    dest: &Path,
    owner: (u32, u32),
) -> Result<OwnedFd> {
    let data: Vec<&str> = options
        .iter()
        .filter(|o| !is_flag(o))
        .map(String::as_str)
        .collect();
    nix::mount::mount(
        Some("tmpfs"),
        point,
        Some("tmpfs"),
        ms_flags(options) & !nix::mount::MsFlags::MS_RDONLY,
        Some(data.join(",").as_str()),
    )
    .with_context(|| format!("mount the tmpfs for {} (tmpcopyup)", dest.display()))?;
    let top = rustix::fs::open(
        point,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("open {}", point.display()))?;
    rustix::fs::fchown(
        &top,
        Some(rustix::fs::Uid::from_raw(owner.0)),
        Some(rustix::fs::Gid::from_raw(owner.1)),
    )
    .with_context(|| format!("chown the tmpfs for {}", dest.display()))?;
    Ok(top)
}

/// Copy the image's directory `src` (at `dest`) into the tmpfs `top`; a full tmpfs is said so.
fn copy_image(src: &OwnedFd, top: &OwnedFd, owners: Owners, dest: &Path) -> Result<()> {
    let mut budget = MAX_ENTRIES;
    let Err(e) = copy_dir(src, top, owners, 0, &mut budget) else {
        return Ok(());
    };
    let full = e.chain().any(|c| {
        c.downcast_ref::<Errno>() == Some(&Errno::NOSPC)
            || c.downcast_ref::<std::io::Error>()
                .and_then(|e| e.raw_os_error())
                == Some(Errno::NOSPC.raw_os_error())
    });
    let hint = if full {
        ": the image has more there than the tmpfs holds (its size=, the policy's scratch_size)"
    } else {
        ""
    };
    Err(e.context(format!(
        "copy the image's {} into its tmpfs (tmpcopyup){hint}",
        dest.display()
    )))
}

fn copy_dir(
    src: &OwnedFd,
    dst: &OwnedFd,
    owners: Owners,
    depth: usize,
    budget: &mut usize,
) -> Result<()> {
    if depth >= MAX_DEPTH {
        bail!("more than {MAX_DEPTH} directory levels");
    }
    let mut dir = rustix::fs::Dir::read_from(src).context("read a directory")?;
    // Bounded by the directory's entries and by `budget`, which every entry lowers.
    while let Some(entry) = dir.read() {
        let entry = entry.context("read a directory entry")?;
        let name = entry.file_name().to_owned();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        if *budget == 0 {
            bail!("more than {MAX_ENTRIES} entries");
        }
        *budget -= 1;
        let shown = OsStr::from_bytes(name.to_bytes())
            .to_string_lossy()
            .into_owned();
        copy_entry(src, dst, &name, owners, depth, budget)
            .with_context(|| format!("copy {shown}"))?;
    }
    Ok(())
}

fn copy_entry(
    src: &OwnedFd,
    dst: &OwnedFd,
    name: &std::ffi::CStr,
    owners: Owners,
    depth: usize,
    budget: &mut usize,
) -> Result<()> {
    let st = rustix::fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW)?;
    let (Some(uid), Some(gid)) = (owners.map(st.st_uid), owners.map(st.st_gid)) else {
        tracing::warn!(
            "tmpcopyup: {} is owned by {}:{}, outside the container's ID range: not copied",
            name.to_string_lossy(),
            st.st_uid,
            st.st_gid
        );
        return Ok(());
    };
    let (uid, gid) = (
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    );
    let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            rustix::fs::mkdirat(dst, name, Mode::from_bits_truncate(0o700))?;
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let s = rustix::fs::openat(src, name, flags, Mode::empty())?;
            let d = rustix::fs::openat(dst, name, flags, Mode::empty())?;
            copy_dir(&s, &d, owners, depth + 1, budget)?;
            rustix::fs::fchown(&d, uid, gid)?;
            rustix::fs::fchmod(&d, mode)?;
        }
        FileType::RegularFile => copy_file(src, dst, name, (uid, gid), mode)?,
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(src, name, Vec::new())?;
            rustix::fs::symlinkat(target.as_c_str(), dst, name)?;
            rustix::fs::chownat(dst, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)?;
        }
        FileType::Fifo => {
            rustix::fs::mknodat(
                dst,
                name,
                FileType::Fifo,
                Mode::from_bits_truncate(0o600),
                0,
            )?;
            rustix::fs::chownat(dst, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)?;
            rustix::fs::chmodat(dst, name, mode, AtFlags::empty())?;
        }
        // Devices (the tmpfs is nodev) and sockets (bound to no one here) are not copied.
        _ => {}
    }
    Ok(())
}

/// Copy the regular file `name` of `src` into `dst`, with `owner` and `mode`.
fn copy_file(
    src: &OwnedFd,
    dst: &OwnedFd,
    name: &std::ffi::CStr,
    owner: (Option<rustix::fs::Uid>, Option<rustix::fs::Gid>),
    mode: Mode,
) -> Result<()> {
    let s = rustix::fs::openat(
        src,
        name,
        // Non-blocking: were it swapped for a FIFO since the stat, open must not wait.
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    if FileType::from_raw_mode(rustix::fs::fstat(&s)?.st_mode) != FileType::RegularFile {
        bail!("changed while it was copied");
    }
    let d = rustix::fs::openat(
        dst,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )?;
    let mut s = File::from(s);
    let mut d = File::from(d);
    std::io::copy(&mut s, &mut d)?;
    // chown clears set-user-ID and set-group-ID bits: the mode comes after.
    rustix::fs::fchown(&d, owner.0, owner.1)?;
    rustix::fs::fchmod(&d, mode)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The create path

/// Prepare the scratch mounts of `spec` (the hardened spec; `caller` is the caller's config, the
/// root filesystem is at `rootfs`): order them before the mounts beneath them, and fill those
/// with `tmpcopyup`. `owners`: the user namespace the policy adds, if any. Whether the spec
/// changed.
pub fn prepare(caller: &Spec, spec: &mut Spec, rootfs: &Path, owners: Owners) -> Result<bool> {
    let scratch = added_tmpfs(caller, spec);
    let mut changed = false;
    if scratch.iter().any(|s| *s) {
        let mut dests = resolved_destinations(spec, rootfs)?;
        let mut mounts = spec.mounts().clone().unwrap_or_default();
        let before = mounts.clone();
        order_scratch_first(&mut mounts, &mut dests, &scratch);
        if mounts != before {
            spec.set_mounts(Some(mounts));
            changed = true;
        }
        missing_mount_points(caller, spec, rootfs, &dests);
    }
    Ok(copyup(spec, rootfs, owners)? || changed)
}

/// The mount point of a scratch mount the policy added, where the root filesystem has none
/// (an image without `/tmp` or `/run`), made here as the host's root: libcontainer would make it
/// inside the container, as the container's root, which under a user namespace of the config's
/// own may not write to a root filesystem owned by the host's root (`EACCES`) where runc, asked
/// for no such mount, runs the config. An empty directory, as any runtime makes for a mount
/// point, walked without following symlinks (`dests`: resolved inside the root). Failures are
/// left to libcontainer, which then reports them.
fn missing_mount_points(caller: &Spec, spec: &Spec, rootfs: &Path, dests: &[PathBuf]) {
    let added = added_tmpfs(caller, spec);
    for ((m, dest), added) in spec.mounts().iter().flatten().zip(dests).zip(added) {
        let rel = dest.strip_prefix("/").unwrap_or(dest);
        if !added || rel.as_os_str().is_empty() || rootfs.join(rel).symlink_metadata().is_ok() {
            continue;
        }
        if let Err(e) = crate::userns::idmap::create_mount_point(rootfs, dest, false) {
            tracing::debug!("mount point {}: {e:#}", m.destination().display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::MountBuilder;

    /// The host IDs of a user namespace the policy adds, in the tests.
    const RANGE: IdRange = IdRange {
        host_start: 100_000,
        size: 65536,
    };

    fn root_with(links: &[(&str, &str)], dirs: &[&str]) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        for d in dirs {
            std::fs::create_dir_all(t.path().join(d)).unwrap();
        }
        for (l, target) in links {
            let p = t.path().join(l);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, p).unwrap();
        }
        t
    }

    fn resolve(t: &tempfile::TempDir, dest: &str) -> PathBuf {
        let root = open_root(t.path()).unwrap();
        resolve_in_root(&root, Path::new(dest))
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let t = root_with(
            &[
                ("var/run", "../run"),
                ("abs", "/run"),
                ("up", "../../../../etc"),
                ("loop", "loop"),
            ],
            &["run", "etc"],
        );
        assert_eq!(
            resolve(&t, "/var/run/secrets/kubernetes.io/serviceaccount"),
            PathBuf::from("/run/secrets/kubernetes.io/serviceaccount")
        );
        // An absolute target is taken relative to the root filesystem.
        assert_eq!(resolve(&t, "/abs/x"), PathBuf::from("/run/x"));
        // `..` never climbs above the root.
        assert_eq!(resolve(&t, "/up/passwd"), PathBuf::from("/etc/passwd"));
        assert_eq!(resolve(&t, "/../../tmp/vol"), PathBuf::from("/tmp/vol"));
        // A loop stops after MAX_SYMLINKS; missing parts are kept as written.
        assert_eq!(resolve(&t, "/loop/x"), PathBuf::from("/loop/x"));
        assert_eq!(resolve(&t, "/tmp/vol"), PathBuf::from("/tmp/vol"));
        assert_eq!(resolve(&t, "/"), PathBuf::from("/"));
    }

    fn m(dest: &str, typ: &str) -> Mount {
        MountBuilder::default()
            .destination(dest)
            .typ(typ)
            .source(typ)
            .build()
            .unwrap()
    }

    fn order(list: &[(&str, &str, bool)]) -> Vec<String> {
        let mut mounts: Vec<Mount> = list.iter().map(|(d, t, _)| m(d, t)).collect();
        let mut dests: Vec<PathBuf> = list.iter().map(|(d, _, _)| PathBuf::from(d)).collect();
        let scratch: Vec<bool> = list.iter().map(|(_, _, s)| *s).collect();
        order_scratch_first(&mut mounts, &mut dests, &scratch);
        assert_eq!(
            dests,
            mounts
                .iter()
                .map(|m| m.destination().clone())
                .collect::<Vec<_>>()
        );
        mounts
            .iter()
            .map(|m| m.destination().display().to_string())
            .collect()
    }

    #[test]
    fn scratch_mounts_come_before_the_mounts_beneath_them() {
        type Case<'a> = (&'a [(&'a str, &'a str, bool)], &'a [&'a str]);
        let cases: [Case; 3] = [
            (
                &[
                    ("/proc", "proc", false),
                    ("/tmp/vol", "bind", false),
                    ("/run/secrets/x", "bind", false),
                    ("/etc/hosts", "bind", false),
                    ("/tmp", "tmpfs", true),
                    ("/run", "tmpfs", true),
                ],
                &[
                    "/proc",
                    "/tmp",
                    "/tmp/vol",
                    "/run",
                    "/run/secrets/x",
                    "/etc/hosts",
                ],
            ),
            // Nothing beneath: the order is kept; a caller's tmpfs is not moved.
            (
                &[
                    ("/mnt/x", "bind", false),
                    ("/mnt", "tmpfs", false),
                    ("/tmp", "tmpfs", true),
                ],
                &["/mnt/x", "/mnt", "/tmp"],
            ),
            // /tmpfoo is not beneath /tmp; a mount at the same place comes after the scratch one.
            (
                &[
                    ("/tmpfoo", "bind", false),
                    ("/run", "bind", false),
                    ("/tmp", "tmpfs", true),
                    ("/run", "tmpfs", true),
                ],
                &["/tmpfoo", "/run", "/run", "/tmp"],
            ),
        ];
        for (mounts, expected) in cases {
            assert_eq!(order(mounts), expected, "{mounts:?}");
        }
    }

    /// The copy itself (as root: it sets owners): types, modes, shifted owners, symlinks copied
    /// as symlinks and never followed.
    #[test]
    fn copy_keeps_types_modes_and_shifts_owners() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if !crate::test_support::root_or_skip("copy_keeps_types_modes_and_shifts_owners") {
            return;
        }
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        let s = src.path();
        std::fs::create_dir_all(s.join("lock/deep")).unwrap();
        std::fs::write(s.join("lock/f"), "content").unwrap();
        std::fs::set_permissions(s.join("lock/f"), std::fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::chown(s.join("lock/f"), Some(33), Some(34)).unwrap();
        std::fs::create_dir(s.join("sshd")).unwrap();
        std::fs::set_permissions(s.join("sshd"), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", s.join("escape")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            s.join("fifo"),
            FileType::Fifo,
            Mode::from_bits_truncate(0o620),
            0,
        )
        .unwrap();
        std::fs::set_permissions(s.join("fifo"), std::fs::Permissions::from_mode(0o620)).unwrap();
        let r = RANGE;
        let open = |p: &Path| {
            rustix::fs::open(
                p,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .unwrap()
        };
        let mut budget = MAX_ENTRIES;
        copy_dir(&open(s), &open(dst.path()), Owners(Some(r)), 0, &mut budget).unwrap();
        let d = dst.path();
        let meta = |p: &str| std::fs::symlink_metadata(d.join(p)).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("lock/f")).unwrap(),
            "content"
        );
        let f = meta("lock/f");
        assert_eq!(
            (f.uid(), f.gid(), f.mode() & 0o7777),
            (100_033, 100_034, 0o640)
        );
        assert!(meta("lock/deep").is_dir());
        let sshd = meta("sshd");
        assert_eq!((sshd.uid(), sshd.mode() & 0o7777), (100_000, 0o700));
        assert_eq!(
            std::fs::read_link(d.join("escape")).unwrap(),
            PathBuf::from("/etc/passwd")
        );
        assert!(meta("escape").file_type().is_symlink());
        assert_eq!(meta("escape").uid(), 100_000);
        let fifo = meta("fifo");
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&fifo.file_type()));
        assert_eq!(fifo.mode() & 0o7777, 0o620);
        assert_eq!(budget, MAX_ENTRIES - 6);
        // A budget that runs out stops the copy with an error.
        let again = tempfile::tempdir().unwrap();
        let mut small = 2;
        assert!(copy_dir(&open(s), &open(again.path()), Owners(None), 0, &mut small).is_err());
    }

    #[test]
    fn owners_shift_into_the_range() {
        let r = RANGE;
        assert_eq!(Owners(Some(r)).map(0), Some(100_000));
        assert_eq!(Owners(Some(r)).map(33), Some(100_033));
        assert_eq!(Owners(Some(r)).map(65536), None);
        assert_eq!(Owners(None).map(33), Some(33));
    }
}
