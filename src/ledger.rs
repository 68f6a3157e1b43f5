//! The ledger: what a container owns on the host, written by `create` *before* it acquires it
//! and read by `kill` and `delete`.
//!
//! libcontainer's state is written late in `create` (and a create killed while it writes it
//! leaves it unreadable), so it cannot tell a forced delete what a killed create had already
//! made. The ledger (`<root>/.ledger/<id>.json`, replaced atomically) can: the container's
//! cgroup (as the runtime resolves it, and whether it existed before), and once the container's
//! process exists, who it is (pid, start time, PID namespace), so that a signal never reaches a
//! process that is not the container's. `delete` removes it last.

use std::fs;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const DIR: &str = ".ledger";

/// Who the container's init process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Init {
    /// Host pid.
    pub pid: i32,
    /// Start time in clock ticks since boot (`/proc/<pid>/stat` field 22): with the pid, it
    /// names one process for the life of the host.
    pub starttime: u64,
    /// The container's own PID namespace (device, inode of `/proc/<pid>/ns/pid`); `None` when
    /// the container shares one (the host's, a pod's, another container's).
    pub pidns: Option<(u64, u64)>,
}

/// The `create` process that wrote the ledger. libcontainer's helper processes (named
/// `youki:[1:INTER]`, `youki:[2:INIT]`) are clones of it, with its command line: when a create
/// is killed, they are found by that (`crate::reap::kill_strays`), even before they reach the
/// container's cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Creator {
    pub pid: i32,
    pub starttime: u64,
    pub cmdline: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// The container's cgroupsPath as the runtime resolves it (libcontainer's default when the
    /// config has none); checked by the `cgroup-path` rule before it was written here.
    pub cgroup: PathBuf,
    /// `--systemd-cgroup`: `cgroup` is `slice:prefix:name`.
    pub systemd: bool,
    /// The cgroup existed before the container: `delete` leaves it (runtime.md Delete), and
    /// processes in it are the container's only when they are in its PID namespace.
    pub cgroup_preexisting: bool,
    /// Set once the init process exists.
    pub init: Option<Init>,
    /// The create that made the container.
    pub creator: Option<Creator>,
}

pub fn path(root: &Path, id: &str) -> PathBuf {
    root.join(DIR).join(format!("{id}.json"))
}

/// Write (or replace) the ledger of `id`. Written to a temporary file and renamed, so a reader
/// sees the old ledger or the new one, never a part.
pub fn write(root: &Path, id: &str, ledger: &Ledger) -> std::io::Result<()> {
    let dir = root.join(DIR);
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
    }
    let tmp = dir.join(format!(".{id}.tmp"));
    let json = serde_json::to_vec(ledger).map_err(std::io::Error::other)?;
    let mut f = fs::File::create(&tmp)?;
    f.write_all(&json)?;
    // No fsync: the state root is a tmpfs (/run) on every caller's host, and a reader sees
    // the old ledger or the new one either way.
    fs::rename(&tmp, path(root, id))
}

/// The ledger of `id`: `Ok(None)` when there is none (a container of an older version, or a
/// create killed before it wrote one: nothing of the host was acquired then).
pub fn read(root: &Path, id: &str) -> std::io::Result<Option<Ledger>> {
    match fs::read(path(root, id)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(std::io::Error::other),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Remove the ledger of `id` (and a temporary file a killed write left); the directory goes
/// with the last one, so the state root is left as it was.
pub fn remove(root: &Path, id: &str) {
    let dir = root.join(DIR);
    let _ = fs::remove_file(path(root, id));
    let _ = fs::remove_file(dir.join(format!(".{id}.tmp")));
    let _ = fs::remove_dir(&dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_replace_and_remove() {
        let root = tempfile::tempdir().expect("tempdir");
        assert_eq!(read(root.path(), "c").expect("read"), None);
        let mut l = Ledger {
            cgroup: "/hardened/c".into(),
            ..Default::default()
        };
        write(root.path(), "c", &l).expect("write");
        l.init = Some(Init {
            pid: 42,
            starttime: 7,
            pidns: Some((4, 4026531836)),
        });
        write(root.path(), "c", &l).expect("rewrite");
        assert_eq!(read(root.path(), "c").expect("read"), Some(l));
        remove(root.path(), "c");
        assert_eq!(read(root.path(), "c").expect("read"), None);
        assert!(!root.path().join(DIR).exists());
    }
}
