//! AppArmor on the host: whether it is enabled, which profiles the kernel has, and loading our
//! default profile (`profiles/apparmor/hardened-default`, built into the binary) with
//! `apparmor_parser` when a container is to run under it and the kernel does not have it yet.
//!
//! libcontainer 0.7 applies `process.apparmorProfile` itself: its init writes
//! `exec <profile>` to `/proc/self/attr/apparmor/exec` (or the older `/proc/self/attr/exec`), so
//! the profile takes effect at the `execve` of the container's program; and it refuses a config
//! that names a profile on a host where `/sys/module/apparmor/parameters/enabled` is not `Y`
//! (or is missing). The `lsm` rule therefore leaves a named profile out on such a host.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use oci_spec::runtime::Spec;

/// The name of our default profile (the `apparmor_profile` policy key's default).
pub const DEFAULT_PROFILE: &str = "hardened-default";

/// Its text, as `apparmor_parser` loads it.
pub const DEFAULT_PROFILE_TEXT: &str = include_str!("../../profiles/apparmor/hardened-default");

/// What the audit log, `check` and `features` say when the host has no AppArmor.
pub const NOT_AVAILABLE: &str = "not available on this host";

const ENABLED_PARAMETER: &str = "/sys/module/apparmor/parameters/enabled";
const SECURITYFS: &str = "/sys/kernel/security/apparmor";
const PROFILES: &str = "/sys/kernel/security/apparmor/profiles";

/// Why a container's AppArmor profile cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum AppArmorError {
    #[error("process.apparmorProfile names the AppArmor profile {0}, but AppArmor is not enabled on this host ({ENABLED_PARAMETER} is not Y, or {SECURITYFS} is missing): remove it from the config (in enforce and audit mode the policy leaves it out on such a host)")]
    NotEnabled(String),
    #[error("the AppArmor profile {0} is not loaded in the kernel (it is not in {PROFILES}): load it with `apparmor_parser -r /etc/apparmor.d/<its file>`, or name a loaded profile (the config's process.apparmorProfile, or the policy key apparmor_profile)")]
    NotLoaded(String),
    #[error("load the AppArmor profile {DEFAULT_PROFILE:?}: cannot run apparmor_parser ({source}): install it (Debian and Ubuntu: the apparmor package), or set the policy key apparmor_profile to a profile that is loaded")]
    NoParser { source: std::io::Error },
    #[error("load the AppArmor profile {DEFAULT_PROFILE:?}: apparmor_parser -Kr failed ({status}): {stderr}")]
    Parser { status: String, stderr: String },
    #[error("load the AppArmor profile {DEFAULT_PROFILE:?}: {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// Whether AppArmor is enabled on this host: the kernel parameter libcontainer reads is `Y`, and
/// AppArmor's securityfs is there (profiles can be listed and loaded), as containerd checks it.
/// Where the securityfs is missing (a runtime inside a container that does not mount it), the
/// host is treated as one without AppArmor.
pub fn host_enabled() -> bool {
    kernel_enabled() && Path::new(SECURITYFS).is_dir()
}

/// The kernel parameter alone (what libcontainer checks before it applies a profile).
fn kernel_enabled() -> bool {
    std::fs::read_to_string(ENABLED_PARAMETER).is_ok_and(|s| s.starts_with('Y'))
}

/// What a container whose (hardened) spec names `profile` runs under, in words for the audit
/// log and `check`: the profile, "unconfined", or that the host has no AppArmor.
pub fn applied(profile: Option<&str>, host_enabled: bool) -> String {
    match profile.filter(|p| !p.is_empty()) {
        _ if !host_enabled => NOT_AVAILABLE.to_string(),
        Some(p) => p.to_string(),
        None => "unconfined".to_string(),
    }
}

/// The profile names in the text of `/sys/kernel/security/apparmor/profiles` (one
/// `NAME (MODE)` a line).
fn profile_names(listing: &str) -> impl Iterator<Item = &str> {
    listing
        .lines()
        .map(|l| l.rsplit_once(" (").map_or(l, |(name, _)| name))
}

/// Whether the kernel has the profile `name` (an error: the list cannot be read).
pub fn is_loaded(name: &str) -> std::io::Result<bool> {
    let listing = std::fs::read_to_string(PROFILES)?;
    let found = profile_names(&listing).any(|n| n == name);
    Ok(found)
}

/// Make sure the profile the (hardened) spec names can be applied: our default profile is loaded
/// when the kernel does not have it yet; any other must be loaded already. Two creates that race
/// load it once: the check and the load hold a lock on AppArmor's securityfs directory.
pub fn ensure_loaded(spec: &Spec) -> Result<(), AppArmorError> {
    let Some(name) = spec
        .process()
        .as_ref()
        .and_then(|p| p.apparmor_profile().as_deref())
        .filter(|n| !n.is_empty())
    else {
        return Ok(());
    };
    if !host_enabled() {
        // The module is on but its securityfs is not there: nothing to load; the kernel decides.
        if kernel_enabled() {
            return Ok(());
        }
        return Err(AppArmorError::NotEnabled(crate::oneline::value(name)));
    }
    if name == "unconfined" {
        return Ok(());
    }
    match is_loaded(name) {
        Ok(true) => return Ok(()),
        Ok(false) if name != DEFAULT_PROFILE => {
            return Err(AppArmorError::NotLoaded(crate::oneline::value(name)))
        }
        // The list cannot be read: the kernel decides at exec.
        Err(_) if name != DEFAULT_PROFILE => return Ok(()),
        _ => {}
    }
    let _lock = lock()?;
    if is_loaded(name).unwrap_or(false) {
        return Ok(());
    }
    load_default()
}

/// An exclusive `flock` on AppArmor's securityfs directory, held until the returned file drops:
/// one lock for every state root on the host.
fn lock() -> Result<std::fs::File, AppArmorError> {
    let io = |what: &str| {
        let what = what.to_string();
        move |source| AppArmorError::Io { what, source }
    };
    let dir = std::fs::File::open(SECURITYFS).map_err(io(&format!("open {SECURITYFS}")))?;
    rustix::fs::flock(&dir, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| io(&format!("lock {SECURITYFS}"))(e.into()))?;
    Ok(dir)
}

/// `apparmor_parser`: where Debian, Ubuntu and Fedora install it (dockerd and containerd may
/// run with a PATH without /sbin), else through PATH.
fn parser() -> &'static str {
    ["/sbin/apparmor_parser", "/usr/sbin/apparmor_parser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("apparmor_parser")
}

/// Load (or replace) our default profile: `apparmor_parser -Kr` with its text on stdin (`-K`:
/// no cache written on the host).
fn load_default() -> Result<(), AppArmorError> {
    let mut child = Command::new(parser())
        .arg("-Kr")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| AppArmorError::NoParser { source })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(DEFAULT_PROFILE_TEXT.as_bytes())
            .map_err(|source| AppArmorError::Io {
                what: "write the profile to apparmor_parser".into(),
                source,
            })?;
    }
    let out = child
        .wait_with_output()
        .map_err(|source| AppArmorError::Io {
            what: "wait for apparmor_parser".into(),
            source,
        })?;
    if !out.status.success() {
        return Err(AppArmorError::Parser {
            status: out.status.to_string(),
            stderr: crate::oneline::line(&String::from_utf8_lossy(&out.stderr), 200),
        });
    }
    tracing::debug!("loaded the AppArmor profile {DEFAULT_PROFILE}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_are_read_from_the_kernel_listing() {
        let listing = "docker-default (enforce)\nhardened-default (enforce)\n/usr/bin/man (complain)\nodd name (x) (enforce)\n";
        let names: Vec<&str> = profile_names(listing).collect();
        assert_eq!(
            names,
            [
                "docker-default",
                "hardened-default",
                "/usr/bin/man",
                "odd name (x)"
            ]
        );
    }

    #[test]
    fn what_was_applied_reads_well() {
        assert_eq!(applied(Some("docker-default"), true), "docker-default");
        assert_eq!(applied(None, true), "unconfined");
        assert_eq!(applied(Some(""), true), "unconfined");
        assert_eq!(applied(Some("docker-default"), false), NOT_AVAILABLE);
        assert_eq!(applied(None, false), NOT_AVAILABLE);
    }

    /// The built-in profile is named as the policy's default names it, and denies what the
    /// docs promise (the kernel's enforcement is tested from inside a container, integration/lsm.rs).
    #[test]
    fn the_built_in_profile_is_the_default_and_denies_what_it_promises() {
        assert!(DEFAULT_PROFILE_TEXT.contains(&format!("profile {DEFAULT_PROFILE} ")));
        for rule in [
            "deny mount,",
            "deny umount,",
            "deny pivot_root,",
            "deny /proc/sys/** wkl,",
            "deny /sys/** wkl,",
            "ptrace (trace, read, tracedby, readby) peer=hardened-default,",
        ] {
            assert!(DEFAULT_PROFILE_TEXT.contains(rule), "{rule}");
        }
    }
}
