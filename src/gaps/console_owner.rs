//! Gap: libcontainer 0.7 leaves the container's pseudo-terminal to whoever made it. runc gives
//! it to the process's user (`fixStdioPermissions`); libcontainer has no such step, and for
//! `exec` it makes the terminal before the process enters the container's user namespace (its
//! tenant builder does not join it, our executor does), so the terminal's slave belongs to the
//! host's root: `nobody` inside. `docker exec -t C sh -c 'echo x > /dev/stdout'` then fails
//! with `EACCES` (mode 0620: the owner writes, the `tty` group only writes too, no one else), as
//! does `docker run -t -u 1000` (the slave is the container's root's).
//!
//! - **Restores**: runc (`fixStdioPermissions`, `setns_init_linux.go`: the terminal is made in
//!   the container's devpts after joining its user namespace): the process's terminal is its
//!   user's.
//! - **Proved by**: `terminal_is_the_process_users` (integration/docker.rs).
//! - **Goes when**: libcontainer joins the user namespace before it makes an `exec`'s terminal
//!   and chowns stdio to the process's user.
//!
//! Runs in the container's process, from our executor, first thing: for the init (in its user
//! namespace, as the process's user, its capabilities still held) with the process's uid; for
//! `exec`, still the host's root before it joins the user namespace, with that uid as the host
//! sees it. Only the uid changes (the gid is the devpts mount's `tty` group, as runc leaves it).
//! Only a terminal slave of the container's own devpts (the device of its `/dev/pts/ptmx`) is
//! touched, and only when a console socket was given (the terminal is the one libcontainer just
//! made there): never a caller's terminal or any other device, never a file.

use std::os::fd::{AsFd, BorrowedFd};

/// Majors of Unix98 pseudo-terminal slaves (`UNIX98_PTY_SLAVE_MAJOR` and the 7 after it).
const PTY_SLAVE_MAJORS: std::ops::RangeInclusive<u32> = 136..=143;

/// Whether `fd` is a terminal slave of the devpts instance `devpts` (a `st_dev`).
fn is_container_pty(fd: BorrowedFd<'_>, devpts: u64) -> Option<rustix::fs::Stat> {
    let st = rustix::fs::fstat(fd).ok()?;
    let is_chr =
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::CharacterDevice;
    (is_chr && PTY_SLAVE_MAJORS.contains(&rustix::fs::major(st.st_rdev)) && st.st_dev == devpts)
        .then_some(st)
}

/// Give the container's terminal among stdio 0-2 to `uid` (in the caller's user namespace).
/// Failures are logged, not fatal (runc skips what it cannot chown).
pub fn give(uid: u32) {
    // The container's devpts: the executor runs in the container's mount namespace and root.
    let Ok(ptmx) = rustix::fs::stat("/dev/pts/ptmx") else {
        return;
    };
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    for fd in [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()] {
        let Some(st) = is_container_pty(fd, ptmx.st_dev) else {
            continue;
        };
        if st.st_uid == uid {
            continue;
        }
        if let Err(e) = rustix::fs::fchown(fd, Some(rustix::fs::Uid::from_raw(uid)), None) {
            tracing::warn!("could not give the container's terminal to uid {uid}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_pty_of_the_given_devpts() {
        // /dev/null: a character device, not a terminal slave.
        let null = std::fs::File::open("/dev/null").expect("open /dev/null");
        let st = rustix::fs::fstat(&null).expect("fstat");
        assert!(is_container_pty(null.as_fd(), st.st_dev).is_none());
        // A pipe.
        let (r, _w) = nix::unistd::pipe().expect("pipe");
        let st = rustix::fs::fstat(&r).expect("fstat");
        assert!(is_container_pty(r.as_fd(), st.st_dev).is_none());
        // A terminal slave: only of the devpts named.
        if let Ok(pty) = nix::pty::openpty(None, None) {
            let st = rustix::fs::fstat(&pty.slave).expect("fstat");
            assert!(is_container_pty(pty.slave.as_fd(), st.st_dev).is_some());
            assert!(is_container_pty(pty.slave.as_fd(), st.st_dev ^ 1).is_none());
            assert!(is_container_pty(pty.master.as_fd(), st.st_dev).is_none());
        }
    }
}
