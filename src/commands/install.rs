//! `hardened install|uninstall docker|containerd|podman`: glue over `crate::install`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cli::{InstallArgs, InstallTarget, UninstallArgs, UninstallTarget};
use crate::install::{self, containerd, docker, file, podman};

pub const DOCKER_CONFIG: &str = "/etc/docker/daemon.json";
pub const CONTAINERD_CONFIG: &str = "/etc/containerd/config.toml";
/// A drop-in of its own, read by podman after /etc/containers/containers.conf.
pub const PODMAN_CONFIG: &str = "/etc/containers/containers.conf.d/hardened.conf";

const DOCKER_RELOAD: &str =
    "Reload dockerd to apply it: kill -HUP $(pidof dockerd)   (or: systemctl reload docker)";
const CONTAINERD_RESTART: &str =
    "Restart containerd to apply it: systemctl restart containerd   (running containers keep running)";
const PODMAN_APPLY: &str =
    "podman reads it at its next command (no daemon to restart; `systemctl restart podman` for its API service)";

pub fn install(policy: Option<&Path>, target: &InstallTarget) -> Result<i32> {
    let (args, is_docker) = match target {
        InstallTarget::Docker(a) => (a, true),
        InstallTarget::Containerd(a) => (a, false),
        InstallTarget::Podman(a) => return install_podman(policy, a),
    };
    install::validate_name(&args.name).map_err(anyhow::Error::msg)?;
    let bin = binary_path(args)?;
    let bin_str = utf8(&bin, "--path")?;
    if is_docker {
        let policy = match policy {
            Some(p) => Some(policy_path(p)?),
            None => None,
        };
        let policy_str = policy.as_deref().map(|p| utf8(p, "--policy")).transpose()?;
        let rt = docker::DockerRuntime {
            name: &args.name,
            path: bin_str,
            policy: policy_str,
        };
        let edited = edit(args, DOCKER_CONFIG, |old, path| {
            Ok((docker::install(old, path, &rt)?, ()))
        })?;
        if edited.is_none() {
            return Ok(0);
        }
        println!("  path: {bin_str}");
        if let Some(p) = policy_str {
            println!("  runtimeArgs: --policy {p}");
        }
        println!("{DOCKER_RELOAD}");
        println!("Then: docker run --runtime={} ...", args.name);
    } else {
        if let Some(p) = policy {
            bail!(
                "--policy {} cannot be registered with containerd: its runc shim passes no \
                 arguments to the runtime, so a handler cannot select a policy file. Under \
                 containerd, hardened reads /etc/hardened/policy.toml: put the policy there, \
                 and give pods other rules with profiles in that file, selected by the pod \
                 annotation io.hardened.profile (docs/kubernetes.md). Run again without --policy.",
                p.display()
            );
        }
        let rt = containerd::ContainerdRuntime {
            name: &args.name,
            path: bin_str,
        };
        let edited = edit(args, CONTAINERD_CONFIG, |old, path| {
            containerd::install(old, path, &rt, containerd_major_version())
        })?;
        let Some(version) = edited else {
            return Ok(0);
        };
        println!(
            "  [{}] (config version {})",
            version.section(&args.name),
            version.number()
        );
        println!(
            "  runtime_type = \"{}\", pod_annotations = [\"{}\"], BinaryName = \"{bin_str}\"",
            containerd::RUNTIME_TYPE,
            containerd::POD_ANNOTATIONS
        );
        println!(
            "  policy: {} (containerd's shim passes no runtime arguments)",
            crate::policy::DEFAULT_POLICY_PATH
        );
        println!("{CONTAINERD_RESTART}");
        println!(
            "Then select it per pod with a RuntimeClass whose handler is \"{}\" \
             (deploy/kubernetes/runtimeclass.yaml).",
            args.name
        );
    }
    Ok(0)
}

/// `install podman`: the runtime in `[engine.runtimes]` of containers.conf.
fn install_podman(policy: Option<&Path>, args: &InstallArgs) -> Result<i32> {
    install::validate_name(&args.name).map_err(anyhow::Error::msg)?;
    if let Some(p) = policy {
        bail!(
            "--policy {}: podman passes a runtime no arguments of its own; under podman, \
             hardened reads /etc/hardened/policy.toml: put the policy there (profiles: podman \
             run --annotation io.hardened.profile=NAME) and run again without --policy",
            p.display()
        );
    }
    let bin = binary_path(args)?;
    let bin_str = utf8(&bin, "--path")?;
    let rt = podman::PodmanRuntime {
        name: &args.name,
        path: bin_str,
    };
    let edited = edit(args, PODMAN_CONFIG, |old, path| {
        Ok((podman::install(old, path, &rt)?, ()))
    })?;
    if edited.is_none() {
        return Ok(0);
    }
    println!("  [engine.runtimes] {} = [\"{bin_str}\"]", args.name);
    println!(
        "  policy: {} (podman passes no runtime arguments)",
        crate::policy::DEFAULT_POLICY_PATH
    );
    println!("{PODMAN_APPLY}");
    println!("Then: podman run --runtime {} ...", args.name);
    Ok(0)
}

pub fn uninstall(target: &UninstallTarget) -> Result<i32> {
    let (args, default, apply_note): (&UninstallArgs, _, _) = match target {
        UninstallTarget::Docker(a) => (a, DOCKER_CONFIG, DOCKER_RELOAD),
        UninstallTarget::Containerd(a) => (a, CONTAINERD_CONFIG, CONTAINERD_RESTART),
        UninstallTarget::Podman(a) => (a, PODMAN_CONFIG, PODMAN_APPLY),
    };
    let path = config_path(args.config.as_deref(), default)?;
    let old = file::read(&path)?;
    let new = match target {
        UninstallTarget::Docker(_) => docker::uninstall(old.as_deref(), &path, &args.name)?,
        UninstallTarget::Containerd(_) => containerd::uninstall(old.as_deref(), &path, &args.name)?,
        UninstallTarget::Podman(_) => podman::uninstall(old.as_deref(), &path, &args.name)?,
    };
    let Some(new) = new else {
        println!(
            "{} does not exist: runtime \"{}\" is not configured there; nothing changed",
            path.display(),
            args.name
        );
        return Ok(0);
    };
    if old.as_deref() == Some(new.as_str()) {
        println!(
            "runtime \"{}\" is not configured in {}: nothing changed",
            args.name,
            path.display()
        );
        return Ok(0);
    }
    if args.dry_run {
        print!("{}", install::diff(old.as_deref(), &new, &path));
        println!("dry run: {} was not changed", path.display());
        return Ok(0);
    }
    let backup = file::replace(&path, old.as_deref(), &new)?;
    println!(
        "removed runtime \"{}\" from {}{}",
        args.name,
        path.display(),
        backup_note(backup.as_deref())
    );
    println!("{apply_note}");
    Ok(0)
}

/// Print the outcome of an install; false when there is nothing more to say (already
/// configured, or a dry run).
fn apply(path: &Path, old: Option<&str>, new: &str, dry_run: bool, name: &str) -> Result<bool> {
    if old == Some(new) {
        println!(
            "runtime \"{name}\" is already configured in {}: nothing changed",
            path.display()
        );
        return Ok(false);
    }
    if dry_run {
        print!("{}", install::diff(old, new, path));
        println!("dry run: {} was not changed", path.display());
        return Ok(false);
    }
    let backup = file::replace(path, old, new)?;
    println!(
        "registered runtime \"{name}\" in {}{}",
        path.display(),
        match backup {
            Some(b) => backup_note(Some(&b)),
            None => " (new file)".to_string(),
        }
    );
    Ok(true)
}

fn backup_note(backup: Option<&Path>) -> String {
    match backup {
        Some(b) => format!(" (previous file saved as {})", b.display()),
        None => String::new(),
    }
}

/// Render the new text of the config file (`--config`, or `default`) from its old text, and
/// write it (a dry run shows the diff). Returns what `render` gives besides the text, or None
/// when nothing was written.
fn edit<T>(
    args: &InstallArgs,
    default: &str,
    render: impl FnOnce(Option<&str>, &Path) -> Result<(String, T), install::InstallError>,
) -> Result<Option<T>> {
    let path = config_path(args.config.as_deref(), default)?;
    let old = file::read(&path)?;
    let (new, more) = render(old.as_deref(), &path)?;
    Ok(apply(&path, old.as_deref(), &new, args.dry_run, &args.name)?.then_some(more))
}

fn config_path(given: Option<&Path>, default: &str) -> Result<PathBuf> {
    Ok(file::resolve(given.unwrap_or(Path::new(default)))?)
}

fn utf8<'a>(p: &'a Path, flag: &str) -> Result<&'a str> {
    p.to_str()
        .with_context(|| format!("{flag} {}: the path is not UTF-8", p.display()))
}

/// The binary to register: `--path` (absolute), else this executable.
fn binary_path(args: &InstallArgs) -> Result<PathBuf> {
    let p = match &args.path {
        Some(p) => {
            if !p.is_absolute() {
                bail!(
                    "--path {}: give an absolute path (dockerd, containerd and podman run the \
                     binary from their own working directories)",
                    p.display()
                );
            }
            p.clone()
        }
        None => std::env::current_exe()
            .and_then(std::fs::canonicalize)
            .context("find the path of this executable; give it with --path")?,
    };
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(&p) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => {}
        _ => eprintln!(
            "hardened: warning: {} is not an executable file on this machine: make sure it \
             is one where the daemon runs",
            p.display()
        ),
    }
    Ok(p)
}

/// `--policy` for Docker: absolute, and a valid policy (a broken one would make the runtime
/// refuse every container).
fn policy_path(p: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(p).with_context(|| format!("--policy {}", p.display()))?;
    crate::policy::load_file(&abs).with_context(|| {
        format!(
            "--policy {}: the runtime would fail every container with this policy; fix it \
             first (hardened policy validate FILE)",
            abs.display()
        )
    })?;
    Ok(abs)
}

/// containerd's major version (`containerd --version`), used only for a file without a
/// `version` line.
fn containerd_major_version() -> Option<u32> {
    let out = std::process::Command::new("containerd")
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    containerd::parse_containerd_version(&String::from_utf8_lossy(&out.stdout))
}
