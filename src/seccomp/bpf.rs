//! Seccomp profiles compiled to BPF once, in the parent, and loaded in the container with the
//! seccomp(2) system call.
//!
//! - [`validate`]: what the runtime-spec requires a runtime to refuse (`errnoRet` or
//!   `defaultErrnoRet` with an action that takes no errno, SCMP_ACT_NOTIFY as default action).
//! - [`compile`]: an OCI [`LinuxSeccomp`] to a BPF program with libseccomp, as runc and crun read
//!   the profile (SCMP_CMP_MASKED_EQ: `value` is the mask, `valueTwo` the datum, as in
//!   seccomp_rule_add(3)); names libseccomp does not know are skipped with a warning, rules whose
//!   action equals the default action are skipped (libseccomp refuses them).
//! - [`cached`]: [`compile`] through a cache under the state root, `<root>/.seccomp/<key>.bpf`.
//!   The key hashes the canonical profile (its JSON), libseccomp's version, ours and the
//!   compiler's revision. A cache file also holds the canonical profile itself and a checksum:
//!   it is used only when its profile is byte for byte the one asked for and the checksum and
//!   lengths hold, otherwise the profile is compiled again and the file replaced (written to a
//!   temporary file, mode 0600, then renamed). The directory is created 0700; a directory not
//!   owned by us or writable by others is not used at all.
//! - [`Filter::load`]: SECCOMP_SET_MODE_FILTER with the profile's flags; no libseccomp call in
//!   the container.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

/// Bump when [`compile`] changes what it produces for the same profile: old cache files then
/// stop matching.
const COMPILER_REVISION: u32 = 1;
const CACHE_DIR: &str = ".seccomp";
const MAGIC: &[u8; 8] = b"HSBPF01\n";
/// magic, flags (u32), profile length (u32), program length (u32), reserved (u32), checksum.
const HEADER: usize = 8 + 4 * 4 + 8;
/// The kernel's limit on a seccomp program (BPF_MAXINSNS).
const MAX_INSNS: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum BpfError {
    #[error("invalid seccomp profile: {0}")]
    Invalid(String),
    #[error("compile the seccomp profile: {0}")]
    Compile(String),
}

/// A compiled filter and the flags to load it with.
#[derive(Clone)]
pub struct Filter {
    insns: Vec<libc::sock_filter>,
    flags: libc::c_ulong,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Filter({} instructions, flags {:#x})",
            self.insns.len(),
            self.flags
        )
    }
}

impl Filter {
    fn from_bytes(code: &[u8], flags: libc::c_ulong) -> Result<Self, BpfError> {
        if code.is_empty() || code.len() % 8 != 0 || code.len() / 8 > MAX_INSNS {
            return Err(BpfError::Compile(format!(
                "libseccomp produced a program of {} bytes",
                code.len()
            )));
        }
        let insns = code
            .chunks_exact(8)
            .map(|c| libc::sock_filter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Ok(Filter { insns, flags })
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.insns.len() * 8);
        for i in &self.insns {
            out.extend_from_slice(&i.code.to_ne_bytes());
            out.push(i.jt);
            out.push(i.jf);
            out.extend_from_slice(&i.k.to_ne_bytes());
        }
        out
    }

    /// The program's instructions.
    pub fn instructions(&self) -> &[libc::sock_filter] {
        &self.insns
    }

    /// SECCOMP_FILTER_FLAG_* to load the program with.
    pub fn flags(&self) -> libc::c_ulong {
        self.flags
    }

    /// Install the filter on the calling thread. Needs `no_new_privs` or `CAP_SYS_ADMIN` in the
    /// thread's user namespace.
    pub fn load(&self) -> nix::Result<()> {
        let prog = libc::sock_fprog {
            len: self.insns.len() as libc::c_ushort,
            filter: self.insns.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points to `len` valid instructions that outlive the call; the kernel
        // copies the program.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                self.flags,
                &prog as *const libc::sock_fprog,
            )
        };
        nix::errno::Errno::result(ret).map(drop)
    }
}

fn action_name(a: LinuxSeccompAction) -> String {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{a:?}"))
}

fn takes_errno(a: LinuxSeccompAction) -> bool {
    matches!(
        a,
        LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
    )
}

/// Refuse what config-linux.md says a runtime MUST refuse: an errno where the action takes none.
pub fn validate(p: &LinuxSeccomp) -> Result<(), BpfError> {
    if p.default_errno_ret().is_some() && !takes_errno(p.default_action()) {
        return Err(BpfError::Invalid(format!(
            "linux.seccomp.defaultErrnoRet is set but defaultAction {} takes no errno: remove defaultErrnoRet or use SCMP_ACT_ERRNO or SCMP_ACT_TRACE",
            action_name(p.default_action())
        )));
    }
    if p.default_action() == LinuxSeccompAction::ScmpActNotify {
        return Err(BpfError::Invalid(
            "linux.seccomp.defaultAction SCMP_ACT_NOTIFY is not supported: use it in syscalls rules only".into(),
        ));
    }
    for (i, r) in p.syscalls().iter().flatten().enumerate() {
        if r.errno_ret().is_some() && !takes_errno(r.action()) {
            return Err(BpfError::Invalid(format!(
                "linux.seccomp.syscalls[{i}] ({}): errnoRet is set but action {} takes no errno: remove errnoRet or use SCMP_ACT_ERRNO or SCMP_ACT_TRACE",
                r.names().join(", "),
                action_name(r.action())
            )));
        }
    }
    Ok(())
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction, BpfError> {
    let errno = errno.unwrap_or(libc::EPERM as u32);
    Ok(match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(
            i32::try_from(errno)
                .map_err(|_| BpfError::Invalid(format!("errno {errno} out of range")))?,
        ),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(
            u16::try_from(errno)
                .map_err(|_| BpfError::Invalid(format!("errno {errno} out of range")))?,
        ),
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
    })
}

fn arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// Comparison of one argument. SCMP_CMP_MASKED_EQ: `(arg & value) == valueTwo`, as runc, crun
/// and seccomp_rule_add(3) read it.
fn compare(a: &oci_spec::runtime::LinuxSeccompArg) -> ScmpArgCompare {
    let index = a.index() as u32;
    let (op, datum) = match a.op() {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, a.value()),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, a.value()),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, a.value()),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, a.value()),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, a.value()),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, a.value()),
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            ScmpCompareOp::MaskedEqual(a.value()),
            a.value_two().unwrap_or(0),
        ),
    };
    ScmpArgCompare::new(index, op, datum)
}

/// The SECCOMP_FILTER_FLAG_* of the profile's `flags`.
pub fn filter_flags(p: &LinuxSeccomp) -> libc::c_ulong {
    let mut flags = 0;
    for f in p.flags().iter().flatten() {
        flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            // Only meaningful with a notification listener (SCMP_ACT_NOTIFY profiles, which
            // libcontainer loads itself).
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        };
    }
    flags
}

/// Compile `p` to BPF (see the module documentation). `p` must pass [`validate`].
pub fn compile(p: &LinuxSeccomp) -> Result<Filter, BpfError> {
    validate(p)?;
    let err =
        |what: &str, e: libseccomp::error::SeccompError| BpfError::Compile(format!("{what}: {e}"));
    let default = action(p.default_action(), p.default_errno_ret())?;
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| err("new filter", e))?;
    for &a in p.architectures().iter().flatten() {
        ctx.add_arch(arch(a))
            .map_err(|e| err(&format!("add architecture {a:?}"), e))?;
    }
    for r in p.syscalls().iter().flatten() {
        let act = action(r.action(), r.errno_ret())?;
        if act == default {
            tracing::warn!(
                "seccomp rule for {} has the default action: skipped",
                r.names().join(", ")
            );
            continue;
        }
        let cmps: Vec<ScmpArgCompare> = r.args().iter().flatten().map(compare).collect();
        // Several comparisons of the same argument cannot be one rule (seccomp_rule_add(3)):
        // as runc does, each becomes a rule of its own.
        let mut indexes: Vec<usize> = r.args().iter().flatten().map(|a| a.index()).collect();
        indexes.sort_unstable();
        indexes.dedup();
        let separate = indexes.len() != cmps.len();
        for name in r.names() {
            let Ok(sc) = ScmpSyscall::from_name(name) else {
                tracing::warn!("seccomp: unknown system call {name:?} skipped");
                continue;
            };
            let added = if cmps.is_empty() {
                ctx.add_rule(act, sc).map(drop)
            } else if separate {
                cmps.iter().try_for_each(|c| {
                    ctx.add_rule_conditional(act, sc, std::slice::from_ref(c))
                        .map(drop)
                })
            } else {
                ctx.add_rule_conditional(act, sc, &cmps).map(drop)
            };
            added.map_err(|e| err(&format!("add the rule for {name}"), e))?;
        }
    }
    let memfd = memfd()?;
    ctx.export_bpf(&memfd).map_err(|e| err("export", e))?;
    let mut file = fs::File::from(memfd);
    let mut code = Vec::new();
    std::io::Seek::rewind(&mut file)
        .and_then(|_| file.read_to_end(&mut code))
        .map_err(|e| BpfError::Compile(format!("read the exported program: {e}")))?;
    Filter::from_bytes(&code, filter_flags(p))
}

fn memfd() -> Result<OwnedFd, BpfError> {
    nix::sys::memfd::memfd_create(
        c"hardened-seccomp",
        nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
    )
    .map_err(|e| BpfError::Compile(format!("memfd_create: {e}")))
}

/// 64-bit FNV-1a: the cache key and the checksum of a cache file (the file also holds the
/// profile itself, compared byte for byte, so a collision only costs a recompilation).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // Separate the parts: ("ab", "c") and ("a", "bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// What besides the profile decides the program: libseccomp's version, ours, the compiler's.
fn build_identity() -> String {
    let v = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_else(|_| "unknown".into());
    format!(
        "libseccomp {v}; hardened {} {}; compiler {COMPILER_REVISION}",
        env!("CARGO_PKG_VERSION"),
        env!("HARDENED_COMMIT")
    )
}

fn canonical(p: &LinuxSeccomp) -> Result<Vec<u8>, BpfError> {
    serde_json::to_vec(p).map_err(|e| BpfError::Compile(format!("serialise the profile: {e}")))
}

/// The cache file name of a canonical profile.
fn cache_key(canonical: &[u8], identity: &str) -> String {
    format!("{:016x}", fnv1a(&[canonical, identity.as_bytes()]))
}

/// The cache directory under `root`, created 0700 when missing; None (no caching) when it is
/// not a directory of ours that only we can write.
fn cache_dir(root: &Path) -> Option<PathBuf> {
    let dir = root.join(CACHE_DIR);
    if let Err(e) = fs::DirBuilder::new().mode(0o700).create(&dir) {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            tracing::debug!("seccomp cache {}: {e}", dir.display());
            return None;
        }
    }
    let meta = fs::symlink_metadata(&dir).ok()?;
    let euid = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != euid || meta.permissions().mode() & 0o022 != 0 {
        tracing::warn!(
            "seccomp cache {} is not a directory owned by uid {euid} and writable only by it: not used",
            dir.display()
        );
        return None;
    }
    Some(dir)
}

fn encode(canonical: &[u8], filter: &Filter) -> Vec<u8> {
    let code = filter.to_bytes();
    let mut head = Vec::with_capacity(HEADER);
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&(filter.flags as u32).to_le_bytes());
    head.extend_from_slice(&(canonical.len() as u32).to_le_bytes());
    head.extend_from_slice(&(code.len() as u32).to_le_bytes());
    head.extend_from_slice(&0u32.to_le_bytes());
    let sum = fnv1a(&[&head, canonical, &code]);
    let mut out = head;
    out.extend_from_slice(&sum.to_le_bytes());
    out.extend_from_slice(canonical);
    out.extend_from_slice(&code);
    out
}

/// The filter in a cache file, if the file is whole and holds exactly `canonical`.
fn decode(data: &[u8], canonical: &[u8]) -> Option<Filter> {
    let u32_at = |o: usize| -> Option<u32> {
        Some(u32::from_le_bytes(data.get(o..o + 4)?.try_into().ok()?))
    };
    if data.get(..8)? != MAGIC {
        return None;
    }
    let flags = u32_at(8)?;
    let plen = u32_at(12)? as usize;
    let clen = u32_at(16)? as usize;
    let sum = u64::from_le_bytes(data.get(24..32)?.try_into().ok()?);
    if data.len() != HEADER.checked_add(plen)?.checked_add(clen)? || clen % 8 != 0 {
        return None;
    }
    let profile = &data[HEADER..HEADER + plen];
    let code = &data[HEADER + plen..];
    if fnv1a(&[&data[..24], profile, code]) != sum || profile != canonical {
        return None;
    }
    Filter::from_bytes(code, libc::c_ulong::from(flags)).ok()
}

/// [`compile`] through the cache under the state root `root` (see the module documentation).
/// A cache that cannot be read or written is only a slower start.
pub fn cached(root: &Path, p: &LinuxSeccomp) -> Result<Filter, BpfError> {
    validate(p)?;
    let canonical = canonical(p)?;
    let Some(dir) = cache_dir(root) else {
        return compile(p);
    };
    let path = dir.join(format!("{}.bpf", cache_key(&canonical, &build_identity())));
    if let Ok(mut f) = fs::File::open(&path) {
        let mut data = Vec::new();
        let ours = f
            .metadata()
            .is_ok_and(|m| m.is_file() && m.uid() == nix::unistd::geteuid().as_raw());
        if ours && f.read_to_end(&mut data).is_ok() {
            match decode(&data, &canonical) {
                Some(filter) if filter.flags == filter_flags(p) => return Ok(filter),
                _ => tracing::warn!(
                    "seccomp cache file {} is damaged or stale: compiling the profile again",
                    path.display()
                ),
            }
        }
    }
    let filter = compile(p)?;
    let written = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(&dir)
        .and_then(|mut tmp| {
            tmp.write_all(&encode(&canonical, &filter))?;
            // No fsync: a file cut short by a crash fails the checks above and is rewritten.
            tmp.persist(&path).map_err(|e| e.error)?;
            Ok(())
        });
    if let Err(e) = written {
        tracing::debug!("seccomp cache {}: {e}", path.display());
    }
    Ok(filter)
}

/// The cache file of `p` under `root` (for tests).
#[cfg(test)]
pub(crate) fn cache_path(root: &Path, p: &LinuxSeccomp) -> PathBuf {
    let canonical = canonical(p).expect("serialise");
    root.join(CACHE_DIR)
        .join(format!("{}.bpf", cache_key(&canonical, &build_identity())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxSeccompArgBuilder, LinuxSyscall};

    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_ERRNO: u32 = 0x0005_0000;

    /// Runs a seccomp BPF program (the instructions libseccomp emits) on a seccomp_data.
    fn run(prog: &[libc::sock_filter], data: &[u8; 64]) -> u32 {
        let (mut a, mut x, mut mem) = (0u32, 0u32, [0u32; 16]);
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            pc += 1;
            let k = i.k;
            let mut jump = |cond: bool| pc += usize::from(if cond { i.jt } else { i.jf });
            match i.code {
                0x20 => {
                    let o = k as usize;
                    a = u32::from_ne_bytes(data[o..o + 4].try_into().expect("4 bytes"));
                }
                0x00 => a = k,
                0x01 => x = k,
                0x60 => a = mem[k as usize],
                0x61 => x = mem[k as usize],
                0x02 => mem[k as usize] = a,
                0x03 => mem[k as usize] = x,
                0x54 => a &= k,
                0x44 => a |= k,
                0x04 => a = a.wrapping_add(k),
                0x07 => x = a,
                0x87 => a = x,
                0x05 => pc += k as usize,
                0x15 => jump(a == k),
                0x25 => jump(a > k),
                0x35 => jump(a >= k),
                0x45 => jump(a & k != 0),
                0x1d => jump(a == x),
                0x2d => jump(a > x),
                0x3d => jump(a >= x),
                0x4d => jump(a & x != 0),
                0x06 => return k,
                0x16 => return a,
                op => panic!("BPF opcode {op:#x} not handled by this interpreter"),
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn call(nr: libc::c_long, args: &[u64]) -> [u8; 64] {
        let mut d = [0u8; 64];
        d[0..4].copy_from_slice(&(nr as i32).to_ne_bytes());
        d[4..8].copy_from_slice(&0xc000_003eu32.to_ne_bytes()); // AUDIT_ARCH_X86_64
        for (i, v) in args.iter().enumerate() {
            d[16 + 8 * i..24 + 8 * i].copy_from_slice(&v.to_ne_bytes());
        }
        d
    }

    fn rule(name: &str, action: LinuxSeccompAction, errno: Option<u32>) -> LinuxSyscall {
        let mut r = LinuxSyscall::default();
        r.set_names(vec![name.into()])
            .set_action(action)
            .set_errno_ret(errno);
        r
    }

    fn profile(default: LinuxSeccompAction, rules: Vec<LinuxSyscall>) -> LinuxSeccomp {
        let mut p = LinuxSeccomp::default();
        p.set_default_action(default)
            .set_architectures(Some(super::super::default_architectures()))
            .set_syscalls(Some(rules));
        p
    }

    /// `(mode & 0o070) == 0o050`: value is the mask, valueTwo the datum (runc, crun,
    /// seccomp_rule_add(3)). Read the other way round (libcontainer 0.7), 0o777 would match.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn masked_eq_takes_the_mask_from_value() {
        let mut r = rule("chmod", LinuxSeccompAction::ScmpActErrno, Some(18));
        r.set_args(Some(vec![LinuxSeccompArgBuilder::default()
            .index(1usize)
            .value(0o070u64)
            .value_two(0o050u64)
            .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
            .build()
            .expect("arg")]));
        let f = compile(&profile(LinuxSeccompAction::ScmpActAllow, vec![r])).expect("compile");
        let chmod = |mode: u64| run(f.instructions(), &call(libc::SYS_chmod, &[0, mode]));
        assert_eq!(chmod(0o755), RET_ERRNO | 18);
        assert_eq!(chmod(0o750), RET_ERRNO | 18);
        assert_eq!(chmod(0o777), RET_ALLOW);
        assert_eq!(chmod(0o700), RET_ALLOW);
        assert_eq!(
            run(f.instructions(), &call(libc::SYS_getpid, &[])),
            RET_ALLOW
        );
    }

    /// The default profile allows clone without namespace flags only (our clone rule is written
    /// for the mask-in-value convention).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn default_profile_denies_clone_with_namespace_flags() {
        let f = compile(&super::super::default_profile()).expect("compile");
        let clone = |flags: u64| run(f.instructions(), &call(libc::SYS_clone, &[flags]));
        let sigchld = libc::SIGCHLD as u64;
        assert_eq!(clone(sigchld), RET_ALLOW, "fork");
        // pthread_create's flags.
        assert_eq!(clone(0x003d_0f00), RET_ALLOW, "thread");
        for flag in super::super::CLONE_NAMESPACE_FLAGS {
            if flag == 0x80 {
                continue; // part of the exit signal in clone's flags
            }
            assert_eq!(
                clone(flag | sigchld),
                RET_ERRNO | libc::EPERM as u32,
                "{flag:#x}"
            );
        }
        assert_eq!(
            run(f.instructions(), &call(libc::SYS_clone3, &[0, 0])),
            RET_ERRNO | libc::ENOSYS as u32
        );
    }

    #[test]
    fn errno_where_the_action_takes_none_is_refused() {
        let kill = profile(
            LinuxSeccompAction::ScmpActAllow,
            vec![rule("mkdir", LinuxSeccompAction::ScmpActKill, Some(1))],
        );
        let e = validate(&kill).expect_err("errnoRet with KILL").to_string();
        assert!(
            e.contains("syscalls[0] (mkdir): errnoRet") && e.contains("SCMP_ACT_KILL"),
            "{e}"
        );
        assert!(compile(&kill).is_err());

        let mut allow = profile(LinuxSeccompAction::ScmpActAllow, vec![]);
        allow.set_default_errno_ret(Some(1));
        let e = validate(&allow)
            .expect_err("defaultErrnoRet with ALLOW")
            .to_string();
        assert!(
            e.contains("defaultErrnoRet") && e.contains("SCMP_ACT_ALLOW"),
            "{e}"
        );

        let mut fine = profile(
            LinuxSeccompAction::ScmpActErrno,
            vec![
                rule("mkdir", LinuxSeccompAction::ScmpActErrno, Some(18)),
                rule("rmdir", LinuxSeccompAction::ScmpActTrace, Some(1)),
                rule("read", LinuxSeccompAction::ScmpActAllow, None),
            ],
        );
        fine.set_default_errno_ret(Some(1));
        validate(&fine).expect("errno with ERRNO and TRACE");
    }

    #[test]
    fn cache_key_is_stable() {
        let p = super::super::default_profile();
        let a = cache_key(&canonical(&p).expect("json"), "id");
        // An equal profile built again, or read back from JSON, gets the same key.
        let again = super::super::default_profile();
        assert_eq!(cache_key(&canonical(&again).expect("json"), "id"), a);
        let json = serde_json::to_string(&p).expect("json");
        let back: LinuxSeccomp = serde_json::from_str(&json).expect("parse");
        assert_eq!(cache_key(&canonical(&back).expect("json"), "id"), a);
        // Anything else changes it.
        assert_ne!(cache_key(&canonical(&p).expect("json"), "other"), a);
        let mut other = p.clone();
        other.set_default_errno_ret(Some(38));
        assert_ne!(cache_key(&canonical(&other).expect("json"), "id"), a);
        // The hash itself does not change between builds.
        assert_eq!(
            format!("{:016x}", fnv1a(&[b"hardened"])),
            "d3f16a37444a5b83"
        );
        assert_ne!(fnv1a(&[b"ab", b"c"]), fnv1a(&[b"a", b"bc"]));
    }

    fn same(a: &Filter, b: &Filter) -> bool {
        a.to_bytes() == b.to_bytes() && a.flags == b.flags
    }

    #[test]
    fn cache_round_trip_and_corruption() {
        let root = tempfile::tempdir().expect("temp dir");
        let mut p = super::super::default_profile();
        p.set_flags(Some(vec![LinuxSeccompFilterFlag::SeccompFilterFlagLog]));
        let fresh = compile(&p).expect("compile");
        assert_eq!(fresh.flags(), libc::SECCOMP_FILTER_FLAG_LOG);

        let first = cached(root.path(), &p).expect("cached");
        assert!(same(&first, &fresh));
        let path = cache_path(root.path(), &p);
        let meta = fs::metadata(&path).expect("cache file written");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let dir = fs::metadata(root.path().join(CACHE_DIR)).expect("dir");
        assert_eq!(dir.permissions().mode() & 0o777, 0o700);
        let good = fs::read(&path).expect("read");
        assert!(decode(&good, &canonical(&p).expect("json")).is_some());

        // A hit: the same program, the file untouched.
        assert!(same(&cached(root.path(), &p).expect("hit"), &fresh));
        assert_eq!(fs::read(&path).expect("read"), good);

        let mut flipped = good.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 0x40;
        let mut other_profile = good.clone();
        other_profile[HEADER + 2] ^= 0x01;
        let damaged: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("short", good[..good.len() / 2].to_vec()),
            ("cut by one instruction", good[..good.len() - 8].to_vec()),
            ("a flipped bit in the program", flipped),
            ("another profile", other_profile),
            ("garbage", vec![0x5a; good.len()]),
        ];
        for (what, bytes) in damaged {
            fs::write(&path, &bytes).expect("write");
            let f = cached(root.path(), &p).expect(what);
            assert!(same(&f, &fresh), "{what}: wrong program");
            assert_eq!(
                fs::read(&path).expect("read"),
                good,
                "{what}: not rewritten"
            );
        }

        // A file that decodes but was written for another profile (a key collision) is not
        // used for this one.
        let mut q = super::super::default_profile();
        q.set_default_errno_ret(Some(38));
        let other = compile(&q).expect("compile");
        fs::write(&path, encode(&canonical(&q).expect("json"), &other)).expect("write");
        assert!(same(&cached(root.path(), &p).expect("collision"), &fresh));
    }

    #[test]
    fn a_cache_dir_others_can_write_is_not_used() {
        let root = tempfile::tempdir().expect("temp dir");
        let dir = root.path().join(CACHE_DIR);
        fs::create_dir(&dir).expect("mkdir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).expect("chmod");
        let p = super::super::default_profile();
        assert!(same(
            &cached(root.path(), &p).expect("compiled"),
            &compile(&p).expect("compile")
        ));
        assert!(!cache_path(root.path(), &p).exists());
    }
}
