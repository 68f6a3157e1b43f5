//! Stdio in the user namespace. The container's process inherits the runtime's stdio 0-2.
//! Docker's and podman's are FIFOs owned by the host's root, mode 0600: inside the container's
//! user namespace they show as `nobody`, and reopening `/dev/stdout`, `/dev/stderr` or
//! `/proc/self/fd/1` (nginx, apache2 and php-fpm log there) fails with `EACCES`. runc's
//! `fixStdioPermissions` chowns stdio from inside the container, where a file owned by the
//! host's root is out of reach (`EPERM`, which runc skips); `create`, still the host's root
//! and before the container runs, can: it gives the pipes, FIFOs and sockets among stdio 0-2 to
//! the process's user as the host sees it (the container's root for a root process).
//!
//! Never a character device (`/dev/null`, a terminal: inside a user namespace runc cannot chown
//! a caller's terminal either), never a regular file or a directory; only when the container
//! gets a new user namespace whose mapping is known, and not when the process gets a terminal
//! (its stdio is then the container's own pseudo-terminal).

use std::os::fd::AsFd;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::userns::IdRange;

/// Whether a file of this `st_mode` may be handed to the container: a pipe/FIFO or a socket.
pub fn may_chown(st_mode: u32) -> bool {
    matches!(st_mode & libc::S_IFMT, libc::S_IFIFO | libc::S_IFSOCK)
}

/// The host uid and gid the container's process runs as, when it gets a new user namespace:
/// `range` (the one the policy adds), else the config's own mappings.
pub fn host_owner(spec: &Spec, range: Option<IdRange>) -> Option<(u32, u32)> {
    let process = spec.process().as_ref()?;
    if process.terminal() == Some(true) {
        return None;
    }
    let (uid, gid) = (process.user().uid(), process.user().gid());
    if let Some(r) = range {
        let map = |id: u32| {
            (id < r.size)
                .then(|| r.host_start.checked_add(id))
                .flatten()
        };
        return Some((map(uid)?, map(gid)?));
    }
    let linux = spec.linux().as_ref()?;
    let new_userns = linux
        .namespaces()
        .iter()
        .flatten()
        .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
    let (uids, gids) = (
        linux.uid_mappings().as_deref()?,
        linux.gid_mappings().as_deref()?,
    );
    if !new_userns || uids.is_empty() || gids.is_empty() {
        return None;
    }
    Some((
        crate::gaps::devices::host_id(uid, Some(uids))?,
        crate::gaps::devices::host_id(gid, Some(gids))?,
    ))
}

/// The host IDs of container IDs `uid`/`gid` in the user namespace of the process `pid` (its
/// `uid_map` and `gid_map`), for a process `exec` starts there.
pub fn host_owner_of(pid: i32, uid: u32, gid: u32) -> Option<(u32, u32)> {
    let map = |file: &str, id: u32| -> Option<u32> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
        map_through(&text, id)
    };
    Some((map("uid_map", uid)?, map("gid_map", gid)?))
}

/// `id` through the lines of a `uid_map`/`gid_map` ("inside outside count").
fn map_through(text: &str, id: u32) -> Option<u32> {
    text.lines().find_map(|l| {
        let f: Vec<u32> = l
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let [inside, outside, count] = f[..] else {
            return None;
        };
        let off = id.checked_sub(inside)?;
        (off < count).then(|| outside.checked_add(off)).flatten()
    })
}

/// Give the pipes, FIFOs and sockets among this process's stdio 0-2 to `owner` (host IDs).
/// Failures are logged, not fatal (as runc skips what it cannot chown).
pub fn give(owner: (u32, u32)) {
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    for fd in [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()] {
        let Ok(st) = rustix::fs::fstat(fd) else {
            continue;
        };
        if !may_chown(st.st_mode) || (st.st_uid, st.st_gid) == owner {
            continue;
        }
        if let Err(e) = rustix::fs::fchown(
            fd,
            Some(rustix::fs::Uid::from_raw(owner.0)),
            Some(rustix::fs::Gid::from_raw(owner.1)),
        ) {
            tracing::warn!(
                "could not give stdio {fd:?} to the container's user {}:{}: {e}",
                owner.0,
                owner.1
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pipes_and_sockets() {
        assert!(may_chown(libc::S_IFIFO | 0o600));
        assert!(may_chown(libc::S_IFSOCK | 0o777));
        for kind in [
            libc::S_IFCHR,
            libc::S_IFREG,
            libc::S_IFDIR,
            libc::S_IFBLK,
            libc::S_IFLNK,
        ] {
            assert!(!may_chown(kind | 0o666), "{kind:o}");
        }
    }

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn ids_through_a_map() {
        let m = "         0     100000      65536\n     65536     500000          1\n";
        assert_eq!(map_through(m, 0), Some(100_000));
        assert_eq!(map_through(m, 1000), Some(101_000));
        assert_eq!(map_through(m, 65536), Some(500_000));
        assert_eq!(map_through(m, 65537), None);
        assert_eq!(map_through("", 0), None);
    }

    #[test]
    fn owner_under_the_user_namespace() {
        let r = IdRange {
            host_start: 200_000,
            size: 65536,
        };
        let base = serde_json::json!({"ociVersion": "1.0.2", "process": {"cwd": "/", "user": {"uid": 0, "gid": 0}}});
        assert_eq!(
            host_owner(&spec(base.clone()), Some(r)),
            Some((200_000, 200_000))
        );
        // No user namespace: nothing.
        assert_eq!(host_owner(&spec(base), None), None);
        let user = serde_json::json!({"ociVersion": "1.0.2", "process": {"cwd": "/", "user": {"uid": 33, "gid": 34}}});
        assert_eq!(host_owner(&spec(user), Some(r)), Some((200_033, 200_034)));
        // A terminal: its stdio is the container's pseudo-terminal.
        let tty = serde_json::json!({"ociVersion": "1.0.2", "process": {"cwd": "/", "terminal": true, "user": {"uid": 0, "gid": 0}}});
        assert_eq!(host_owner(&spec(tty), Some(r)), None);
        // The config's own user namespace and mappings.
        let own = serde_json::json!({"ociVersion": "1.0.2", "process": {"cwd": "/", "user": {"uid": 0, "gid": 0}},
            "linux": {"namespaces": [{"type": "user"}],
                      "uidMappings": [{"containerID": 0, "hostID": 300000, "size": 65536}],
                      "gidMappings": [{"containerID": 0, "hostID": 400000, "size": 65536}]}});
        assert_eq!(host_owner(&spec(own), None), Some((300_000, 400_000)));
        // A user namespace joined by path: the mapping is not in the config.
        let joined = serde_json::json!({"ociVersion": "1.0.2", "process": {"cwd": "/", "user": {"uid": 0, "gid": 0}},
            "linux": {"namespaces": [{"type": "user", "path": "/proc/1/ns/user"}]}});
        assert_eq!(host_owner(&spec(joined), None), None);
    }
}
