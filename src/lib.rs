//! `hardened`: a runc-compatible OCI runtime on `libcontainer` that hardens every container.

pub mod audit;
pub mod bundle;
pub mod cgroup;
pub mod cli;
pub mod commands;
pub mod detached;
pub mod executor;
pub mod facts;
#[cfg(test)]
mod fuzz;
pub mod gaps;
pub mod hints;
pub mod install;
pub mod learn;
pub mod learn_format;
pub mod learn_profile;
pub mod ledger;
pub mod limits;
pub mod logging;
pub mod lsm;
pub mod oneline;
pub mod pipeline;
pub mod policy;
pub mod reap;
pub mod rlimits;
pub mod scratch;
pub mod sealed;
pub mod seccomp;
pub mod stdio;
pub mod syscall_hints;
#[cfg(test)]
mod test_support;
pub mod trace;
pub mod userns;
