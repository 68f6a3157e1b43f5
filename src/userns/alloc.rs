//! Allocation of host ID ranges, one per container, recorded under the state root.
//!
//! `<root>/.userns/<index>` holds the id of the container that owns range `index`. A file is
//! created with `O_EXCL` (so two parallel creates never get the same range) and `flock`ed by the
//! creating process until it exits. A range is freed by `delete`; a range whose owner died in
//! the middle of `create` (its lock is free and its container never got past "creating") is
//! reclaimed by the next allocation.
//!
//! A container that joins the namespaces of another (Docker `--network container:X`, the
//! containers of a Kubernetes pod) shares that container's user namespace and range: it is
//! recorded in `<root>/.userns/<index>.d/<id>` (holding the pid of its `create`). When the owner
//! is deleted while sharers live, the range passes to one of them instead of being freed, so a
//! range is never handed out while a process still runs in it. Changes to sharers and owners
//! and allocations are serialised by a `flock` on the `<root>/.userns` directory, which the last
//! `free` removes (a state root with no container is left empty).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use libcontainer::container::{ContainerStatus, State};

use super::{IdRange, RANGE_SIZE};

#[derive(Debug, thiserror::Error)]
pub enum AllocError {
    #[error("no free user-namespace ID range: all {0} ranges of the pool are in use; raise userns_pool_size in the policy or delete stopped containers")]
    Exhausted(u32),
    // The I/O error is in the message, not a `source`: error chains (`{:#}`) would print it twice.
    #[error("user-namespace allocation under {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// The pool ranges are taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// First host ID of range 0.
    pub start: u32,
    /// Number of ranges.
    pub ranges: u32,
}

impl Pool {
    pub fn range(&self, index: u32) -> IdRange {
        IdRange {
            host_start: self.start + index * RANGE_SIZE,
            size: RANGE_SIZE,
        }
    }

    /// The pool of the first `/etc/subuid` and `/etc/subgid` entries of `user` (the part both
    /// files give).
    pub fn from_subid(user: &str, subuid: &str, subgid: &str) -> Option<Pool> {
        let find = |text: &str| -> Option<(u64, u64)> {
            text.lines().find_map(|l| {
                let mut f = l.trim().split(':');
                let (u, s, n) = (f.next()?, f.next()?, f.next()?);
                (u == user).then(|| Some((s.parse().ok()?, n.parse().ok()?)))?
            })
        };
        let (us, un) = find(subuid)?;
        let (gs, gn) = find(subgid)?;
        let start = us.max(gs);
        let end = (us + un).min(gs + gn);
        let ranges = end.checked_sub(start)? / RANGE_SIZE as u64;
        (ranges > 0 && start + ranges * (RANGE_SIZE as u64) <= u32::MAX as u64).then_some(Pool {
            start: start as u32,
            ranges: ranges as u32,
        })
    }
}

/// An allocated range; the lock is held for as long as this value lives.
#[derive(Debug)]
pub struct Allocation {
    pub index: u32,
    pub range: IdRange,
    file: File,
}

impl Allocation {
    /// Keep the lock until this process exits (it then also covers a crash mid-create).
    pub fn hold(self) {
        std::mem::forget(self.file);
    }
}

fn dir(root: &Path) -> PathBuf {
    root.join(".userns")
}

fn io(path: &Path, error: std::io::Error) -> AllocError {
    AllocError::Io {
        path: path.to_path_buf(),
        error,
    }
}

fn try_lock(f: &File) -> bool {
    rustix::fs::flock(f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok()
}

/// Whether container `owner` (of a range whose lock is free) is gone or died mid-create.
fn abandoned(root: &Path, owner: &str) -> bool {
    if owner.is_empty() || owner.contains('/') {
        return true;
    }
    let state = root.join(owner).join("state.json");
    let Ok(raw) = fs::read(&state) else {
        return true;
    };
    let Ok(state) = serde_json::from_slice::<State>(&raw) else {
        return false;
    };
    let pid = state.pid.unwrap_or(0);
    let alive = pid > 0 && Path::new(&format!("/proc/{pid}")).exists();
    state.status == ContainerStatus::Creating && !alive
}

/// Allocate a range for container `id`.
pub fn allocate(root: &Path, pool: Pool, id: &str) -> Result<Allocation, AllocError> {
    let d = dir(root);
    let _lock = lock_dir(root)?;
    for index in 0..pool.ranges {
        let path = d.join(index.to_string());
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                // Nobody else can lock a file that did not exist a moment ago... except a
                // reclaimer that opened it right now: lock before writing.
                if !try_lock(&f) {
                    continue;
                }
                f.write_all(id.as_bytes()).map_err(|e| io(&path, e))?;
                return Ok(Allocation {
                    index,
                    range: pool.range(index),
                    file: f,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // In use, unless its owner is gone: reclaim it then.
                let Ok(mut f) = OpenOptions::new().read(true).write(true).open(&path) else {
                    continue;
                };
                if !try_lock(&f) {
                    continue; // a create in progress holds it
                }
                // Still the same file (not freed and re-created meanwhile)?
                let same = match (f.metadata(), fs::metadata(&path)) {
                    (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                    _ => false,
                };
                if !same {
                    continue;
                }
                let mut owner = String::new();
                let _ = f.read_to_string(&mut owner);
                if !abandoned(root, owner.trim()) {
                    continue;
                }
                tracing::warn!(
                    "reclaiming user-namespace range {index} of container {} (it died while being created)",
                    owner.trim()
                );
                f.set_len(0).map_err(|e| io(&path, e))?;
                f.rewind().map_err(|e| io(&path, e))?;
                f.write_all(id.as_bytes()).map_err(|e| io(&path, e))?;
                return Ok(Allocation {
                    index,
                    range: pool.range(index),
                    file: f,
                });
            }
            Err(e) => return Err(io(&path, e)),
        }
    }
    Err(AllocError::Exhausted(pool.ranges))
}

/// Serialises changes of owners and sharers (held until dropped).
struct DirLock(#[allow(dead_code)] File);

fn lock_dir(root: &Path) -> Result<DirLock, AllocError> {
    let d = dir(root);
    loop {
        fs::create_dir_all(&d).map_err(|e| io(&d, e))?;
        let f = match File::open(&d) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&d, e)),
        };
        if let Err(e) = rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive) {
            return Err(io(&d, e.into()));
        }
        // The last free may have removed the directory while we waited: lock the new one.
        let same = match (f.metadata(), fs::metadata(&d)) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        };
        if same {
            return Ok(DirLock(f));
        }
    }
}

fn sharers_dir(root: &Path, index: u32) -> PathBuf {
    dir(root).join(format!("{index}.d"))
}

/// Whether sharer `id` (its file holds the pid of its `create`) is gone.
fn sharer_gone(root: &Path, id: &str, pid_text: &str) -> bool {
    if root.join(id).join("state.json").exists() {
        return abandoned(root, id);
    }
    let pid: i32 = pid_text.trim().parse().unwrap_or(0);
    !(pid > 0 && Path::new(&format!("/proc/{pid}")).exists())
}

/// Record container `id` as sharing the range that starts at `range.host_start`, when it is a
/// range of `pool` that is in use (a range of another pool or state root is not ours to track).
/// Returns whether it was recorded.
pub fn share(root: &Path, pool: Pool, range: IdRange, id: &str) -> Result<bool, AllocError> {
    let Some(offset) = range.host_start.checked_sub(pool.start) else {
        return Ok(false);
    };
    if range.size != RANGE_SIZE || offset % RANGE_SIZE != 0 || offset / RANGE_SIZE >= pool.ranges {
        return Ok(false);
    }
    let index = offset / RANGE_SIZE;
    let _lock = lock_dir(root)?;
    if !dir(root).join(index.to_string()).exists() {
        return Ok(false);
    }
    let sd = sharers_dir(root, index);
    fs::create_dir_all(&sd).map_err(|e| io(&sd, e))?;
    let path = sd.join(id);
    fs::write(&path, std::process::id().to_string()).map_err(|e| io(&path, e))?;
    Ok(true)
}

/// Free what container `id` holds: a range it owns passes to a live sharer or is freed; its
/// sharer records are removed.
pub fn free(root: &Path, id: &str) {
    if id.is_empty() || id.contains('/') {
        return;
    }
    let Ok(_lock) = lock_dir(root) else {
        return;
    };
    for (index, owner) in list(root) {
        let sd = sharers_dir(root, index);
        let _ = fs::remove_file(sd.join(id));
        if owner != id {
            continue;
        }
        let heir = fs::read_dir(&sd)
            .into_iter()
            .flatten()
            .flatten()
            .find_map(|e| {
                let name = e.file_name().to_str()?.to_string();
                let pid = fs::read_to_string(e.path()).unwrap_or_default();
                if sharer_gone(root, &name, &pid) {
                    let _ = fs::remove_file(e.path());
                    None
                } else {
                    Some(name)
                }
            });
        let path = dir(root).join(index.to_string());
        match heir {
            Some(h) => {
                let _ = fs::write(&path, &h);
                let _ = fs::remove_file(sd.join(&h));
            }
            None => {
                let _ = fs::remove_file(&path);
                let _ = fs::remove_dir_all(&sd);
            }
        }
    }
    remove_ownerless(root);
    // Nothing left: the state root is as it was before the first container.
    let _ = fs::remove_dir(dir(root));
}

/// Remove range files that name no owner: what a `create` killed between creating a range file
/// and writing its id into it leaves (or one killed while reclaiming a range, between truncating
/// the file and writing). No one's `free` would ever match them, so a forced delete of the dead
/// container left them behind. The caller holds the directory lock, so no allocation is half-way;
/// a file whose `flock` someone still holds is left alone.
fn remove_ownerless(root: &Path) {
    for (index, owner) in list(root) {
        if !owner.is_empty() {
            continue;
        }
        let path = dir(root).join(index.to_string());
        let Ok(f) = File::open(&path) else {
            continue;
        };
        if try_lock(&f) {
            let _ = fs::remove_file(&path);
            // Sharers of a range whose owner never got its id written: none can exist (`share`
            // finds ranges through their owner), but an empty directory would keep the root.
            let _ = fs::remove_dir(sharers_dir(root, index));
        }
    }
}

/// The range the next allocation would most likely get (for `hardened check`; nothing is
/// allocated).
pub fn peek(root: &Path, pool: Pool) -> Option<IdRange> {
    let used: Vec<u32> = list(root).into_iter().map(|(i, _)| i).collect();
    (0..pool.ranges)
        .find(|i| !used.contains(i))
        .map(|i| pool.range(i))
}

/// The pool of a policy: its `/etc/subuid`/`/etc/subgid` user's ranges, or start/ranges.
pub fn pool_of(p: &crate::policy::UsernsPool) -> Result<Pool, AllocError> {
    match &p.subid_user {
        None => Ok(Pool {
            start: p.start,
            ranges: p.ranges,
        }),
        Some(user) => {
            let read = |f: &str| fs::read_to_string(f).map_err(|e| io(Path::new(f), e));
            let (su, sg) = (read("/etc/subuid")?, read("/etc/subgid")?);
            Pool::from_subid(user, &su, &sg).ok_or_else(|| AllocError::Io {
                path: PathBuf::from("/etc/subuid"),
                error: std::io::Error::other(format!(
                    "no /etc/subuid and /etc/subgid entries for {user:?} with at least one range of 65536 IDs in common (user_namespace.subid_user in the policy)"
                )),
            })
        }
    }
}

/// The ranges in use: (index, owner).
pub fn list(root: &Path) -> Vec<(u32, String)> {
    let mut v: Vec<(u32, String)> = fs::read_dir(dir(root))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let index = e.file_name().to_str()?.parse().ok()?;
            Some((index, fs::read_to_string(e.path()).ok()?.trim().to_string()))
        })
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const POOL: Pool = Pool {
        start: 1_000_000_000,
        ranges: 64,
    };

    #[test]
    fn free_removes_ownerless_range_files_nobody_holds() {
        let root = tempfile::tempdir().unwrap();
        // A create killed between creating range file 5 and writing its id: an empty file.
        fs::create_dir_all(dir(root.path())).unwrap();
        fs::write(dir(root.path()).join("5"), "").unwrap();
        // A live allocation whose file is empty for a moment (held lock): left alone.
        let a = allocate(root.path(), POOL, "a").unwrap();
        let held = dir(root.path()).join(a.index.to_string());
        fs::write(&held, "").unwrap();
        free(root.path(), "someone-else");
        assert!(!dir(root.path()).join("5").exists());
        assert!(held.exists());
        drop(a);
        free(root.path(), "someone-else");
        assert!(!held.exists());
        assert!(!dir(root.path()).exists());
    }

    #[test]
    fn ranges_are_disjoint_and_freed() {
        let root = tempfile::tempdir().unwrap();
        let a = allocate(root.path(), POOL, "a").unwrap();
        let b = allocate(root.path(), POOL, "b").unwrap();
        assert_ne!(a.index, b.index);
        assert!(
            a.range.host_start + a.range.size <= b.range.host_start
                || b.range.host_start + b.range.size <= a.range.host_start
        );
        assert_eq!(list(root.path()).len(), 2);
        free(root.path(), "a");
        assert_eq!(list(root.path()), vec![(b.index, "b".to_string())]);
    }

    #[test]
    fn a_range_of_a_dead_create_is_reclaimed_but_not_a_live_one() {
        let root = tempfile::tempdir().unwrap();
        let pool = Pool {
            start: 1 << 20,
            ranges: 1,
        };
        {
            // "dead": allocated, lock released (process gone), no container state.
            let _a = allocate(root.path(), pool, "dead").unwrap();
        }
        let b = allocate(root.path(), pool, "b").unwrap();
        assert_eq!(b.index, 0);
        // b's lock is held: no one can take it.
        assert!(matches!(
            allocate(root.path(), pool, "c"),
            Err(AllocError::Exhausted(1))
        ));
        drop(b);
        // b now has a live container (state.json, status running): not reclaimed.
        let me = std::process::id() as i32;
        write_state(root.path(), "b", ContainerStatus::Running, Some(me));
        assert!(matches!(
            allocate(root.path(), pool, "c"),
            Err(AllocError::Exhausted(1))
        ));
        // Still being created by a live process: not reclaimed either.
        write_state(root.path(), "b", ContainerStatus::Creating, Some(me));
        assert!(matches!(
            allocate(root.path(), pool, "c"),
            Err(AllocError::Exhausted(1))
        ));
        // Left "creating" by a process that is gone (no pid is this large): reclaimed.
        write_state(
            root.path(),
            "b",
            ContainerStatus::Creating,
            Some(2_000_000_000),
        );
        let c = allocate(root.path(), pool, "c").unwrap();
        assert_eq!(c.index, 0);
    }

    /// The state.json libcontainer writes for container `id`.
    fn write_state(root: &Path, id: &str, status: ContainerStatus, pid: Option<i32>) {
        let dir = root.join(id);
        fs::create_dir_all(&dir).unwrap();
        let state = State::new(id, status, pid, PathBuf::from("/bundle"));
        fs::write(dir.join("state.json"), serde_json::to_vec(&state).unwrap()).unwrap();
    }

    #[test]
    fn a_shared_range_passes_to_a_live_sharer_and_is_freed_with_the_last() {
        let root = tempfile::tempdir().unwrap();
        let a = allocate(root.path(), POOL, "a").unwrap();
        let range = a.range;
        assert!(share(root.path(), POOL, range, "b").unwrap());
        // A range outside the pool is not tracked.
        let other = IdRange {
            host_start: 7,
            size: RANGE_SIZE,
        };
        assert!(!share(root.path(), POOL, other, "c").unwrap());
        free(root.path(), "a");
        // b (its create, this process, is alive) now owns the range: it is not handed out.
        assert_eq!(list(root.path()), vec![(a.index, "b".to_string())]);
        let c = allocate(root.path(), POOL, "c").unwrap();
        assert_ne!(c.index, a.index);
        free(root.path(), "b");
        assert_eq!(list(root.path()), vec![(c.index, "c".to_string())]);
    }

    #[test]
    fn subid_pool() {
        let p = Pool::from_subid(
            "hardened",
            "root:100000:65536\nhardened:200000:655360\n",
            "hardened:300000:655360\n",
        )
        .unwrap();
        assert_eq!(p.start, 300000);
        assert_eq!(p.ranges, (200000 + 655360 - 300000) / 65536);
        assert!(Pool::from_subid("nobody", "", "").is_none());
    }
}
