//! `hardened install|uninstall docker|containerd|podman`: register the runtime in Docker's
//! `daemon.json`, containerd's `config.toml` or podman's `containers.conf`, and remove it again.
//!
//! The edits are pure functions from the old text to the new one ([`docker`], [`containerd`],
//! [`podman`]), so that they can be tested on strings; [`file`] does the I/O: read, back up,
//! and replace the file atomically (a temporary file in the same directory, then `rename`), so that a failed
//! command leaves the old file as it was and nothing else behind.
//!
//! The edits are idempotent: applied to their own output they return it unchanged, byte for
//! byte, so the caller can say "already configured" and write nothing.

pub mod containerd;
pub mod docker;
pub mod file;
pub mod podman;

use std::path::{Path, PathBuf};

/// The default name of the runtime (Docker) and of the runtime handler (containerd, and the
/// `handler` of the Kubernetes RuntimeClass).
pub const DEFAULT_NAME: &str = "hardened";

/// The new text of a config file without a runtime entry: None when there is no file, the old
/// text unchanged when the entry is not there.
pub type Removed = Result<Option<String>, InstallError>;

/// The new text of a config file with a runtime entry (`old` itself when it is there already).
pub type Added = Result<String, InstallError>;

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The file does not parse: nothing is written.
    #[error(
        "{path}: invalid {format} at line {line}, column {column}: {message}; \
         fix the file and run the command again (nothing was changed)"
    )]
    Invalid {
        path: PathBuf,
        format: &'static str,
        line: usize,
        column: usize,
        message: String,
    },
    /// The file parses, but its shape is one this command does not edit: nothing is written.
    #[error("{path}: {message} (nothing was changed)")]
    Refused { path: PathBuf, message: String },
}

impl InstallError {
    pub(crate) fn refused(path: &Path, message: impl Into<String>) -> Self {
        InstallError::Refused {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// A runtime or handler name: a lowercase RFC 1123 label, as a Kubernetes RuntimeClass
/// `handler` must be, so that the same name works in Docker, containerd and Kubernetes.
/// `runc` is refused: replacing the default runtime is not what an install should do.
pub fn validate_name(name: &str) -> Result<(), String> {
    let label = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !label {
        return Err(format!(
            "invalid runtime name {name:?}: use lowercase letters, digits and '-' (at most 63, \
             not starting or ending with '-'), as a Kubernetes RuntimeClass handler must"
        ));
    }
    if name == "runc" {
        return Err(
            "the runtime name \"runc\" is the default runtime of Docker and containerd: \
             choose another name (the default is \"hardened\")"
                .to_string(),
        );
    }
    Ok(())
}

/// 1-based line and column of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count() + 1)
        .unwrap_or(1);
    (line, column)
}

/// A unified diff of `old` (absent: an empty file) and `new`, for `--dry-run`.
pub fn diff(old: Option<&str>, new: &str, file: &Path) -> String {
    let old_name = match old {
        Some(_) => file.display().to_string(),
        None => "/dev/null".to_string(),
    };
    similar::TextDiff::from_lines(old.unwrap_or(""), new)
        .unified_diff()
        .context_radius(3)
        .header(&old_name, &file.display().to_string())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("hardened").is_ok());
        assert!(validate_name("hardened-web2").is_ok());
        let too_long = "a".repeat(64);
        let bad = ["", "Hardened", "a.b", "-a", "a-", "a b", "runc", &too_long];
        let accepted: Vec<&str> = bad
            .into_iter()
            .filter(|name| validate_name(name).is_ok())
            .collect();
        assert!(accepted.is_empty(), "accepted: {accepted:?}");
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_column("abc", 0), (1, 1));
        assert_eq!(line_column("abc\ndef", 5), (2, 2));
        assert_eq!(line_column("abc\n", 4), (2, 1));
        assert_eq!(line_column("a", 10), (1, 2));
    }

    #[test]
    fn diff_shows_changes() {
        let d = diff(Some("a\nb\n"), "a\nc\n", Path::new("/x/f"));
        assert!(d.contains("--- /x/f"), "{d}");
        assert!(d.contains("-b\n") && d.contains("+c\n"), "{d}");
        let d = diff(None, "a\n", Path::new("/x/f"));
        assert!(d.contains("--- /dev/null") && d.contains("+a"), "{d}");
    }
}
