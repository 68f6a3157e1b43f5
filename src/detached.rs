//! Helper processes that outlive the command that starts them (the learn-mode recorder, the
//! syscall hints daemon): started detached, and read for their first line (`ready`, or
//! `error: WHY`).

use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Start `cmd` in a session of its own, in `/`, with stdin and stderr on /dev/null and no
/// inherited descriptor but the pipe on its stdout; return its pid and its first line (empty if
/// it exited without one). `what` names it in errors. It lives on after the caller; whoever
/// inherits it as a parent reaps it (a shim is a subreaper).
pub fn spawn(mut cmd: Command, timeout: Duration, what: &str) -> Result<(i32, String)> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: setsid, chdir and close_range are async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            // Not the caller's directory: it may be a mount point someone unmounts.
            libc::chdir(c"/".as_ptr());
            // The container's stdio (a caller's FIFOs) and anything else the caller inherited
            // stay out, or Docker would wait for their end.
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            Ok(())
        });
    }
    let mut child = cmd.spawn().with_context(|| format!("start the {what}"))?;
    let pid = child.id() as i32;
    let mut out = child
        .stdout
        .take()
        .with_context(|| format!("the {what}'s pipe"))?;
    let deadline = Instant::now() + timeout;
    let mut line = Vec::new();
    let mut buf = [0u8; 256];
    while !line.contains(&b'\n') {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the {what} did not answer within {timeout:?}");
        }
        let mut fds = [nix::poll::PollFd::new(
            out.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        nix::poll::poll(&mut fds, ms).with_context(|| format!("wait for the {what}"))?;
        let n = out
            .read(&mut buf)
            .with_context(|| format!("read the {what}"))?;
        if n == 0 {
            let _ = child.wait();
            break;
        }
        line.extend_from_slice(&buf[..n]);
    }
    std::mem::forget(child);
    let line = String::from_utf8_lossy(&line);
    Ok((pid, line.lines().next().unwrap_or("").to_string()))
}
