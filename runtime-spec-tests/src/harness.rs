//! The machinery every case uses: the runtime under test (its command line), the host's facts,
//! bundles built from a static busybox root filesystem, and a per-case context that drives the
//! lifecycle through the runtime's CLI and cleans up whatever the case created.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

/// Set by SIGINT/SIGTERM: finish the current case, clean up, stop.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// A case that cannot run on this host (or against this runtime's CLI) returns `Err(skip(..))`.
#[derive(Debug)]
pub struct Skip(pub String);

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Skip {}

pub fn skip(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Skip(msg.into()))
}

/// `Ok(())` when `cond`, a failure with `msg` otherwise.
pub fn check(cond: bool, msg: impl FnOnce() -> String) -> Result<()> {
    if cond {
        Ok(())
    } else {
        Err(anyhow!(msg()))
    }
}

/// Equality with a message naming what was compared.
pub fn check_eq<T: PartialEq + fmt::Debug>(what: &str, got: T, want: T) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        bail!("{what}: got {got:?}, want {want:?}")
    }
}

/// The value of `Key:` in a /proc/<pid>/status-like text.
pub fn status_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// The last non-empty line of a text, shortened (the final error of a runtime's stderr).
pub fn last_line(s: &str) -> String {
    let t = s.trim();
    let line = t.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    let line = line.trim();
    if line.chars().count() > 300 {
        format!("{}...", line.chars().take(300).collect::<String>())
    } else {
        line.to_string()
    }
}

/// The output of one command.
#[derive(Debug, Clone)]
pub struct CmdOut {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl CmdOut {
    pub fn ok(&self) -> bool {
        self.status.map(|s| s.success()).unwrap_or(false)
    }

    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }

    /// "exit 1: <last line of stderr>" / "timed out".
    pub fn describe(&self) -> String {
        let how = match self.status {
            None => "timed out".to_string(),
            Some(s) => match s.code() {
                Some(c) => format!("exit {c}"),
                None => format!("{s}"),
            },
        };
        let msg = last_line(&self.stderr);
        if msg.is_empty() {
            how
        } else {
            format!("{how}: {msg}")
        }
    }
}

/// Wait for a child for at most `timeout`; kill it (it is ours) when it takes longer.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(Some(st));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Run a command with stdin from /dev/null and stdout/stderr captured in anonymous files (never
/// pipes: a container or hook that inherits them must not block us), for at most `timeout`.
pub fn run_cmd(cmd: &mut Command, timeout: Duration) -> Result<CmdOut> {
    let mut out = tempfile::tempfile()?;
    let mut err = tempfile::tempfile()?;
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(err.try_clone()?);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {:?}", cmd.get_program()))?;
    let status = wait_timeout(&mut child, timeout)?;
    let mut stdout = String::new();
    let mut stderr = String::new();
    out.seek(SeekFrom::Start(0))?;
    err.seek(SeekFrom::Start(0))?;
    let mut buf = Vec::new();
    out.read_to_end(&mut buf)?;
    stdout.push_str(&String::from_utf8_lossy(&buf));
    buf.clear();
    err.read_to_end(&mut buf)?;
    stderr.push_str(&String::from_utf8_lossy(&buf));
    Ok(CmdOut {
        status,
        stdout,
        stderr,
    })
}

// ---------------------------------------------------------------------------------------------
// The runtime under test

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Hardened,
    Runc,
    Crun,
    Other,
}

pub struct Runtime {
    pub path: PathBuf,
    pub kind: Kind,
    /// Global flags before the command (`--runtime-arg`s, hardened's `--policy`).
    pub global: Vec<String>,
    /// State directory, passed as `--root` on every call.
    pub root: PathBuf,
    /// crun 1.8.1 on a hybrid host: run it in a private (slave) mount namespace with the cgroup2
    /// mount at /sys/fs/cgroup/unified unmounted.
    pub crun_hybrid: bool,
    pub timeout: Duration,
}

impl Runtime {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = if self.crun_hybrid {
            let mut c = Command::new("unshare");
            c.args([
                "-m",
                "--propagation",
                "slave",
                "/bin/sh",
                "-c",
                "umount /sys/fs/cgroup/unified 2>/dev/null; exec \"$0\" \"$@\"",
            ]);
            c.arg(&self.path);
            c
        } else {
            Command::new(&self.path)
        };
        c.args(&self.global)
            .arg("--root")
            .arg(&self.root)
            .args(args);
        // Hooks must get their configured env, not the runtime's (hooks/env checks this).
        c.env("RST_RUNTIME_ENV", "1");
        c
    }

    pub fn run(&self, args: &[&str]) -> Result<CmdOut> {
        run_cmd(&mut self.command(args), self.timeout)
    }

    pub fn describe(&self) -> String {
        let mut s = format!("{:?}: {}", self.kind, self.path.display());
        for a in &self.global {
            s.push(' ');
            s.push_str(a);
        }
        if self.crun_hybrid {
            s.push_str(" (in a private mount namespace without /sys/fs/cgroup/unified)");
        }
        s
    }
}

// ---------------------------------------------------------------------------------------------
// The host

pub struct CgroupLayout {
    /// v1 controller (or `name=systemd`) -> mount point.
    pub v1: BTreeMap<String, PathBuf>,
    /// A cgroup2 mount (the whole tree on a v2 host, /sys/fs/cgroup/unified on a hybrid one).
    pub unified: Option<PathBuf>,
}

impl CgroupLayout {
    pub fn detect() -> Result<CgroupLayout> {
        let mut v1 = BTreeMap::new();
        let mut unified = None;
        for m in mountinfo()? {
            if m.fstype == "cgroup" {
                for opt in m.super_opts.split(',') {
                    if matches!(opt, "rw" | "ro") || opt.starts_with("release_agent") {
                        continue;
                    }
                    if opt.contains('=') && !opt.starts_with("name=") {
                        continue;
                    }
                    v1.entry(opt.to_string())
                        .or_insert_with(|| m.mount_point.clone());
                }
            } else if m.fstype == "cgroup2" && unified.is_none() {
                unified = Some(m.mount_point.clone());
            }
        }
        Ok(CgroupLayout { v1, unified })
    }

    pub fn is_v2_only(&self) -> bool {
        self.v1.is_empty() && self.unified.is_some()
    }

    /// The v1 directory of `controller` for a cgroupsPath, when that controller is mounted.
    pub fn v1_dir(&self, controller: &str, cgroups_path: &str) -> Option<PathBuf> {
        self.v1
            .get(controller)
            .map(|m| m.join(cgroups_path.trim_start_matches('/')))
    }

    /// A v1 controller that must be there, or a skip.
    pub fn need_v1(&self, controller: &str) -> Result<PathBuf> {
        if let Some(m) = self.v1.get(controller) {
            return Ok(m.clone());
        }
        if self.is_v2_only() {
            Err(skip(format!(
                "cgroup v2-only host: this case checks the v1 {controller} controller"
            )))
        } else {
            Err(skip(format!(
                "the cgroup v1 {controller} controller is not mounted on this host"
            )))
        }
    }
}

pub struct MountEntry {
    pub mount_point: PathBuf,
    pub fstype: String,
    pub opts: String,
    pub optional: String,
    pub super_opts: String,
    pub root: String,
}

fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let oct = std::str::from_utf8(oct).unwrap_or("077");
                out.push(u8::from_str_radix(oct, 8).unwrap_or(b'?'));
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse mountinfo text (ours or a container's).
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    let mut v = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 6 || r.len() < 3 {
            continue;
        }
        v.push(MountEntry {
            root: unescape_mount(l[3]),
            mount_point: PathBuf::from(unescape_mount(l[4])),
            opts: l[5].to_string(),
            optional: l[6..].join(" "),
            fstype: r[0].to_string(),
            super_opts: r[2].to_string(),
        });
    }
    v
}

pub fn mountinfo() -> Result<Vec<MountEntry>> {
    Ok(parse_mountinfo(&fs::read_to_string(
        "/proc/self/mountinfo",
    )?))
}

/// Unmount (lazily) everything mounted at or below `dir` in our mount namespace, deepest first.
pub fn unmount_below(dir: &Path) {
    for _ in 0..5 {
        let Ok(mut ms) = mountinfo() else { return };
        ms.retain(|m| m.mount_point.starts_with(dir));
        if ms.is_empty() {
            return;
        }
        ms.sort_by_key(|m| std::cmp::Reverse(m.mount_point.as_os_str().len()));
        for m in ms {
            let _ = nix::mount::umount2(&m.mount_point, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// Remove a directory tree without crossing into other filesystems.
pub fn remove_tree(dir: &Path) {
    if dir.exists() {
        unmount_below(dir);
        let _ = Command::new("rm")
            .arg("-rf")
            .arg("--one-file-system")
            .arg(dir)
            .stdin(Stdio::null())
            .status();
    }
}

pub struct Host {
    /// The suite's temporary directory (removed at the end).
    pub base: PathBuf,
    /// A busybox root filesystem copied into every bundle.
    pub template: PathBuf,
    /// Unique per run: container ids and the cgroup parent carry it.
    pub tag: String,
    /// Parent of every container's cgroupsPath: `/<cg_parent>/<id>`.
    pub cg_parent: String,
    pub cgroup: CgroupLayout,
    /// Our own namespaces (`net` -> "net:[4026531840]").
    pub ns: BTreeMap<String, String>,
}

pub const NS_FILES: &[&str] = &["pid", "net", "ipc", "uts", "mnt", "cgroup", "user", "time"];

pub fn our_namespaces() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for n in NS_FILES {
        if let Ok(l) = fs::read_link(format!("/proc/self/ns/{n}")) {
            m.insert(n.to_string(), l.display().to_string());
        }
    }
    m
}

fn is_static_elf(path: &Path) -> Result<bool> {
    let data = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if data.len() < 64 || &data[0..4] != b"\x7fELF" || data[4] != 2 {
        return Ok(false);
    }
    let u16at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
    let u64at = |o: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&data[o..o + 8]);
        u64::from_le_bytes(b) as usize
    };
    let phoff = u64at(32);
    let phentsize = u16at(54);
    let phnum = u16at(56);
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        if o + 4 > data.len() {
            break;
        }
        let ptype = u32::from_le_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]]);
        if ptype == 3 {
            return Ok(false); // PT_INTERP: dynamically linked
        }
    }
    Ok(true)
}

impl Host {
    pub fn new(base: PathBuf) -> Result<Host> {
        let busybox = std::env::var_os("BUSYBOX")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/bin/busybox"));
        if !busybox.exists() || !is_static_elf(&busybox)? {
            bail!(
                "{} is not a static busybox: apt-get install busybox-static (or set BUSYBOX)",
                busybox.display()
            );
        }
        let template = base.join("template-rootfs");
        for d in [
            "bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "run", "root", "home", "var",
            "usr/bin", "usr/sbin", "mnt", "out", "srv",
        ] {
            fs::create_dir_all(template.join(d))?;
        }
        fs::copy(&busybox, template.join("bin/busybox"))?;
        fs::set_permissions(
            template.join("bin/busybox"),
            fs::Permissions::from_mode(0o755),
        )?;
        let list = run_cmd(
            Command::new(template.join("bin/busybox")).arg("--list"),
            Duration::from_secs(10),
        )?;
        for applet in list.stdout.split_whitespace() {
            let p = template.join("bin").join(applet);
            if !p.exists() {
                std::os::unix::fs::symlink("busybox", &p)?;
            }
        }
        fs::write(
            template.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
        )?;
        fs::write(
            template.join("etc/group"),
            "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n",
        )?;
        fs::set_permissions(template.join("tmp"), fs::Permissions::from_mode(0o1777))?;
        let tag = std::process::id().to_string();
        Ok(Host {
            base,
            template,
            cg_parent: format!("rst-{tag}"),
            tag,
            cgroup: CgroupLayout::detect()?,
            ns: our_namespaces(),
        })
    }

    /// Remove the cgroups of this run (the runtimes remove their own on delete; whatever a
    /// failing runtime or case left behind goes here), deepest first.
    pub fn remove_cgroups(&self) {
        let mut roots: Vec<PathBuf> = self.cgroup.v1.values().cloned().collect();
        if let Some(u) = &self.cgroup.unified {
            roots.push(u.clone());
        }
        roots.sort();
        roots.dedup();
        for r in roots {
            let top = r.join(&self.cg_parent);
            if top.exists() {
                remove_cgroup_tree(&top);
            }
        }
    }
}

/// rmdir a cgroup directory tree bottom-up (cgroup dirs cannot be removed with their files).
pub fn remove_cgroup_tree(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    for _ in 0..20 {
        if fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

// ---------------------------------------------------------------------------------------------
// Bundles

pub const DEFAULT_CAPS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

pub struct Bundle {
    pub id: String,
    pub dir: PathBuf,
    pub rootfs: PathBuf,
    /// Host directory bind-mounted at /out in the container (mode 0777).
    pub out: PathBuf,
    pub cfg: Value,
}

impl Bundle {
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    pub fn write(&self) -> Result<()> {
        fs::write(self.config_path(), serde_json::to_vec_pretty(&self.cfg)?)?;
        Ok(())
    }

    pub fn args(&mut self, args: &[&str]) {
        self.cfg["process"]["args"] = json!(args);
    }

    /// `sh -c SCRIPT`.
    pub fn sh(&mut self, script: &str) {
        self.args(&["sh", "-c", script]);
    }

    pub fn stdout(&self) -> String {
        fs::read_to_string(self.dir.join("stdout")).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    pub fn out_file(&self, name: &str) -> PathBuf {
        self.out.join(name)
    }

    pub fn read_out(&self, name: &str) -> Option<String> {
        fs::read_to_string(self.out.join(name)).ok()
    }

    pub fn cgroups_path(&self) -> String {
        self.cfg["linux"]["cgroupsPath"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn ns_remove(&mut self, typ: &str) {
        if let Some(a) = self.cfg["linux"]["namespaces"].as_array_mut() {
            a.retain(|n| n["type"] != typ);
        }
    }

    pub fn ns_set(&mut self, typ: &str, path: Option<&str>) {
        self.ns_remove(typ);
        let mut n = json!({ "type": typ });
        if let Some(p) = path {
            n["path"] = json!(p);
        }
        if let Some(a) = self.cfg["linux"]["namespaces"].as_array_mut() {
            a.push(n);
        }
    }

    pub fn add_mount(&mut self, m: Value) {
        if let Some(a) = self.cfg["mounts"].as_array_mut() {
            a.push(m);
        }
    }

    pub fn hook(&mut self, kind: &str, hook: Value) {
        if !self.cfg["hooks"][kind].is_array() {
            self.cfg["hooks"][kind] = json!([]);
        }
        if let Some(a) = self.cfg["hooks"][kind].as_array_mut() {
            a.push(hook);
        }
    }

    /// A user namespace mapping container 0..65536 to host 100000..165536.
    pub fn userns(&mut self) {
        self.ns_set("user", None);
        self.cfg["linux"]["uidMappings"] =
            json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
        self.cfg["linux"]["gidMappings"] =
            json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    }
}

pub fn base_config(cgroups_path: &str, out: &Path) -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
            "cwd": "/",
            "capabilities": {
                "bounding": DEFAULT_CAPS,
                "effective": DEFAULT_CAPS,
                "permitted": DEFAULT_CAPS
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": "rst",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/out", "type": "bind", "source": out.display().to_string(),
              "options": ["rbind", "rw"] }
        ],
        "linux": {
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }
            ],
            "cgroupsPath": cgroups_path
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Console sockets (terminal, seccomp listener): receive one fd over SCM_RIGHTS

/// A received descriptor and the bytes sent with it.
pub type Received = (std::os::fd::OwnedFd, Vec<u8>);

pub struct FdReceiver {
    handle: Option<std::thread::JoinHandle<Result<Received>>>,
}

impl FdReceiver {
    /// Listen on `path` and accept one connection (in a thread) that sends one descriptor.
    pub fn listen(path: &Path, timeout: Duration) -> Result<FdReceiver> {
        let listener = std::os::unix::net::UnixListener::bind(path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        listener.set_nonblocking(true)?;
        let handle = std::thread::spawn(move || -> Result<(std::os::fd::OwnedFd, Vec<u8>)> {
            let deadline = Instant::now() + timeout;
            let stream = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if Instant::now() >= deadline {
                            bail!("nobody connected to the socket");
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            stream.set_nonblocking(false)?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            recv_fd(&stream)
        });
        Ok(FdReceiver {
            handle: Some(handle),
        })
    }

    /// The received descriptor and the bytes that came with it (and the rest of the stream).
    pub fn take(&mut self) -> Result<(std::os::fd::OwnedFd, Vec<u8>)> {
        match self.handle.take() {
            Some(h) => h.join().map_err(|_| anyhow!("socket thread failed"))?,
            None => bail!("already taken"),
        }
    }
}

fn recv_fd(stream: &std::os::unix::net::UnixStream) -> Result<(std::os::fd::OwnedFd, Vec<u8>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let mut data = Vec::new();
    let mut fd: Option<OwnedFd> = None;
    loop {
        let mut buf = vec![0u8; 65536];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let (n, fds) = {
            let msg = recvmsg::<()>(
                stream.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )
            .map_err(|e| anyhow!("recvmsg: {e}"))?;
            let mut fds = Vec::new();
            if let Ok(cms) = msg.cmsgs() {
                for c in cms {
                    if let ControlMessageOwned::ScmRights(v) = c {
                        fds.extend(v);
                    }
                }
            }
            (msg.bytes, fds)
        };
        for (i, raw) in fds.into_iter().enumerate() {
            // SAFETY: the kernel just gave us this descriptor; nobody else owns it.
            let owned = unsafe { OwnedFd::from_raw_fd(raw) };
            if i == 0 && fd.is_none() {
                fd = Some(owned);
            }
        }
        data.extend_from_slice(&buf[..n]);
        if n == 0 {
            break;
        }
        if fd.is_some() {
            // The state JSON (seccomp listener) may come in more pieces; stop at a full value.
            if data.is_empty()
                || serde_json::from_slice::<Value>(&data).is_ok()
                || !data.starts_with(b"{")
            {
                break;
            }
        }
    }
    match fd {
        Some(f) => Ok((f, data)),
        None => bail!("no descriptor received over the socket"),
    }
}

/// Read what a pty master gives until EOF/EIO or `timeout`.
pub fn read_pty(fd: &std::os::fd::OwnedFd, timeout: Duration, until: Option<&str>) -> String {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::{AsFd, AsRawFd};
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let mut pfd = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        match poll(
            &mut pfd,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(0) => break,
            Ok(_) => {
                let mut buf = [0u8; 4096];
                let n = nix::unistd::read(fd.as_raw_fd(), &mut buf).map_or(-1, |n| n as isize);
                if n <= 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n as usize]);
                if let Some(u) = until {
                    if String::from_utf8_lossy(&out).contains(u) {
                        break;
                    }
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------
// The per-case context

pub struct Ctx<'a> {
    pub rt: &'a Runtime,
    pub host: &'a Host,
    pub dir: PathBuf,
    index: usize,
    n: u32,
    ids: Vec<String>,
    helpers: Vec<Child>,
    cgroups: Vec<PathBuf>,
}

pub const WAIT: Duration = Duration::from_secs(10);

impl<'a> Ctx<'a> {
    pub fn new(rt: &'a Runtime, host: &'a Host, index: usize) -> Result<Ctx<'a>> {
        let dir = host.base.join(format!("case-{index}"));
        fs::create_dir_all(&dir)?;
        Ok(Ctx {
            rt,
            host,
            dir,
            index,
            n: 0,
            ids: Vec::new(),
            helpers: Vec::new(),
            cgroups: Vec::new(),
        })
    }

    /// A fresh container id, deleted (forcibly) when the case ends.
    pub fn new_id(&mut self) -> String {
        self.n += 1;
        let id = format!("rst-{}-{}-{}", self.host.tag, self.index, self.n);
        self.ids.push(id.clone());
        id
    }

    /// A scratch directory in the case's temp dir.
    pub fn scratch(&mut self, name: &str) -> Result<PathBuf> {
        let p = self.dir.join(name);
        fs::create_dir_all(&p)?;
        Ok(p)
    }

    /// A new bundle: busybox rootfs, the base config, /out bound to a host directory.
    pub fn bundle(&mut self) -> Result<Bundle> {
        let id = self.new_id();
        let dir = self.dir.join(format!("bundle-{}", self.n));
        fs::create_dir_all(&dir)?;
        let rootfs = dir.join("rootfs");
        let st = Command::new("cp")
            .arg("-a")
            .arg(&self.host.template)
            .arg(&rootfs)
            .stdin(Stdio::null())
            .status()?;
        if !st.success() {
            bail!("cannot copy the template rootfs");
        }
        let out = dir.join("out");
        fs::create_dir_all(&out)?;
        fs::set_permissions(&out, fs::Permissions::from_mode(0o777))?;
        let cgp = format!("/{}/{}", self.host.cg_parent, id);
        let cfg = base_config(&cgp, &out);
        Ok(Bundle {
            id,
            dir,
            rootfs,
            out,
            cfg,
        })
    }

    pub fn rt(&self, args: &[&str]) -> Result<CmdOut> {
        self.rt.run(args)
    }

    /// `create --bundle DIR [extra] ID` with the container's stdio in DIR/stdout, DIR/stderr.
    pub fn create_raw(&mut self, b: &Bundle, id: &str, extra: &[&str]) -> Result<CmdOut> {
        b.write()?;
        if !self.ids.iter().any(|i| i == id) {
            self.ids.push(id.to_string());
        }
        let bundle = b.dir.display().to_string();
        let mut args = vec!["create", "--bundle", bundle.as_str()];
        args.extend_from_slice(extra);
        args.push(id);
        let mut cmd = self.rt.command(&args);
        self.spawn_create(&mut cmd, b)
    }

    fn spawn_create(&self, cmd: &mut Command, b: &Bundle) -> Result<CmdOut> {
        let out = fs::File::create(b.dir.join("stdout"))?;
        let err = fs::File::create(b.dir.join("stderr"))?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let mut child = cmd.spawn().context("cannot run the runtime")?;
        let status = wait_timeout(&mut child, self.rt.timeout)?;
        Ok(CmdOut {
            status,
            stdout: String::new(),
            stderr: b.stderr(),
        })
    }

    /// create with an extra hook on the runtime process (e.g. its oom_score_adj).
    pub fn create_with_pre_exec(
        &mut self,
        b: &Bundle,
        pre: impl FnMut() -> std::io::Result<()> + Send + Sync + 'static,
    ) -> Result<CmdOut> {
        b.write()?;
        let bundle = b.dir.display().to_string();
        let mut cmd = self
            .rt
            .command(&["create", "--bundle", bundle.as_str(), b.id.as_str()]);
        // SAFETY: the closure only makes async-signal-safe system calls.
        unsafe {
            cmd.pre_exec(pre);
        }
        self.spawn_create(&mut cmd, b)
    }

    pub fn try_create(&mut self, b: &Bundle) -> Result<CmdOut> {
        let id = b.id.clone();
        self.create_raw(b, &id, &[])
    }

    pub fn create(&mut self, b: &Bundle) -> Result<()> {
        let o = self.try_create(b)?;
        if !o.ok() {
            bail!("create failed: {}", o.describe());
        }
        Ok(())
    }

    pub fn try_start(&self, id: &str) -> Result<CmdOut> {
        self.rt(&["start", id])
    }

    pub fn start(&self, id: &str) -> Result<()> {
        let o = self.try_start(id)?;
        if !o.ok() {
            bail!("start failed: {}", o.describe());
        }
        Ok(())
    }

    pub fn try_state(&self, id: &str) -> Result<CmdOut> {
        self.rt(&["state", id])
    }

    pub fn state(&self, id: &str) -> Result<Value> {
        let o = self.try_state(id)?;
        if !o.ok() {
            bail!("state failed: {}", o.describe());
        }
        serde_json::from_str(&o.stdout)
            .with_context(|| format!("state output is not JSON: {:?}", last_line(&o.stdout)))
    }

    pub fn status(&self, id: &str) -> Result<String> {
        Ok(self.state(id)?["status"]
            .as_str()
            .unwrap_or("<no status>")
            .to_string())
    }

    pub fn pid(&self, id: &str) -> Result<i32> {
        let s = self.state(id)?;
        s["pid"]
            .as_i64()
            .map(|p| p as i32)
            .ok_or_else(|| anyhow!("state has no pid: {s}"))
    }

    pub fn wait_status(&self, id: &str, want: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            match self.status(id) {
                Ok(s) if s == want => return Ok(()),
                Ok(s) => last = s,
                Err(e) => last = format!("{e:#}"),
            }
            if Instant::now() >= deadline {
                bail!("status did not become {want:?} in {timeout:?} (last: {last})");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn try_kill(&self, id: &str, sig: &str) -> Result<CmdOut> {
        self.rt(&["kill", id, sig])
    }

    pub fn kill(&self, id: &str, sig: &str) -> Result<()> {
        let o = self.try_kill(id, sig)?;
        if !o.ok() {
            bail!("kill {sig} failed: {}", o.describe());
        }
        Ok(())
    }

    pub fn try_delete(&self, id: &str) -> Result<CmdOut> {
        self.rt(&["delete", id])
    }

    pub fn delete(&self, id: &str) -> Result<()> {
        let o = self.try_delete(id)?;
        if !o.ok() {
            bail!("delete failed: {}", o.describe());
        }
        Ok(())
    }

    pub fn force_delete(&self, id: &str) {
        let _ = self.rt(&["delete", "--force", id]);
    }

    /// create + start.
    pub fn launch(&mut self, b: &Bundle) -> Result<()> {
        self.create(b)?;
        self.start(&b.id)
    }

    /// The whole lifecycle: create, start, wait until stopped, delete; the container's stdout.
    pub fn run(&mut self, b: &Bundle) -> Result<String> {
        self.create(b)?;
        self.start(&b.id)?;
        self.wait_status(&b.id, "stopped", WAIT)
            .with_context(|| format!("container stderr: {}", last_line(&b.stderr())))?;
        self.delete(&b.id)?;
        Ok(b.stdout())
    }

    /// A container running `sh -c SCRIPT` with `edit` applied to its bundle; its stdout.
    pub fn sh(&mut self, script: &str, edit: impl FnOnce(&mut Bundle)) -> Result<String> {
        let mut b = self.bundle()?;
        b.sh(script);
        edit(&mut b);
        self.run(&b)
    }

    /// Like `sh`, with a bundle the case prepared itself.
    pub fn sh_in(&mut self, b: &mut Bundle, script: &str) -> Result<String> {
        b.sh(script);
        self.run(b)
    }

    /// Start a helper process (killed at the end of the case).
    pub fn helper(&mut self, cmd: &mut Command) -> Result<u32> {
        let c = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
        let pid = c.id();
        self.helpers.push(c);
        Ok(pid)
    }

    /// A cgroup directory the case made itself (removed at the end).
    pub fn own_cgroup(&mut self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).with_context(|| format!("mkdir {}", dir.display()))?;
        self.cgroups.push(dir.to_path_buf());
        Ok(())
    }

    pub fn cleanup(&mut self) {
        for id in self.ids.iter().rev() {
            self.force_delete(id);
        }
        for h in self.helpers.iter_mut() {
            let _ = h.kill();
            let _ = h.wait();
        }
        for c in self.cgroups.iter().rev() {
            remove_cgroup_tree(c);
        }
        remove_tree(&self.dir.clone());
    }
}

// ---------------------------------------------------------------------------------------------
// Small host helpers

pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn wait_file(p: &Path, timeout: Duration) -> bool {
    wait_for(timeout, || p.exists())
}

pub fn proc_ns(pid: i32, ns: &str) -> Result<String> {
    Ok(fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .with_context(|| format!("readlink /proc/{pid}/ns/{ns}"))?
        .display()
        .to_string())
}

pub fn proc_status(pid: i32) -> Result<String> {
    fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| format!("/proc/{pid}/status"))
}

pub fn pid_alive(pid: i32) -> bool {
    // A zombie still has /proc/<pid>; look at its state.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit_once(") ")
            .map(|(_, r)| !r.starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// The children of a process (by scanning /proc: CONFIG_PROC_CHILDREN may be off).
pub fn children_of(ppid: u32) -> Vec<i32> {
    let mut v = Vec::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) {
                if let Some((_, rest)) = stat.rsplit_once(") ") {
                    let f: Vec<&str> = rest.split(' ').collect();
                    if f.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(ppid) {
                        v.push(pid);
                    }
                }
            }
        }
    }
    v
}

/// The cgroup path of `pid` in v1 hierarchy `controller` (or the v2 path for "").
pub fn proc_cgroup(pid: i32, controller: &str) -> Result<Option<String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    for l in text.lines() {
        let mut it = l.splitn(3, ':');
        let (_, ctrls, path) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or(""));
        if controller.is_empty() {
            if ctrls.is_empty() {
                return Ok(Some(path.to_string()));
            }
        } else if ctrls.split(',').any(|c| c == controller) {
            return Ok(Some(path.to_string()));
        }
    }
    Ok(None)
}

pub fn write_file(p: &Path, data: &str) -> Result<()> {
    if let Some(d) = p.parent() {
        fs::create_dir_all(d)?;
    }
    let mut f = fs::File::create(p)?;
    f.write_all(data.as_bytes())?;
    Ok(())
}

pub fn write_exec(p: &Path, data: &str) -> Result<()> {
    write_file(p, data)?;
    fs::set_permissions(p, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// A host tmpfs mounted at `dir` (unmounted by the case's cleanup, which unmounts everything
/// below its directory).
pub fn mount_tmpfs(dir: &Path, opts: &str) -> Result<()> {
    fs::create_dir_all(dir)?;
    nix::mount::mount(
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some(opts),
    )
    .with_context(|| format!("mount tmpfs on {}", dir.display()))?;
    Ok(())
}

pub fn make_shared(dir: &Path) -> Result<()> {
    nix::mount::mount(
        None::<&str>,
        dir,
        None::<&str>,
        nix::mount::MsFlags::MS_SHARED,
        None::<&str>,
    )
    .with_context(|| format!("make-shared {}", dir.display()))?;
    Ok(())
}

/// Mask of capability names.
pub fn cap_mask(names: &[&str]) -> u64 {
    names
        .iter()
        .filter_map(|n| cap_bit(n))
        .fold(0, |m, b| m | (1u64 << b))
}

pub fn cap_bit(name: &str) -> Option<u32> {
    const CAPS: &[&str] = &[
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ];
    let n = name.strip_prefix("CAP_").unwrap_or(name);
    CAPS.iter().position(|c| *c == n).map(|p| p as u32)
}

pub fn parse_hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.trim(), 16).ok()
}
