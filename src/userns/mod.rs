//! User namespaces by default: one host ID range per container (`alloc`), and the mounts that
//! make images work unchanged under it (`idmap`: idmapped root filesystem and bind mounts).
//!
//! This is the I/O-heavy part of the hardening; the decision (add a user namespace, refuse a
//! mapping of host root) is the pure `user-namespace` rule of the policy.

pub mod alloc;
pub mod idmap;
pub mod join;

use serde::{Deserialize, Serialize};

/// Container IDs 0..size are host IDs start..start+size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    pub host_start: u32,
    pub size: u32,
}

/// IDs per container: 0-65535, as images expect (nobody is 65534).
pub const RANGE_SIZE: u32 = 65536;
