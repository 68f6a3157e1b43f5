//! Gap: libcontainer 0.7 writes several `uidMappings`/`gidMappings` lines only through
//! `newuidmap`/`newgidmap`, even when it runs as root.
//!
//! - **Restores**: config-linux.md User namespace mappings: `uidMappings`/`gidMappings` are
//!   arrays of ranges, each applied to the new user namespace.
//! - **Proved by**: `several_ranges_need_our_own_user_namespace` (src/gaps/tests.rs);
//!   conformance case `userns/several-ranges` (runtime-spec-tests/).
//! - **Goes when**: libcontainer writes `uid_map`/`gid_map` itself as root for any number of
//!   lines.
//!
//! `create` makes the user namespace (a short-lived child unshares it, `create` writes all lines
//! as root and keeps a descriptor: `userns::idmap::userns_fd_maps`), which libcontainer joins by
//! path (`/proc/<create>/fd/<n>`), as it joins a donor container's. The descriptor is closed once
//! the container exists or on any error, so nothing outlives `create`.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use anyhow::{Context, Result};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

/// Several mapping lines for a new user namespace: libcontainer would need newuidmap/newgidmap.
pub fn several_ranges(spec: &Spec) -> bool {
    let Some(linux) = spec.linux() else {
        return false;
    };
    let new_userns = linux
        .namespaces()
        .iter()
        .flatten()
        .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
    let len = |m: &Option<Vec<LinuxIdMapping>>| m.as_ref().map_or(0, |m| m.len());
    new_userns && (len(linux.uid_mappings()) > 1 || len(linux.gid_mappings()) > 1)
}

/// When `spec` has several mapping ranges: make its user namespace, point `spec` at it (no
/// mappings left for libcontainer to write) and return the descriptor to keep open until the
/// container exists.
pub fn own_user_namespace(spec: &mut Spec) -> Result<Option<OwnedFd>> {
    if !several_ranges(spec) {
        return Ok(None);
    }
    let Some(mut linux) = spec.linux().clone() else {
        return Ok(None);
    };
    let text = |m: &Option<Vec<LinuxIdMapping>>| {
        crate::userns::idmap::map_text(m.as_deref().unwrap_or(&[]))
    };
    let fd = crate::userns::idmap::userns_fd_maps(
        &text(linux.uid_mappings()),
        &text(linux.gid_mappings()),
    )
    .context("make the user namespace with several mapping ranges")?;
    let path = PathBuf::from(format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        fd.as_raw_fd()
    ));
    if let Some(mut ns) = linux.namespaces().clone() {
        for n in ns.iter_mut() {
            if n.typ() == LinuxNamespaceType::User {
                n.set_path(Some(path.clone()));
            }
        }
        linux.set_namespaces(Some(ns));
    }
    linux.set_uid_mappings(None);
    linux.set_gid_mappings(None);
    spec.set_linux(Some(linux));
    Ok(Some(fd))
}
