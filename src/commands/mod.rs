//! One file per command, each over `libcontainer` and this crate's policy, pipeline and
//! workarounds (`create`, `exec` and `run` do much of their own work). This file holds what
//! the commands share: the context from the global flags, the container-ID check, the systemd
//! check and runc's exit code of a process.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use libcontainer::container::Container;

use crate::policy::Policy;

pub mod check;
pub mod create;
pub mod delete;
pub mod doctor;
pub mod events;
pub mod exec;
pub mod explain;
pub mod features;
pub mod install;
pub mod kill;
pub mod list;
pub mod manual;
pub mod pause;
pub mod policy;
pub mod profile;
pub mod ps;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod unsupported;
pub mod update;
pub mod version;

/// What every command gets from the global flags.
pub struct Ctx {
    /// Canonical state root.
    pub root: PathBuf,
    pub systemd_cgroup: bool,
    pub policy: Policy,
}

impl Ctx {
    pub fn new(root: &Path, systemd_cgroup: bool, policy: Policy) -> Result<Self> {
        if !root.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)
                .with_context(|| format!("create state root {}", root.display()))?;
        }
        if !root.is_dir() {
            bail!(
                "state root {} is not a directory: give --root a directory (it is made when missing)",
                crate::oneline::path(root)
            );
        }
        let root = fs::canonicalize(root)
            .with_context(|| format!("state root {} is not accessible", root.display()))?;
        Ok(Self {
            root,
            systemd_cgroup,
            policy,
        })
    }

    pub fn container_dir(&self, id: &str) -> Result<PathBuf> {
        validate_id(id)?;
        Ok(self.root.join(id))
    }

    pub fn load(&self, id: &str) -> Result<Container> {
        let dir = self.container_dir(id)?;
        if !dir.join("state.json").exists() {
            bail!("container {id} does not exist");
        }
        Container::load(dir).with_context(|| format!("load the state of container {id}"))
    }
}

/// A container ID is one path component of printable characters (runc: `^[\w+-\.]+$`).
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'));
    if !ok {
        bail!("invalid container id {id:?}: use only letters, digits, '_', '+', '-' and '.'");
    }
    Ok(())
}

/// `--systemd-cgroup` needs a running systemd.
pub fn check_systemd(systemd_cgroup: bool) -> Result<()> {
    if systemd_cgroup && !Path::new("/run/systemd/system").exists() {
        bail!(
            "--systemd-cgroup was given, but systemd is not running on this host (/run/systemd/system is missing): \
             drop --systemd-cgroup (containerd: SystemdCgroup = false; dockerd: native.cgroupdriver=cgroupfs)"
        );
    }
    Ok(())
}

/// Exit code of a process that ended with `status`, as runc reports it (128+signal).
pub fn exit_code(status: nix::sys::wait::WaitStatus) -> Option<i32> {
    use nix::sys::wait::WaitStatus;
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}
