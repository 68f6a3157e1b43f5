//! libcontainer 0.7's gaps, worked around in our own code (libcontainer is used as published,
//! not forked): one file per gap. Each file opens with the runtime-spec sentence (or runc
//! behaviour) it restores, the test that proves it, and what would let it go (the upstream fix).
//!
//! | gap | restores | proved by | file |
//! | --- | --- | --- | --- |
//! | duplicated namespace types accepted | config-linux.md Namespaces: duplicated types MUST generate an error | `duplicate_namespace_types_are_refused_with_their_name`; `namespaces/duplicate-type-errors` | [`namespaces`] |
//! | per-mount propagation ignored; `nosymfollow` passed as data (`EINVAL`) | config.md Mounts: propagation options, `nosymfollow` | `propagation_and_nosymfollow_leave_the_options_libcontainer_sees`; `mounts/propagation-*`, `mounts/option-nosymfollow` | [`mounts`] |
//! | device paths outside `/dev` refused | config-linux.md Devices: `path` full path inside the container | `devices_outside_dev`; `devices/outside-dev` | [`devices`] |
//! | several `uidMappings`/`gidMappings` lines need `newuidmap`/`newgidmap`, even as root | config-linux.md User namespace mappings | `several_ranges_need_our_own_user_namespace`; `userns/several-ranges` | [`id_ranges`] |
//! | `disableOOMKiller` never written | config-linux.md memory: `disableOOMKiller` | `plan_reads_disable_oom_killer`; `cgroups/memory-disable-oom-killer` | [`oom_killer`] |
//! | `c *:* m` and `b *:* m` appended after the config's device rules | config-linux.md Device allowlist: `m` (mknod) | `mknod_is_taken_back_only_when_the_allowlist_grants_it_to_nothing`; `cgroups/devices-mknod-denied` | [`mknod`] |
//! | v1 device rules written on top of the parent cgroup's allow-all | config-linux.md Device allowlist; runc | `deny_all_goes_first_when_the_rules_have_none`; `unlisted_block_device_is_denied_with_mknod` (integration/cgroups.rs) | [`device_allowlist`] |
//! | cgroup mounts read-write; a hierarchy without the container's cgroup mounted at the runtime's (a host root) | runc: the config's options, the container's own cgroups | `cgroup_mounts_are_read_only_and_the_containers_own` (integration/cgroups.rs) | [`cgroup_mounts`] |
//! | `consoleSize` not applied | config.md Process: `consoleSize` | `console_size_is_ignored_without_a_terminal`; `process/terminal-console-size` | [`console`] |
//! | the terminal left to whoever made it: an `exec`'s made before it joins the user namespace (the host's root's, `nobody` inside), no `fixStdioPermissions` | runc: the terminal is the process's user's | `terminal_is_the_process_users` (integration/docker.rs) | [`console_owner`] |
//! | the container's filter left out of `exec`; the filter loaded after dropping capabilities whenever `noNewPrivileges` is present | config-linux.md Seccomp; runc's order | `split_init_takes_over_only_what_libcontainer_gets_wrong`; `seccomp/nonroot-without-no-new-privs` | [`confine`] |
//! | capability sets set one at a time (EPERM for an inheritable set outside the new permitted one) | runc: one capset(2) | `inheritable_outside_permitted` | [`capabilities`] |
//! | hooks libcontainer runs get its state: no `pid` for createContainer, the shadow bundle | runtime.md State: `pid`, `bundle` | `libcontainer_run_hooks_go_through_the_shim_and_start_container_is_left_alone`; `hooks/state-stdin-*` | [`hooks::shim`] |
//! | the first failing poststart/poststop hook fails the command; startContainer hooks run unseen | runtime.md Lifecycle 9, 13 | `hooks/poststart-failure-continues`, `hooks/poststop-failure-continues` | [`hooks::state`] |
//! | `start` runs poststart before the program ran; a failed startContainer hook goes unreported | runtime.md Lifecycle 7-9 | `hooks/poststart-after-program-executed`, `hooks/start-container-failure-destroys` | [`hooks::report`] |
//! | no public call that signals the init without running poststart | runtime.md Lifecycle 8-9 | `hooks/poststart-after-program-executed` | [`start`] |
//! | `kill` records "stopped" after any signal | runtime.md State `stopped`; runc's `kill` | `kill_delivers_a_trapped_signal` (integration/cli.rs) | [`kill_status`] |
//! | a `/dev/null` stdio of the init reopened read-only (`EBADF` on every write) | the caller's stdio, as given | `run_with_stdout_on_dev_null` (integration/cli.rs), `ctr_run_with_null_io` | [`null_stdio`] |
//! | `run` blocks signals only after `start` (youki 0.7 hangs) | runc's `run`: exit status returned, signals forwarded | `run_never_hangs` (integration/security.rs) | [`run_signals`] |
//!
//! Elsewhere, with a reason:
//!
//! - `SCMP_CMP_MASKED_EQ` reads the mask from `valueTwo`; the filter rebuilt with libseccomp in
//!   every container process; `errnoRet` accepted with actions that take no errno: our own
//!   compiler and its cache, `crate::seccomp::bpf` (`compile.rs`, `cache.rs`): a subsystem of
//!   its own rather than a workaround (`seccomp/arg-masked-eq`, `seccomp/errno-ret-on-kill-errors`).
//! - Namespaces `create` enters itself before the user namespace is made (a network namespace
//!   the engine made in the host's user namespace, which libcontainer would join from inside
//!   the new one and fail): `userns::join` (`enter`, `without_prejoined`), part of the user
//!   namespace the policy adds rather than a gap.
//! - `delete` removes the cgroup whatever created it: `crate::ledger` and `crate::reap` (the
//!   create transaction records what existed before).
//!
//! Entry points: [`namespaces::validate`] (pure, in the pipeline: nothing is created when it
//! fails), [`plan::rewrite`] (in `create`, before the spec is handed to libcontainer),
//! [`plan::Rewrite::after_create`] (in `create`, once the container's init waits for `start`:
//! mount fixups, [`cgroup_mounts::apply`], cgroup writes),
//! [`plan::plan_update`] (in `update`), [`console_owner::give`], [`console::in_container`] and
//! [`confine::Confinement::apply`] (in the executor, just before `execve`).

pub mod capabilities;
pub mod cgroup_mounts;
mod cgroup_v1;
pub mod confine;
pub mod console;
pub mod console_owner;
pub mod device_allowlist;
pub mod devices;
pub mod hooks;
pub mod id_ranges;
pub mod kill_status;
pub mod mknod;
pub mod mounts;
pub mod namespaces;
pub mod null_stdio;
pub mod oom_killer;
pub mod plan;
pub mod run_signals;
pub mod start;

#[cfg(test)]
mod tests;
