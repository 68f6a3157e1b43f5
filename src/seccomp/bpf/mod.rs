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

//!
//! The compiler is [`compile`] (compile.rs), the on-disk cache [`cached`] (cache.rs).

mod cache;
mod compile;
#[cfg(test)]
mod tests;

pub use cache::cached;
pub use compile::{compile, filter_flags, validate};

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
    pub(super) flags: libc::c_ulong,
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
    pub(super) fn from_bytes(code: &[u8], flags: libc::c_ulong) -> Result<Self, BpfError> {
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

    pub(super) fn to_bytes(&self) -> Vec<u8> {
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

    /// The same program with every `SECCOMP_RET_ERRNO | errno` return turned into
    /// `SECCOMP_RET_USER_NOTIF`, to be loaded with a listener (syscall hints,
    /// `crate::syscall_hints`): the listener answers those calls with the same `errno`, so the
    /// program sees what it saw before. None when the program never returns that errno, or when
    /// its flags include TSYNC (which the kernel refuses with a listener).
    pub fn notifying(&self, errno: u32) -> Option<Filter> {
        if self.flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            return None;
        }
        let refused = libc::SECCOMP_RET_ERRNO | (errno & libc::SECCOMP_RET_DATA);
        let ret_k = (libc::BPF_RET | libc::BPF_K) as u16;
        let mut insns = self.insns.clone();
        let mut changed = 0;
        for i in insns
            .iter_mut()
            .filter(|i| i.code == ret_k && i.k == refused)
        {
            i.k = libc::SECCOMP_RET_USER_NOTIF;
            changed += 1;
        }
        (changed > 0).then_some(Filter {
            insns,
            flags: self.flags | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
        })
    }

    /// Install the filter on the calling thread. Needs `no_new_privs` or `CAP_SYS_ADMIN` in the
    /// thread's user namespace. A filter from [`Filter::notifying`] returns its listener.
    pub fn load_with_listener(&self) -> nix::Result<Option<std::os::fd::OwnedFd>> {
        let ret = self.install()?;
        if self.flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 {
            return Ok(None);
        }
        let fd = std::os::fd::RawFd::try_from(ret).map_err(|_| nix::errno::Errno::EBADF)?;
        // SAFETY: with SECCOMP_FILTER_FLAG_NEW_LISTENER, seccomp(2) returns a new descriptor
        // that nothing else owns.
        Ok(Some(unsafe {
            <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd)
        }))
    }

    /// Install the filter on the calling thread. Needs `no_new_privs` or `CAP_SYS_ADMIN` in the
    /// thread's user namespace.
    pub fn load(&self) -> nix::Result<()> {
        self.load_with_listener().map(drop)
    }

    fn install(&self) -> nix::Result<libc::c_long> {
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
        nix::errno::Errno::result(ret)
    }
}
