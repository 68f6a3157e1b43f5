//! Gap: libcontainer 0.7's `start` returns as soon as the init is signalled and runs poststart
//! right away, before the program (and its startContainer hooks) ran; a failed startContainer
//! hook goes unreported and the container stays "running".
//!
//! - **Restores**: runtime.md Lifecycle 7-9: poststart hooks run after the user-specified
//!   process is executed; a failure in between destroys the container (runs poststop).
//! - **Proved by**: conformance cases `hooks/poststart-after-program-executed`,
//!   `hooks/start-container-failure-destroys`, `hooks/start-container-failure-runs-poststop`
//!   (runtime-spec-tests/src/cases/hooks.rs).
//! - **Goes when**: libcontainer's `start` waits for the init's `execve` (or its failure)
//!   before poststart.
//!
//! The exec-report protocol: the executor writes [`EXEC_MARK`] into a close-on-exec pipe right
//! before `execve`, or its error; `start` opens that pipe through `/proc/<init>/fd/<n>` *before*
//! signalling and reads to end of file ([`Watch`]).

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use anyhow::{Context, Result};

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
