//! The on-disk cache of compiled programs, `<root>/.seccomp/<key>.bpf` (see the module
//! documentation of `seccomp::bpf`).

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxSeccomp;

use super::compile::{compile, filter_flags, validate};
use super::{BpfError, Filter};

/// Bump when [`compile`] (compile.rs) changes what it produces for the same profile: old cache files then
/// stop matching.
const COMPILER_REVISION: u32 = 1;
pub(super) const CACHE_DIR: &str = ".seccomp";
const MAGIC: &[u8; 8] = b"HSBPF01\n";
/// magic, flags (u32), profile length (u32), program length (u32), reserved (u32), checksum.
pub(super) const HEADER: usize = 8 + 4 * 4 + 8;

/// 64-bit FNV-1a: the cache key and the checksum of a cache file (the file also holds the
/// profile itself, compared byte for byte, so a collision only costs a recompilation).
pub(super) fn fnv1a(parts: &[&[u8]]) -> u64 {
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

pub(super) fn canonical(p: &LinuxSeccomp) -> Result<Vec<u8>, BpfError> {
    serde_json::to_vec(p).map_err(|e| BpfError::Compile(format!("serialise the profile: {e}")))
}

/// The cache file name of a canonical profile.
pub(super) fn cache_key(canonical: &[u8], identity: &str) -> String {
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

pub(super) fn encode(canonical: &[u8], filter: &Filter) -> Vec<u8> {
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
pub(super) fn decode(data: &[u8], canonical: &[u8]) -> Option<Filter> {
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
