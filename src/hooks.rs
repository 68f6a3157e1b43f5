//! OCI hooks, where libcontainer 0.7's handling falls short of runtime.md / config.md.
//!
//! - **The state on stdin.** libcontainer hands hooks its own copy of the state: the
//!   createContainer hooks (run by the container's init before `pivot_root`) get it without the
//!   `pid`, and every hook gets the *shadow* bundle (`bundle.rs`) when the pipeline changed the
//!   spec. The hooks libcontainer runs (prestart, createRuntime, createContainer) are therefore
//!   started through [`shim`]: our own binary, reached through a descriptor the runtime holds
//!   open (`/proc/self/fd/N`, valid on the host and before `pivot_root`), puts the caller's
//!   bundle and the init's host pid into the state and `exec`s the real hook with it.
//! - **startContainer** hooks are run by our executor (`executor.rs`) in the container, right
//!   before the program, with the full state (the init's host pid comes from a descriptor of the
//!   host's `/proc`).
//! - **Failure semantics.** A failing poststart or poststop hook is logged as a warning and the
//!   remaining hooks and the lifecycle go on (runtime.md lifecycle 9 and 13); libcontainer stops
//!   at the first failure and fails the command. `start` and `delete` run them with [`run_all`].
//! - **Timing.** `start` returns, and runs poststart, only once the program has been executed or
//!   the container has failed to get there ([`ExecReport`]).

use std::collections::HashMap;
use std::ffi::{CString, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use libcontainer::container::{ContainerStatus, State};
use oci_spec::runtime::{Hook, Spec};

/// `argv[1]` of the hook shim (dispatched by `main` before anything else).
pub const SHIM_ARG: &str = "__hook-shim";

/// Run every hook of a kind whose failures must not stop the lifecycle (poststart, poststop):
/// a failing hook is logged as a warning and the next one runs.
pub fn run_all(kind: &str, hooks: Option<&Vec<Hook>>, state: &State) {
    for hook in hooks.into_iter().flatten() {
        let one = vec![hook.clone()];
        if let Err(e) = libcontainer::hooks::run_hooks(Some(&one), Some(state), None, None, None) {
            tracing::warn!(
                "{kind} hook {} failed: {e}; the remaining hooks and the lifecycle continue (runtime.md)",
                hook.path().display()
            );
        }
    }
}

/// The state handed to the hooks `start`/`delete` run for `container` (state root `root`): the
/// caller's bundle, not the shadow one.
pub fn state_for_hooks(root: &Path, container: &libcontainer::container::Container) -> State {
    let mut s = container.state.clone();
    s.bundle = crate::bundle::caller_bundle(root, container.id(), &container.state.bundle);
    s
}

/// A state for hooks of a container that is gone (poststop after a failed create).
pub fn stopped_state(id: &str, bundle: &Path, spec: &Spec) -> State {
    let mut s = State::new(id, ContainerStatus::Stopped, None, bundle.to_path_buf());
    s.annotations = spec.annotations().clone();
    s
}

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
    parse_ppid(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
fn parse_ppid(stat: &str) -> Option<i64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// What the container's init hands `start` about getting to the program: the write end of a
/// close-on-exec pipe. `start` opens the same pipe through `/proc/<init>/fd/<fd>` and reads to
/// end of file, which comes when the init `exec`s the program (close-on-exec) or dies. The
/// executor writes [`EXEC_MARK`] right before `execve`, or its error when it fails (a
/// startContainer hook, the program missing): a fast program that has already exited still
/// counts as executed.
pub struct ExecReport {
    pub read: OwnedFd,
    pub write: OwnedFd,
}

pub const EXEC_FD_FILE: &str = "hardened-exec-fd";

impl ExecReport {
    pub fn new() -> Result<Self> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .context("pipe for the start report")?;
        Ok(Self { read, write })
    }

    /// Record, in the container's state directory, where `start` finds the pipe in the init.
    pub fn record(&self, state_dir: &Path) -> Result<()> {
        std::fs::write(
            state_dir.join(EXEC_FD_FILE),
            self.write.as_raw_fd().to_string(),
        )
        .with_context(|| format!("write {}", state_dir.join(EXEC_FD_FILE).display()))
    }
}

/// The first byte the executor writes, right before `execve`: the init got to the program.
pub const EXEC_MARK: u8 = 1;

/// Write into the start report (executor side): [`EXEC_MARK`], or an error.
pub fn report(fd: RawFd, msg: &[u8]) {
    // SAFETY: fd is the report pipe's write end, owned by the executor's process and kept open
    // until exec; ManuallyDrop keeps it open.
    let f = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    let _ = (&*f).write_all(msg);
}

/// How the init got on after `start` signalled it.
pub enum Outcome {
    /// The program runs (or ran).
    Executed,
    /// The init failed before the program: its message, if it left one.
    Failed(String),
}

/// The open read side of a container's start report (`start`), taken before signalling.
pub struct Watch {
    pipe: std::fs::File,
}

impl Watch {
    /// None when the container was made without a report (an older `hardened`).
    pub fn open(state_dir: &Path, pid: i32) -> Result<Option<Self>> {
        let Ok(text) = std::fs::read_to_string(state_dir.join(EXEC_FD_FILE)) else {
            return Ok(None);
        };
        let fd: i32 = text
            .trim()
            .parse()
            .with_context(|| format!("corrupt {}", state_dir.join(EXEC_FD_FILE).display()))?;
        let pipe = std::fs::File::open(format!("/proc/{pid}/fd/{fd}"))
            .with_context(|| format!("open the start report of the container's init {pid}"))?;
        Ok(Some(Self { pipe }))
    }

    /// Block until the init has executed the program or failed.
    pub fn wait(mut self) -> Outcome {
        let mut said = Vec::new();
        let _ = self.pipe.read_to_end(&mut said);
        // The mark alone, then end of file: the init called execve and nothing failed after.
        // Anything after the mark (or without it) is the executor's error; nothing at all:
        // the init died before the executor.
        let (marked, msg) = match said.split_first() {
            Some((&EXEC_MARK, rest)) => (true, rest),
            _ => (false, said.as_slice()),
        };
        let msg = String::from_utf8_lossy(msg).trim().to_string();
        match (marked, msg.is_empty()) {
            (true, true) => Outcome::Executed,
            (_, false) => Outcome::Failed(msg),
            (false, true) => {
                Outcome::Failed("the container's init exited before running the program".into())
            }
        }
    }
}

/// The host pid of the calling process, through a descriptor of the host's `/proc`.
pub fn host_pid(proc_fd: RawFd) -> Option<i32> {
    nix::fcntl::readlinkat(Some(proc_fd), "self")
        .ok()?
        .to_str()?
        .parse()
        .ok()
}

/// What the executor needs to run the startContainer hooks and report to `start`.
#[derive(Clone)]
pub struct InitStart {
    pub id: String,
    pub bundle: PathBuf,
    pub annotations: Option<HashMap<String, String>>,
    pub hooks: Vec<Hook>,
    /// The host's `/proc` (the init's host pid for the hooks' state).
    pub proc_fd: RawFd,
    /// The write end of the start report.
    pub report_fd: RawFd,
}

impl InitStart {
    /// Run the startContainer hooks (in the container, as the container's process; hooks
    /// without `env` get the process's environment, as runc does).
    pub fn run_start_container_hooks(&self) -> Result<()> {
        if self.hooks.is_empty() {
            return Ok(());
        }
        let mut state = State::new(
            &self.id,
            ContainerStatus::Created,
            host_pid(self.proc_fd),
            self.bundle.clone(),
        );
        state.annotations = self.annotations.clone();
        let env: HashMap<String, String> = std::env::vars().collect();
        libcontainer::hooks::run_hooks(Some(&self.hooks), Some(&state), None, None, Some(&env))
            .context("a startContainer hook failed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{HookBuilder, HooksBuilder, SpecBuilder};

    #[test]
    fn ppid_is_read_past_a_tricky_command_name() {
        assert_eq!(parse_ppid("42 (a) b (c)) S 7 42 42 0"), Some(7));
        assert_eq!(parse_ppid("42 (sh) R 1 42"), Some(1));
        assert_eq!(parse_ppid("garbage"), None);
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
