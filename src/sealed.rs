//! Protection of the runtime binary against CVE-2019-5736.
//!
//! The attack: a process inside the container opens `/proc/<pid>/exe` of a runtime process that
//! has entered the container (the init before `execve`, an `exec`'d process, or the runtime
//! binary re-executed through a `#!/proc/self/exe` script) and writes through it, replacing the
//! runtime binary on the host.
//!
//! runc and youki defend by copying the whole binary into a sealed memfd and re-executing it on
//! every call (youki's copy is 11.5 MB). We re-execute ourselves from a *read-only overlayfs mount
//! that is never attached to any mount namespace*: `fsopen("overlay")` with the binary's
//! directory as the only (doubled) lower layer and no upper layer, `fsmount` it detached, and
//! `execveat` the binary through that mount. `/proc/self/exe` then names a file on a filesystem
//! that has no writable layer at all, so opening it for writing fails with `EROFS` whatever the
//! opener's privileges, and nothing is copied: the cost does not grow with the binary's size.
//! Where the new mount API or overlayfs is missing (old kernels, no `CAP_SYS_ADMIN`), we fall
//! back to the sealed memfd copy.
//!
//! Only commands that put a process into a container need this (`create`, `run`, `exec`).

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{Read, Seek};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Set in the environment of the re-executed process to detect a loop.
const REEXEC_ENV: &str = "_HARDENED_SEALED";
const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;
/// The seals that make a memfd unwritable for good.
const SEALS: rustix::fs::SealFlags = rustix::fs::SealFlags::WRITE
    .union(rustix::fs::SealFlags::GROW)
    .union(rustix::fs::SealFlags::SHRINK)
    .union(rustix::fs::SealFlags::SEAL);

/// How `/proc/self/exe` of this process is protected, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// A file on a read-only overlayfs mount with no upper layer.
    ReadOnlyOverlay,
    /// A memfd sealed against writes.
    SealedMemfd,
    /// Neither: the host binary itself.
    None,
}

/// What protects the binary behind `exe` (an open `/proc/<pid>/exe`).
pub fn protection_of(exe: &File) -> Result<Protection> {
    if let Ok(seals) = rustix::fs::fcntl_get_seals(exe) {
        return Ok(if seals.contains(SEALS) {
            Protection::SealedMemfd
        } else {
            Protection::None
        });
    }
    let fs = nix::sys::statfs::fstatfs(exe).context("fstatfs /proc/self/exe")?;
    let vfs = nix::sys::statvfs::fstatvfs(exe).context("fstatvfs /proc/self/exe")?;
    let overlay = fs.filesystem_type().0 as i64 == OVERLAYFS_SUPER_MAGIC;
    let ro = vfs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY);
    Ok(if overlay && ro {
        Protection::ReadOnlyOverlay
    } else {
        Protection::None
    })
}

/// Make sure this process runs from a binary that cannot be written through
/// `/proc/self/exe`; re-execute if it does not. Returns only when protected.
/// `spare_dir` is an existing directory that is neither the binary's directory nor above or
/// below it (the state root): overlayfs needs two lower layers when it has no upper layer.
pub fn ensure_sealed(spare_dir: &Path) -> Result<()> {
    let exe = File::open("/proc/self/exe").context("open /proc/self/exe")?;
    if protection_of(&exe)? != Protection::None {
        // SAFETY: single-threaded at this point of start-up.
        std::env::remove_var(REEXEC_ENV);
        return Ok(());
    }
    if std::env::var_os(REEXEC_ENV).is_some() {
        bail!("re-executed to protect the runtime binary (CVE-2019-5736), but /proc/self/exe is still writable");
    }
    let path = std::fs::read_link("/proc/self/exe").context("readlink /proc/self/exe")?;
    let target = match overlay_exe(&path, spare_dir) {
        Ok(fd) => fd,
        Err(err) => {
            tracing::debug!("read-only overlay for the runtime binary unavailable ({err:#}); using a sealed memfd copy");
            sealed_memfd_copy(exe)?
        }
    };
    reexec(target.as_raw_fd())
}

/// Open `path` through a detached, read-only overlayfs mount of its directory.
fn overlay_exe(path: &Path, spare_dir: &Path) -> Result<OwnedFd> {
    let dir = path.parent().context("binary has no parent directory")?;
    let name = path.file_name().context("binary has no file name")?;
    let dir_bytes = dir.as_os_str().as_bytes();
    let spare_bytes = spare_dir.as_os_str().as_bytes();
    if [dir_bytes, spare_bytes]
        .iter()
        .any(|b| b.contains(&b':') || b.contains(&b'\\'))
    {
        bail!("a path with ':' or '\\' cannot be an overlay lower layer");
    }
    // The binary's directory first (it wins any name clash), the spare directory second:
    // overlayfs needs two lower layers when there is no upper layer, and with no upper layer
    // the mount can never be written.
    let mut lower = dir_bytes.to_vec();
    lower.push(b':');
    lower.extend_from_slice(spare_bytes);
    let lower = OsString::from_vec(lower);

    use rustix::mount::{fsconfig_create, fsconfig_set_string, fsmount, fsopen, MountAttrFlags};
    let fs =
        fsopen("overlay", rustix::mount::FsOpenFlags::FSOPEN_CLOEXEC).context("fsopen(overlay)")?;
    fsconfig_set_string(&fs, "lowerdir", lower.as_os_str()).context("fsconfig(lowerdir)")?;
    fsconfig_create(&fs).context("fsconfig(create)")?;
    let mnt = fsmount(
        &fs,
        rustix::mount::FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_RDONLY
            | MountAttrFlags::MOUNT_ATTR_NOSUID
            | MountAttrFlags::MOUNT_ATTR_NODEV,
    )
    .context("fsmount")?;
    rustix::fs::openat(
        &mnt,
        name,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .context("open the binary through the overlay")
}

/// The fallback: copy the binary into a memfd and seal it.
fn sealed_memfd_copy(mut exe: File) -> Result<OwnedFd> {
    use rustix::fs::{fcntl_add_seals, memfd_create, MemfdFlags};
    let fd = memfd_create(c"hardened", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
        .map_err(|e| anyhow::Error::new(std::io::Error::from(e)).context("memfd_create"))?;
    let mut memfd = File::from(fd);
    exe.rewind()?;
    let mut buf = Vec::new();
    exe.read_to_end(&mut buf).context("read /proc/self/exe")?;
    std::io::Write::write_all(&mut memfd, &buf).context("copy the binary into a memfd")?;
    fcntl_add_seals(&memfd, SEALS)
        .map_err(|e| anyhow::Error::new(std::io::Error::from(e)).context("seal the memfd"))?;
    Ok(memfd.into())
}

fn reexec(fd: RawFd) -> Result<()> {
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.into_vec()))
        .collect::<Result<_, _>>()
        .context("argument contains a NUL byte")?;
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != REEXEC_ENV)
        .map(|(k, v)| {
            let mut kv: OsString = k;
            kv.push("=");
            kv.push(v);
            CString::new(kv.into_vec())
        })
        .collect::<Result<_, _>>()
        .context("environment contains a NUL byte")?;
    env.push(CString::new(format!("{REEXEC_ENV}=1")).context("env")?);
    let Err(errno) = nix::unistd::execveat(
        Some(fd),
        c"",
        &args,
        &env,
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    );
    Err(anyhow::Error::new(std::io::Error::from(errno))
        .context("re-execute the runtime from its protected copy"))
}
