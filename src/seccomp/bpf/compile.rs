//! The compiler: an OCI profile to a BPF program with libseccomp, read as runc and crun read it,
//! and what the runtime-spec requires a runtime to refuse.

use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use super::{BpfError, Filter};

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
