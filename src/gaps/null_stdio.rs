//! Gap: libcontainer 0.7 replaces every stdio descriptor of the init that is `/dev/null` with
//! the container's `/dev/null` opened *read-only*, so a container started with its output on
//! `/dev/null` (`hardened run > /dev/null`, `ctr run -d`, Kubernetes sandboxes) gets `EBADF` on
//! every write.
//!
//! - **Restores**: runtime.md / runc: the container's stdio is what the caller gave it.
//! - **Proved by**: `run_with_stdout_on_dev_null` (integration/cli.rs), `ctr_run_with_null_io`
//!   (integration/containerd.rs).
//! - **Goes when**: libcontainer reopens `/dev/null` with the access mode of the descriptor it
//!   replaces (or leaves a caller's `/dev/null` alone).

use std::os::fd::OwnedFd;

use anyhow::{Context, Result};

/// For an output descriptor that is `/dev/null`, hand the init `/dev/zero` opened
/// write-only instead: writes are discarded just the same, and libcontainer leaves it alone.
/// Nothing is chowned or changed on the host.
pub fn writable_null(fd: i32) -> Result<Option<OwnedFd>> {
    let Ok(st) = nix::sys::stat::fstat(fd) else {
        return Ok(None);
    };
    let kind = nix::sys::stat::SFlag::from_bits_truncate(
        st.st_mode & nix::sys::stat::SFlag::S_IFMT.bits(),
    );
    if !(kind == nix::sys::stat::SFlag::S_IFCHR && st.st_rdev == nix::sys::stat::makedev(1, 3)) {
        return Ok(None);
    }
    let zero = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/zero")
        .context("open /dev/zero to stand in for a /dev/null stdio")?;
    Ok(Some(zero.into()))
}
