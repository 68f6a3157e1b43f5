//! Linux security modules: AppArmor (a profile of our own by default, loaded when the kernel does
//! not have it yet) and SELinux (the config's process label). The decision which profile a
//! container gets is the `lsm` rule's (`policy/rules/lsm.rs`, pure); this module is the host
//! side: whether the host has the module, loading our profile, and what the audit log, `check`
//! and `features` say was applied.

pub mod apparmor;
pub mod selinux;
