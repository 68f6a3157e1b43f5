//! Hints for system calls the seccomp profile refuses: which call, to which program, how often,
//! and what would allow it. They join the capability hints (`crate::hints`) in `hardened
//! explain` and in the audit log's `"decision":"hint"` records at `delete`.
//!
//! How, at no cost to the calls a profile allows:
//!
//! - `create` compiles the container's filter as before, then turns every return of the
//!   profile's refusal (`SECCOMP_RET_ERRNO | errno`) into `SECCOMP_RET_USER_NOTIF`
//!   ([`crate::seccomp::bpf::Filter::notifying`]). Allowed calls never leave the kernel's filter;
//!   only refused ones are reported.
//! - One small process for the whole host answers them: the daemon (`hardened
//!   __syscall-hints`, [`daemon_main`]), started by the first `create` that needs it and gone
//!   after [`IDLE`] without a container. It answers every notification with the same errno the
//!   filter would have returned (it never lets a call through: no
//!   `SECCOMP_USER_NOTIF_FLAG_CONTINUE`), and counts the call for the container.
//! - `create` connects to it ([`connect`]) and says which container and errno the connection
//!   is for; the container's process inherits the connection and, right after loading its
//!   filter, sends the filter's listener on it and closes both ([`send_listener`]). The
//!   listener never reaches the container's program.
//! - The daemon keeps each container's calls in `/run/hardened/hints/syscalls/ID-ROOTHASH.json`;
//!   `delete` turns them into hints and removes the file ([`take`]).
//!
//! What this changes for a container: nothing it can see while the daemon runs (the same
//! errno, a few microseconds later). If the daemon is gone (killed), a refused call returns
//! ENOSYS instead of the profile's errno: still refused. Only profiles whose default action is
//! `SCMP_ACT_ERRNO` and that allow `sendmsg` and `close` unconditionally are hinted: the process
//! sends the listener with them after its filter is loaded, and a refused `sendmsg` would wait
//! for a listener nobody reads yet. `exec`'d processes get the plain filter (no hints).

use std::collections::BTreeMap;
use std::fs;
use std::io::{IoSlice, IoSliceMut, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::socket::{
    self, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType,
    UnixAddr,
};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};
use serde::{Deserialize, Serialize};

use crate::hints::Hint;

/// The hidden command that runs the daemon.
pub const DAEMON_COMMAND: &str = "__syscall-hints";
/// How long the daemon waits without a container before it exits. Any running container keeps
/// it; after the last one, the next `create` starts it again (a few milliseconds, once).
pub const IDLE: Duration = Duration::from_secs(2);
/// How long `create` waits for a daemon it started to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(3);
/// Most processes named per call.
const MAX_PROCESSES: usize = 8;

fn dir() -> PathBuf {
    Path::new(crate::hints::DIR).to_path_buf()
}

fn socket_path() -> PathBuf {
    dir().join("syscalls.sock")
}

fn store_dir() -> PathBuf {
    dir().join("syscalls")
}

/// The record of a container: `ID-ROOTHASH.json` (ids are checked names; the root is hashed).
fn record_path(root: &Path, id: &str) -> PathBuf {
    store_dir().join(format!(
        "{id}-{:016x}.json",
        fnv1a(root.as_os_str().as_encoded_bytes())
    ))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// What `create` sends first on its connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Hello {
    id: String,
    root: PathBuf,
    errno: u32,
    audit_log: PathBuf,
}

/// A container's refused calls, as the daemon keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// The state root of the container (a record whose container's ledger is gone is stale).
    #[serde(default)]
    pub root: PathBuf,
    pub audit_log: PathBuf,
    /// Call name -> what was seen.
    pub syscalls: BTreeMap<String, Seen>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub count: u64,
    /// The programs (`comm`) it was refused to.
    pub processes: Vec<String>,
}

impl Record {
    fn add(&mut self, name: &str, comm: &str) {
        let s = self.syscalls.entry(name.to_string()).or_default();
        s.count += 1;
        if !s.processes.iter().any(|p| p == comm) && s.processes.len() < MAX_PROCESSES {
            s.processes.push(comm.to_string());
        }
    }
}

/// The errno a profile's refusals return, when they can be hinted (see the module
/// documentation): default action `SCMP_ACT_ERRNO`, `sendmsg` and `close` allowed by a rule
/// without conditions.
pub fn refusal_errno(p: &LinuxSeccomp) -> Option<u32> {
    if p.default_action() != LinuxSeccompAction::ScmpActErrno {
        return None;
    }
    let allowed = |name: &str| {
        p.syscalls().iter().flatten().any(|r| {
            r.action() == LinuxSeccompAction::ScmpActAllow
                && r.args().as_ref().is_none_or(|a| a.is_empty())
                && r.names().iter().any(|n| n == name)
        })
    };
    if !(allowed("sendmsg") && allowed("close")) {
        return None;
    }
    Some(p.default_errno_ret().unwrap_or(crate::seccomp::EPERM))
}

/// `create`'s side: a connection to the daemon (started when none listens), with the
/// container named on it. Close-on-exec: the container's process keeps it until its `execve`,
/// hooks never get it.
pub fn connect(root: &Path, id: &str, errno: u32, audit_log: &Path) -> Result<OwnedFd> {
    // Under the lock, shared: the daemon quits only under it, exclusive, so it never leaves
    // between our connect and its accept.
    let conn = match with_lock(nix::fcntl::FlockArg::LockShared, try_connect) {
        Ok(c) => c,
        Err(_) => with_lock(nix::fcntl::FlockArg::LockExclusive, || {
            // Two `create`s start one daemon: the second finds the first one's.
            try_connect().or_else(|_| {
                spawn_daemon()?;
                try_connect()
            })
        })?,
    };
    let hello = Hello {
        id: id.to_string(),
        root: root.to_path_buf(),
        errno,
        audit_log: audit_log.to_path_buf(),
    };
    let bytes = serde_json::to_vec(&hello)?;
    socket::send(conn.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL)
        .context("syscall hints: talk to the daemon")?;
    Ok(conn)
}

fn try_connect() -> Result<OwnedFd> {
    let s = socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("syscall hints: make a socket")?;
    let addr = UnixAddr::new(&socket_path())?;
    socket::connect(s.as_raw_fd(), &addr).context("syscall hints: reach the daemon")?;
    Ok(s)
}

/// `f` under the daemon's lock (`/run/hardened/hints/syscalls.lock`).
fn with_lock<T>(how: nix::fcntl::FlockArg, f: impl FnOnce() -> Result<T>) -> Result<T> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir())
        .with_context(|| format!("create {}", dir().display()))?;
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir().join("syscalls.lock"))
        .context("syscall hints: open the lock")?;
    let _lock = nix::fcntl::Flock::lock(lock, how)
        .map_err(|(_, e)| e)
        .context("syscall hints: take the lock")?;
    f()
}

/// Run `hardened __syscall-hints`, detached (its own session, no stdio but the pipe it
/// answers `ready` on, no inherited descriptors, environment or working directory), and wait
/// for its word.
fn spawn_daemon() -> Result<()> {
    // Our own binary, whatever it is called (the runtime runs from a sealed copy,
    // src/sealed.rs, which has no path).
    let mut cmd = std::process::Command::new("/proc/self/exe");
    // Nothing of the caller that started it: a host-wide process serves every container.
    std::os::unix::process::CommandExt::arg0(&mut cmd, "hardened")
        .arg(DAEMON_COMMAND)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        );
    let (_, line) = crate::detached::spawn(cmd, READY_TIMEOUT, "syscall hints daemon")?;
    match line.as_str() {
        "ready" => Ok(()),
        "" => bail!("syscall hints: the daemon exited without a word"),
        other => bail!(
            "syscall hints: the daemon: {}",
            other.strip_prefix("error: ").unwrap_or(other)
        ),
    }
}

/// In the container's process, right after its filter was loaded: hand the listener to the
/// daemon, then close both (the program must never hold its own listener).
pub fn send_listener(sock: RawFd, listener: OwnedFd) -> nix::Result<()> {
    let fds = [listener.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(b"L")];
    let sent = socket::sendmsg::<()>(sock, &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None);
    drop(listener);
    // SAFETY: `sock` is the connection `create` made for this process; nothing uses it after.
    drop(unsafe { OwnedFd::from_raw_fd(sock) });
    sent.map(drop)
}

/// A container's record, if the daemon wrote one.
pub fn read(root: &Path, id: &str) -> Option<Record> {
    let bytes = fs::read(record_path(root, id)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `delete`: the container's record, removed.
pub fn take(root: &Path, id: &str) -> Option<Record> {
    let r = read(root, id);
    let _ = fs::remove_file(record_path(root, id));
    r
}

/// The hints of a record, in the words of `crate::hints`.
pub fn hints(r: &Record) -> Vec<Hint> {
    r.syscalls
        .iter()
        .map(|(name, s)| {
            let baseline = crate::seccomp::BASELINE_DENIED.contains(&name.as_str());
            Hint {
                kind: "syscall".into(),
                denied: name.clone(),
                processes: s.processes.clone(),
                count: s.count,
                what: format!(
                    "the system call {name} was refused {} time(s) to {}: {}",
                    s.count,
                    s.processes.join(", "),
                    if baseline {
                        "the baseline refuses it in every container, whatever the profile"
                    } else {
                        "the container's seccomp profile does not allow it"
                    }
                ),
                allow: if baseline {
                    "no policy key: the baseline denies it to every container (see docs/policy.md); the program must do without it".into()
                } else {
                    format!("a seccomp profile that allows {name}: seccomp_profile = \"FILE\" in the policy or the container's profile (mode = \"learn\" writes one)")
                },
            }
        })
        .collect()
}

/// One container's listener, as the daemon holds it.
struct Listening {
    fd: OwnedFd,
    hello: Hello,
}

/// The daemon (`hardened __syscall-hints`): answers `ready` or `error: WHY` on stdout, then
/// serves until [`IDLE`] passes without a container.
pub fn daemon_main() -> Result<i32> {
    let mut out = std::io::stdout();
    let listen = match bind() {
        Ok(l) => l,
        Err(e) => {
            let _ = writeln!(out, "error: {e:#}");
            return Ok(1);
        }
    };
    prune_stale_records();
    let _ = writeln!(out, "ready");
    let _ = out.flush();
    // Nothing more goes to the caller's pipe.
    if let Ok(null) = fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2(null.as_raw_fd(), 1);
    }
    serve(listen);
    Ok(0)
}

fn bind() -> Result<OwnedFd> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(store_dir())
        .with_context(|| format!("create {}", store_dir().display()))?;
    let s = socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    let path = socket_path();
    // The spawner holds the lock and could not connect: a file left here is stale.
    let _ = fs::remove_file(&path);
    socket::bind(s.as_raw_fd(), &UnixAddr::new(&path)?)
        .with_context(|| format!("bind {}", path.display()))?;
    socket::listen(&s, socket::Backlog::new(64)?)?;
    Ok(s)
}

fn serve(listen: OwnedFd) {
    // Connections waiting for their hello or their listener.
    let mut conns: Vec<(OwnedFd, Option<Hello>)> = Vec::new();
    let mut listeners: Vec<Listening> = Vec::new();
    let mut records: BTreeMap<PathBuf, Record> = BTreeMap::new();
    let mut idle_since = Instant::now();
    loop {
        let mut fds: Vec<nix::poll::PollFd> = Vec::new();
        fds.push(nix::poll::PollFd::new(
            listen.as_fd(),
            nix::poll::PollFlags::POLLIN,
        ));
        for (c, _) in &conns {
            fds.push(nix::poll::PollFd::new(
                c.as_fd(),
                nix::poll::PollFlags::POLLIN,
            ));
        }
        for l in &listeners {
            fds.push(nix::poll::PollFd::new(
                l.fd.as_fd(),
                nix::poll::PollFlags::POLLIN,
            ));
        }
        match nix::poll::poll(&mut fds, 500u16) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return,
        }
        let revents: Vec<nix::poll::PollFlags> = fds
            .iter()
            .map(|f| f.revents().unwrap_or(nix::poll::PollFlags::empty()))
            .collect();
        drop(fds);
        let ready = |r: nix::poll::PollFlags| !r.is_empty();
        let (conn_rev, listener_rev) = revents[1..].split_at(conns.len());
        // Listeners first: a call waits on each.
        let mut gone = Vec::new();
        for (i, r) in listener_rev.iter().enumerate() {
            if r.contains(nix::poll::PollFlags::POLLIN) {
                answer(&listeners[i], &mut records);
            } else if ready(*r) {
                gone.push(i);
            }
        }
        for i in gone.into_iter().rev() {
            // Every process of the container is gone; its file stays for `delete`.
            let l = listeners.swap_remove(i);
            records.remove(&record_path(&l.hello.root, &l.hello.id));
        }
        let mut done = Vec::new();
        for (i, r) in conn_rev.iter().enumerate() {
            if !ready(*r) {
                continue;
            }
            match receive(&conns[i].0) {
                Received::Hello(h) => conns[i].1 = Some(h),
                Received::Listener(fd) => {
                    if let Some(hello) = conns[i].1.clone() {
                        listeners.push(Listening { fd, hello });
                    }
                    done.push(i);
                }
                Received::Nothing => {}
                Received::End => done.push(i),
            }
        }
        for i in done.into_iter().rev() {
            conns.swap_remove(i);
        }
        if ready(revents[0]) {
            while let Ok(fd) = socket::accept4(
                listen.as_raw_fd(),
                SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            ) {
                // SAFETY: accept4 returned a new descriptor that nothing else owns.
                conns.push((unsafe { OwnedFd::from_raw_fd(fd) }, None));
            }
        }
        if !conns.is_empty() || !listeners.is_empty() {
            idle_since = Instant::now();
        } else if idle_since.elapsed() >= IDLE && quit(&listen) {
            return;
        }
    }
}

/// Idle: under the lock, exclusive (no `create` is between its connect and our accept, or
/// starting another daemon), and with no connection waiting, remove the socket and stop.
fn quit(listen: &OwnedFd) -> bool {
    let Ok(lock) = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir().join("syscalls.lock"))
    else {
        return false;
    };
    let Ok(_lock) = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock)
    else {
        return false;
    };
    let mut pending = [nix::poll::PollFd::new(
        listen.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    if nix::poll::poll(&mut pending, 0u16).unwrap_or(0) > 0 {
        return false;
    }
    let _ = fs::remove_file(socket_path());
    true
}

enum Received {
    Hello(Hello),
    Listener(OwnedFd),
    Nothing,
    End,
}

fn receive(conn: &OwnedFd) -> Received {
    let mut buf = [0u8; 4096];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = match socket::recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    ) {
        Ok(m) => m,
        Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => return Received::Nothing,
        Err(_) => return Received::End,
    };
    let mut fd = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for f in fds {
                    // SAFETY: the kernel installed these descriptors for us.
                    let owned = unsafe { OwnedFd::from_raw_fd(f) };
                    if fd.is_none() {
                        fd = Some(owned);
                    }
                }
            }
        }
    }
    let n = msg.bytes;
    if let Some(fd) = fd {
        return Received::Listener(fd);
    }
    if n == 0 {
        return Received::End;
    }
    match serde_json::from_slice::<Hello>(&buf[..n]) {
        Ok(h) if valid_id(&h.id) => Received::Hello(h),
        _ => Received::End,
    }
}

/// A container id fit for a file name (runc's rule: letters, digits, `_+-.`, not `.`/`..`).
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c))
}

/// Take one notification and answer it with the profile's errno; count it.
fn answer(l: &Listening, records: &mut BTreeMap<PathBuf, Record>) {
    // SAFETY: seccomp_notif and seccomp_notif_resp are plain C structs; zeroed is what
    // SECCOMP_IOCTL_NOTIF_RECV requires.
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: a valid listener descriptor and a zeroed seccomp_notif of the kernel's size.
    let r = unsafe {
        libc::ioctl(
            l.fd.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV as _,
            &mut req as *mut libc::seccomp_notif,
        )
    };
    if r != 0 {
        // The caller died or was interrupted: nothing to answer.
        return;
    }
    // Counted before the answer: once answered, the program may exit and `delete` read.
    let name = syscall_name(req.data.arch, req.data.nr);
    let comm = fs::read_to_string(format!("/proc/{}/comm", req.pid))
        .map(|c| c.trim_end().to_string())
        .unwrap_or_else(|_| "?".into());
    let path = record_path(&l.hello.root, &l.hello.id);
    let rec = records.entry(path.clone()).or_insert_with(|| Record {
        id: l.hello.id.clone(),
        root: l.hello.root.clone(),
        audit_log: l.hello.audit_log.clone(),
        ..Record::default()
    });
    rec.add(&name, &comm);
    let _ = write_record(&path, rec);
    let errno = i32::try_from(l.hello.errno).unwrap_or(libc::EPERM);
    let mut resp = libc::seccomp_notif_resp {
        id: req.id,
        val: 0,
        error: -errno,
        flags: 0,
    };
    // SAFETY: a valid listener descriptor and a filled seccomp_notif_resp.
    unsafe {
        libc::ioctl(
            l.fd.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND as _,
            &mut resp as *mut libc::seccomp_notif_resp,
        );
    }
}

/// Records whose container's ledger is gone (`delete` removes it last, after reading the
/// record; gone without the record read: a state root removed by hand) are removed when a
/// daemon starts.
fn prune_stale_records() {
    for e in fs::read_dir(store_dir()).into_iter().flatten().flatten() {
        let stale = match fs::read(e.path())
            .ok()
            .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
        {
            Some(r) => {
                r.root.as_os_str().is_empty() || !crate::ledger::path(&r.root, &r.id).exists()
            }
            None => true,
        };
        if stale {
            let _ = fs::remove_file(e.path());
        }
    }
}

fn write_record(path: &Path, r: &Record) -> Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, serde_json::to_vec(r)?)?;
    fs::rename(&tmp, path)?;
    Ok(())
}

/// The call's name on its architecture (`AUDIT_ARCH_*`, which libseccomp's arch tokens are).
pub fn syscall_name(arch: u32, nr: i32) -> String {
    use libseccomp::{ScmpArch, ScmpSyscall};
    let arch_name = match arch {
        0xc000_003e => Some(ScmpArch::X8664),
        0x4000_0003 => Some(ScmpArch::X86),
        0xc000_00b7 => Some(ScmpArch::Aarch64),
        0x4000_0028 => Some(ScmpArch::Arm),
        _ => None,
    };
    arch_name
        .and_then(|a| ScmpSyscall::from(nr).get_name_by_arch(a).ok())
        .unwrap_or_else(|| format!("syscall {nr} (arch {arch:#x})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errno_profiles_that_allow_sendmsg_and_close_are_hinted() {
        let p = crate::seccomp::default_profile();
        assert_eq!(refusal_errno(&p), Some(crate::seccomp::EPERM));
        let mut strict = p.clone();
        let rules: Vec<_> = strict
            .syscalls()
            .iter()
            .flatten()
            .cloned()
            .map(|mut r| {
                let names: Vec<String> = r
                    .names()
                    .iter()
                    .filter(|n| *n != "sendmsg")
                    .cloned()
                    .collect();
                r.set_names(names);
                r
            })
            .collect();
        strict.set_syscalls(Some(rules));
        assert_eq!(refusal_errno(&strict), None, "sendmsg refused");
        let mut kill = p.clone();
        kill.set_default_action(LinuxSeccompAction::ScmpActKillProcess);
        assert_eq!(refusal_errno(&kill), None, "not an errno default");
        let mut enosys = p;
        enosys.set_default_errno_ret(Some(38));
        assert_eq!(refusal_errno(&enosys), Some(38));
    }

    #[test]
    fn the_notifying_filter_turns_only_the_refusal_into_a_notification() {
        let root = tempfile::tempdir().expect("tempdir");
        let p = crate::seccomp::default_profile();
        let f = crate::seccomp::bpf::cached(root.path(), &p).expect("compile");
        let refused = libc::SECCOMP_RET_ERRNO | crate::seccomp::EPERM;
        let enosys = libc::SECCOMP_RET_ERRNO | crate::seccomp::ENOSYS;
        let rets = |f: &crate::seccomp::bpf::Filter, k: u32| {
            f.instructions()
                .iter()
                .filter(|i| i.code == (libc::BPF_RET | libc::BPF_K) as u16 && i.k == k)
                .count()
        };
        assert!(rets(&f, refused) > 0);
        let n = f.notifying(crate::seccomp::EPERM).expect("notifying");
        assert_eq!(rets(&n, refused), 0);
        assert_eq!(rets(&n, libc::SECCOMP_RET_USER_NOTIF), rets(&f, refused));
        assert_eq!(rets(&n, enosys), rets(&f, enosys), "clone3's ENOSYS stays");
        assert_eq!(n.instructions().len(), f.instructions().len());
        assert_ne!(n.flags() & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER, 0);
        assert!(f.notifying(12345).is_none(), "an errno it never returns");
    }

    #[test]
    fn records_count_calls_and_name_programs() {
        let mut r = Record::default();
        for _ in 0..3 {
            r.add("syslog", "dmesg");
        }
        r.add("syslog", "sh");
        r.add("uname", "uname");
        let hs = hints(&r);
        assert_eq!(hs.len(), 2);
        let syslog = hs.iter().find(|h| h.denied == "syslog").expect("syslog");
        assert_eq!(syslog.count, 4);
        assert_eq!(syslog.processes, vec!["dmesg", "sh"]);
        assert!(syslog.allow.contains("baseline"), "{}", syslog.allow);
        let uname = hs.iter().find(|h| h.denied == "uname").expect("uname");
        assert!(uname.allow.contains("seccomp_profile"), "{}", uname.allow);
    }

    #[test]
    fn calls_are_named_per_architecture() {
        assert_eq!(syscall_name(0xc000_003e, 103), "syslog");
        assert_eq!(syscall_name(0x4000_0003, 103), "syslog");
        assert!(syscall_name(0x1234, 1).contains("arch 0x1234"));
    }

    #[test]
    fn record_files_are_named_by_id_and_root() {
        let a = record_path(Path::new("/run/a"), "c1");
        let b = record_path(Path::new("/run/b"), "c1");
        assert_ne!(a, b);
        assert!(a
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("c1-")));
    }
}
