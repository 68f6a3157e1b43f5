//! Gap: libcontainer 0.7 hands the hooks it runs (prestart, createRuntime, createContainer) its
//! own copy of the state: createContainer hooks get it without `pid`, and every hook gets the
//! *shadow* bundle (`bundle.rs`) when the pipeline changed the spec.
//!
//! - **Restores**: runtime.md State: `pid` "MUST be present" when the container is created, and
//!   `bundle` is "the absolute path to the container's bundle directory" (the caller's).
//! - **Proved by**: `libcontainer_run_hooks_go_through_the_shim_and_start_container_is_left_alone`,
//!   `ppid_is_read_past_a_tricky_command_name` (this file); conformance cases
//!   `hooks/state-stdin-prestart`, `hooks/state-stdin-create-container`
//!   (runtime-spec-tests/src/cases/hooks.rs).
//! - **Goes when**: libcontainer passes hooks the state with `pid` and lets the caller name the
//!   bundle the state reports.
//!
//! The shim is our own binary, reached through a descriptor the runtime holds open
//! (`/proc/self/fd/N`, valid on the host and before `pivot_root`): it puts the caller's bundle
//! and the init's host pid into the state and `exec`s the real hook with it.

use std::ffi::{CString, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use oci_spec::runtime::{Hook, Spec};

/// `argv[1]` of the hook shim (dispatched by `main` before anything else).
pub const SHIM_ARG: &str = "__hook-shim";

/// The descriptor the hook shim is reached through: our own (sealed) binary, opened `O_PATH`
/// *without* close-on-exec so that the hooks libcontainer spawns inherit it. It is open in the
/// runtime process and in the container's init until the init marks every descriptor
/// close-on-exec, after the createContainer hooks.
pub struct ShimExe(OwnedFd);

impl ShimExe {
    pub fn open() -> Result<Self> {
        // No O_CLOEXEC: the hooks libcontainer spawns must inherit it.
        let fd = rustix::fs::open(
            "/proc/self/exe",
            rustix::fs::OFlags::PATH,
            rustix::fs::Mode::empty(),
        )
        .context("open the runtime's own binary for the hook shim")?;
        Ok(Self(fd))
    }

    /// Rewrite the hooks libcontainer runs so that each goes through the shim with `bundle`.
    pub fn wrap(&self, spec: &mut Spec, bundle: &Path) {
        let Some(mut hooks) = spec.hooks().clone() else {
            return;
        };
        let path = PathBuf::from(format!("/proc/self/fd/{}", self.0.as_raw_fd()));
        let wrap_all = |list: &Option<Vec<Hook>>| -> Option<Vec<Hook>> {
            list.as_ref().map(|l| {
                l.iter()
                    .map(|h| {
                        let mut args = vec![
                            "hardened-hook".to_string(),
                            SHIM_ARG.to_string(),
                            bundle.display().to_string(),
                            h.path().display().to_string(),
                        ];
                        match h.args() {
                            Some(a) if !a.is_empty() => args.extend(a.iter().cloned()),
                            _ => args.push(h.path().display().to_string()),
                        }
                        let mut w = h.clone();
                        w.set_path(path.clone());
                        w.set_args(Some(args));
                        w
                    })
                    .collect()
            })
        };
        #[allow(deprecated)]
        let prestart = wrap_all(hooks.prestart());
        #[allow(deprecated)]
        hooks.set_prestart(prestart);
        hooks.set_create_runtime(wrap_all(hooks.create_runtime()));
        hooks.set_create_container(wrap_all(hooks.create_container()));
        spec.set_hooks(Some(hooks));
    }
}

/// The hook shim: `argv` = [arg0, SHIM_ARG, bundle, path, hook args (argv[0] first)...].
/// Reads the state libcontainer wrote on stdin, sets `bundle`, and `pid` when it is missing (a
/// createContainer hook: its parent is the container's init; `/proc` is still the host's
/// before `pivot_root`, so `/proc/self/stat` gives host pids), then `exec`s the hook with the
/// state on a fresh stdin. Never returns.
pub fn shim(argv: Vec<OsString>) -> ! {
    let code = match shim_inner(argv) {
        Ok(never) => match never {},
        Err(e) => {
            eprintln!("hardened hook shim: {e:#}");
            127
        }
    };
    std::process::exit(code)
}

enum Never {}

fn shim_inner(argv: Vec<OsString>) -> Result<Never> {
    let [_, _, bundle, path, args @ ..] = argv.as_slice() else {
        anyhow::bail!("usage: {SHIM_ARG} BUNDLE PATH ARGV0 [ARG...]");
    };
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .context("read the container state from stdin")?;
    let output = match serde_json::from_slice::<serde_json::Value>(&input) {
        Ok(mut v) => {
            v["bundle"] = serde_json::Value::String(bundle.to_string_lossy().into_owned());
            if v.get("pid").is_none_or(|p| p.is_null()) {
                if let Some(pid) = host_ppid() {
                    v["pid"] = pid.into();
                }
            }
            serde_json::to_vec(&v).context("encode the container state")?
        }
        Err(_) => input,
    };
    let memfd =
        nix::sys::memfd::memfd_create(c"hook-state", nix::sys::memfd::MemFdCreateFlag::empty())
            .context("memfd for the hook's state")?;
    let mut f = std::fs::File::from(memfd);
    f.write_all(&output).context("write the hook's state")?;
    nix::unistd::lseek(f.as_raw_fd(), 0, nix::unistd::Whence::SeekSet).context("rewind")?;
    nix::unistd::dup2(f.as_raw_fd(), 0).context("hook state as stdin")?;
    drop(f);
    let cpath = CString::new(path.as_bytes()).context("hook path")?;
    let cargs = args
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .context("hook arguments")?;
    let e = nix::unistd::execv(&cpath, &cargs).unwrap_err();
    Err(anyhow::anyhow!("exec hook {}: {e}", path.to_string_lossy()))
}

/// The parent's pid as the mounted `/proc` sees it.
fn host_ppid() -> Option<i64> {
    let stat = procfs::process::Process::myself().ok()?.stat().ok()?;
    Some(i64::from(stat.ppid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{HookBuilder, HooksBuilder, SpecBuilder};
    use std::os::fd::AsRawFd;

    /// What [`host_ppid`] relies on: procfs reads the ppid past a command name with spaces and
    /// parentheses.
    #[test]
    fn ppid_is_read_past_a_tricky_command_name() {
        use procfs::FromRead;
        let real = std::fs::read_to_string("/proc/self/stat").expect("stat");
        let rest = &real[real.rfind(')').expect("comm") + 1..];
        let tricky = format!("42 (a) b (c)){rest}");
        let stat = procfs::process::Stat::from_read(tricky.as_bytes()).expect("parse");
        assert_eq!(stat.comm, "a) b (c)");
        assert_eq!(stat.ppid, nix::unistd::getppid().as_raw());
        assert_eq!(
            host_ppid(),
            Some(i64::from(nix::unistd::getppid().as_raw()))
        );
    }

    #[test]
    fn libcontainer_run_hooks_go_through_the_shim_and_start_container_is_left_alone() {
        let hook = |p: &str, args: Option<Vec<&str>>| {
            let mut b = HookBuilder::default().path(p);
            if let Some(a) = args {
                b = b.args(a.into_iter().map(String::from).collect::<Vec<_>>());
            }
            b.build().expect("hook")
        };
        let hooks = HooksBuilder::default()
            .create_runtime(vec![hook("/bin/a", Some(vec!["a0", "x"]))])
            .create_container(vec![hook("/bin/b", None)])
            .start_container(vec![hook("/bin/c", None)])
            .build()
            .expect("hooks");
        let mut spec = SpecBuilder::default().hooks(hooks).build().expect("spec");
        let exe = ShimExe::open().expect("open own binary");
        exe.wrap(&mut spec, Path::new("/caller/bundle"));
        let h = spec.hooks().clone().expect("hooks");
        let fd_path = PathBuf::from(format!("/proc/self/fd/{}", exe.0.as_raw_fd()));
        let cr = &h.create_runtime().clone().expect("createRuntime")[0];
        assert_eq!(cr.path(), &fd_path);
        assert_eq!(
            cr.args().clone().expect("args"),
            [
                "hardened-hook",
                SHIM_ARG,
                "/caller/bundle",
                "/bin/a",
                "a0",
                "x"
            ]
        );
        let cc = &h.create_container().clone().expect("createContainer")[0];
        assert_eq!(
            cc.args().clone().expect("args")[3..],
            ["/bin/b".to_string(), "/bin/b".to_string()]
        );
        // The descriptor is inherited by the hooks libcontainer spawns.
        let flags = nix::fcntl::fcntl(exe.0.as_raw_fd(), nix::fcntl::F_GETFD).expect("flags");
        assert_eq!(flags & libc::FD_CLOEXEC, 0);
        let sc = &h.start_container().clone().expect("startContainer")[0];
        assert_eq!(sc.path(), Path::new("/bin/c"));
    }
}
