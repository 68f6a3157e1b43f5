//! Reading a config file, backing it up, and replacing it atomically.
//!
//! The backup is a copy of the old file next to it, named `<file>.bak-<UTC time>` (e.g.
//! `daemon.json.bak-20250102-150405`; `-2`, `-3`, ... when that name is taken): a new one on
//! every change, never overwriting an older backup, so the file as it was before the first
//! install is always kept. The new text goes to a temporary file in the same directory that is
//! then renamed over the old one, with the old file's mode and owner: a reader (dockerd,
//! containerd) sees the old file or the new one, never half of one, and a failed command
//! leaves the old file, and nothing else, behind.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
// The I/O error is in the message, not a `source`: error chains (`{:#}`) would print it twice.
#[error("cannot {action} {path}: {error}")]
pub struct FileError {
    action: &'static str,
    path: PathBuf,
    error: std::io::Error,
}

fn err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> FileError + 'a {
    move |error| FileError {
        action,
        path: path.to_path_buf(),
        error,
    }
}

/// The file to edit: `path` itself, or the file a symlink at `path` points to (so that a
/// symlinked config stays a symlink).
pub fn resolve(path: &Path) -> Result<PathBuf, FileError> {
    let abs = std::path::absolute(path).map_err(err("resolve", path))?;
    match fs::symlink_metadata(&abs) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::canonicalize(&abs).map_err(err("follow the symlink", &abs))
        }
        _ => Ok(abs),
    }
}

/// The file's text; None when it does not exist.
pub fn read(path: &Path) -> Result<Option<String>, FileError> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| FileError {
            action: "read (not UTF-8 text)",
            path: path.to_path_buf(),
            error: std::io::Error::from(std::io::ErrorKind::InvalidData),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(err("read", path)(e)),
    }
}

/// A fresh backup name for `path` at `stamp`, and the ones after it.
fn backup_candidates(path: &Path, stamp: &str) -> impl Iterator<Item = PathBuf> {
    let base = format!("{}.bak-{stamp}", path.display());
    (1..1000).map(move |n| {
        PathBuf::from(if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        })
    })
}

/// Copy `old` (the text the edit was made from) to a new backup file next to `path`.
fn backup(path: &Path, old: &str, mode: u32) -> Result<PathBuf, FileError> {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string();
    for candidate in backup_candidates(path, &stamp) {
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&candidate);
        match f {
            Ok(mut f) => {
                let written = f.write_all(old.as_bytes()).and_then(|_| f.sync_all());
                if let Err(e) = written {
                    let _ = fs::remove_file(&candidate);
                    return Err(err("write the backup", &candidate)(e));
                }
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(err("create the backup", &candidate)(e)),
        }
    }
    Err(FileError {
        action: "find a free backup name for",
        path: path.to_path_buf(),
        error: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
    })
}

/// Replace `path` (whose current text is `old`, None: no file) with `new`: back up the old
/// file, write a temporary file in the same directory, rename it over. Returns the backup's
/// path. On failure nothing is left behind: no backup, no temporary file, no new directory.
pub fn replace(path: &Path, old: Option<&str>, new: &str) -> Result<Option<PathBuf>, FileError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let meta = if old.is_some() {
        Some(fs::metadata(path).map_err(err("stat", path))?)
    } else {
        None
    };
    // Directories to create (the missing ancestors), outermost first.
    let mut missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    missing.reverse();
    for d in &missing {
        if let Err(e) = fs::DirBuilder::new().mode(0o755).create(d) {
            remove_dirs(&missing);
            return Err(err("create the directory", d)(e));
        }
    }
    let result = (|| {
        let mode = meta.as_ref().map(|m| m.mode() & 0o7777).unwrap_or(0o644);
        let backup = match old {
            Some(old) => Some(backup(path, old, mode)?),
            None => None,
        };
        let write = || -> Result<(), FileError> {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut tmp = tempfile::Builder::new()
                .prefix(&format!(".{name}."))
                .suffix(".tmp")
                .tempfile_in(dir)
                .map_err(err("create a temporary file in", dir))?;
            tmp.write_all(new.as_bytes())
                .map_err(err("write", tmp.path()))?;
            fs::set_permissions(tmp.path(), fs::Permissions::from_mode(mode))
                .map_err(err("set the mode of", tmp.path()))?;
            if let Some(m) = &meta {
                std::os::unix::fs::chown(tmp.path(), Some(m.uid()), Some(m.gid()))
                    .map_err(err("set the owner of", tmp.path()))?;
            }
            tmp.as_file().sync_all().map_err(err("write", tmp.path()))?;
            tmp.persist(path)
                .map_err(|e| err("replace", path)(e.error))?;
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        };
        if let Err(e) = write() {
            if let Some(b) = &backup {
                let _ = fs::remove_file(b);
            }
            return Err(e);
        }
        Ok(backup)
    })();
    if result.is_err() {
        remove_dirs(&missing);
    }
    result
}

fn remove_dirs(created: &[&Path]) {
    for d in created.iter().rev() {
        let _ = fs::remove_dir(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_backs_up_and_keeps_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("daemon.json");
        fs::write(&f, "old").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
        let b = replace(&f, Some("old"), "new").unwrap().unwrap();
        assert_eq!(fs::read_to_string(&f).unwrap(), "new");
        assert_eq!(fs::read_to_string(&b).unwrap(), "old");
        assert!(b
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("daemon.json.bak-"));
        assert_eq!(fs::metadata(&f).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(&b).unwrap().mode() & 0o777, 0o600);
        // A second change in the same second gets a backup of its own.
        let b2 = replace(&f, Some("new"), "newer").unwrap().unwrap();
        assert_ne!(b, b2);
        assert_eq!(fs::read_to_string(&b).unwrap(), "old");
        assert_eq!(fs::read_to_string(&b2).unwrap(), "new");
        // Nothing else was left in the directory.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[test]
    fn a_new_file_in_new_directories() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a/b/config.toml");
        assert_eq!(read(&f).unwrap(), None);
        assert_eq!(replace(&f, None, "x").unwrap(), None);
        assert_eq!(read(&f).unwrap().as_deref(), Some("x"));
        assert_eq!(fs::metadata(&f).unwrap().mode() & 0o777, 0o644);
    }

    #[test]
    fn a_failed_replace_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a directory: rename fails after the backup and the temp file.
        let f = dir.path().join("config.toml");
        fs::create_dir(&f).unwrap();
        fs::write(f.join("keep"), "").unwrap();
        assert!(replace(&f, Some("old"), "new").is_err());
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["config.toml"]);
    }

    #[test]
    fn symlinks_are_followed() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.toml");
        fs::write(&real, "").unwrap();
        let link = dir.path().join("config.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(resolve(&link).unwrap(), fs::canonicalize(&real).unwrap());
        assert_eq!(
            resolve(Path::new("rel.json")).unwrap(),
            std::env::current_dir().unwrap().join("rel.json")
        );
    }
}
