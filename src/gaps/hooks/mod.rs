//! OCI hooks, where libcontainer 0.7's handling falls short of runtime.md / config.md: three
//! gaps, one file each ([`shim`], [`state`], [`report`]).
//!
//! - **The state on stdin.** libcontainer hands hooks its own copy of the state: the
//!   createContainer hooks (run by the container's init before `pivot_root`) get it without the
//!   `pid`, and every hook gets the *shadow* bundle (`bundle.rs`) when the pipeline changed the
//!   spec. The hooks libcontainer runs (prestart, createRuntime, createContainer) are therefore
//!   started through [`shim`]: our own binary, reached through a descriptor the runtime holds
//!   open (`/proc/self/fd/N`, valid on the host and before `pivot_root`), puts the caller's
//!   bundle and the init's host pid into the state and `exec`s the real hook with it.
//! - **startContainer** hooks are run by our executor (`executor.rs`) in the container, right
//!   before the program, with the full state (the init's host pid comes from a descriptor of the
//!   host's `/proc`).
//! - **Failure semantics.** A failing poststart or poststop hook is logged as a warning and the
//!   remaining hooks and the lifecycle go on (runtime.md lifecycle 9 and 13); libcontainer stops
//!   at the first failure and fails the command. `start` and `delete` run them with [`run_all`].
//! - **Timing.** `start` returns, and runs poststart, only once the program has been executed or
//!   the container has failed to get there ([`ExecReport`]).

pub mod report;
pub mod shim;
pub mod state;

pub use report::{report, ExecReport, Outcome, Watch, EXEC_FD_FILE, EXEC_MARK};
pub use shim::{shim, ShimExe, SHIM_ARG};
pub use state::{host_pid, run_all, state_for_hooks, stopped_state, InitStart};
