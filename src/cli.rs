//! Command-line definitions: runc's global flags and commands, plus our own.
//!
//! Flags follow runc 1.1 (`runc --help`, `runc <cmd> --help`) so that dockerd and containerd's
//! runc v2 shim can call `hardened` exactly as they call runc.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const DEFAULT_ROOT: &str = "/run/hardened";

#[derive(Parser, Debug)]
#[command(
    name = "hardened",
    about = "A runc-compatible OCI runtime that hardens every container by default",
    disable_version_flag = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,

    /// Print the version
    #[arg(short = 'v', long = "version")]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
pub struct GlobalOpts {
    /// Root directory for storage of container state (should be on tmpfs)
    #[arg(long, global = true, default_value = DEFAULT_ROOT)]
    pub root: PathBuf,

    /// Set the log file to write runtime logs to (default: stderr)
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,

    /// Set the log format
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Enable debug logging
    #[arg(long, global = true)]
    pub debug: bool,

    /// Use systemd to manage the container's cgroups
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,

    /// Hardening policy file (default: /etc/hardened/policy.toml)
    #[arg(long, global = true)]
    pub policy: Option<PathBuf>,

    /// Accepted for runc compatibility; checkpoint/restore is not supported
    #[arg(long, global = true, hide = true)]
    pub criu: Option<String>,

    /// Accepted for runc compatibility (true|false|auto); rootless mode is detected
    #[arg(long = "rootless", id = "global_rootless", hide = true)]
    pub rootless: Option<String>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container
    Create(Create),
    /// Execute the user-defined process in a created container
    Start(IdArg),
    /// Output the state of a container
    State(IdArg),
    /// Send a signal to the container's init process
    Kill(Kill),
    /// Delete any resources held by the container
    Delete(Delete),
    /// Create and run a container, wait for it, then delete it
    Run(Run),
    /// Execute a new process inside the container
    Exec(Exec),
    /// Suspend all processes inside the container
    Pause(IdArg),
    /// Resume all processes that have been previously paused
    Resume(IdArg),
    /// Update container resource constraints
    Update(Update),
    /// Display the processes running inside a container
    Ps(Ps),
    /// List containers started by this runtime with the given root
    List(List),
    /// Display container events such as OOM notifications and resource statistics
    Events(Events),
    /// Create a new specification file (config.json)
    Spec(SpecCmd),
    /// Show the enabled features of the runtime (runtime-spec features JSON)
    Features,
    /// Dry run: the changes and refusals `create` would make for a bundle or config.json
    Check(Check),
    /// Show the effective policy, or validate a policy file
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Register hardened as a runtime in Docker's daemon.json, containerd's config.toml or
    /// podman's containers.conf
    #[command(subcommand)]
    Install(InstallTarget),
    /// Remove hardened's runtime from Docker's daemon.json, containerd's config.toml or
    /// podman's containers.conf
    #[command(subcommand)]
    Uninstall(UninstallTarget),
    /// Not supported: checkpoint a running container
    Checkpoint(Unsupported),
    /// Not supported: restore a container from a checkpoint
    Restore(Unsupported),
}

#[derive(Args, Debug)]
pub struct Check {
    /// An OCI bundle directory, or a config.json file
    pub path: PathBuf,
    /// Print the verdict (with the hardened spec) as JSON
    #[arg(long)]
    pub json: bool,
    /// The container id to evaluate as (some rules look at it)
    #[arg(long, default_value = "check")]
    pub id: String,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCmd {
    /// Print the effective policy (the file given with --policy, or the default file, with
    /// every default filled in)
    Show,
    /// Check a policy file; exits non-zero with the file, line and key of the first problem
    Validate {
        /// The policy file
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum InstallTarget {
    /// Add the runtime to Docker's daemon.json (default /etc/docker/daemon.json), for
    /// `docker run --runtime=NAME`; with --policy FILE it is registered with
    /// `"runtimeArgs": ["--policy", FILE]`
    Docker(InstallArgs),
    /// Add a CRI runtime handler to containerd's config (default /etc/containerd/config.toml),
    /// for a Kubernetes RuntimeClass; the runtime reads /etc/hardened/policy.toml there
    /// (containerd's shim passes no runtime arguments, so --policy is refused)
    Containerd(InstallArgs),
    /// Add the runtime to podman's `[engine.runtimes]` (default: the drop-in
    /// /etc/containers/containers.conf.d/hardened.conf), for `podman run --runtime NAME`; the
    /// runtime reads /etc/hardened/policy.toml (podman passes no per-runtime arguments, so
    /// --policy is refused)
    Podman(InstallArgs),
}

#[derive(Subcommand, Debug)]
pub enum UninstallTarget {
    /// Remove the runtime from Docker's daemon.json (default /etc/docker/daemon.json)
    Docker(UninstallArgs),
    /// Remove the runtime handler from containerd's config (default /etc/containerd/config.toml)
    Containerd(UninstallArgs),
    /// Remove the runtime from podman's containers.conf (default
    /// /etc/containers/containers.conf.d/hardened.conf)
    Podman(UninstallArgs),
}

#[derive(Args, Debug)]
pub struct InstallArgs {
    /// The config file to edit (a missing file is created; the old one is backed up as
    /// FILE.bak-<UTC time>)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Name of the runtime (`docker run --runtime=NAME`) or handler (RuntimeClass `handler`)
    #[arg(long, default_value = crate::install::DEFAULT_NAME)]
    pub name: String,
    /// Absolute path of the hardened binary to register (default: this binary)
    #[arg(long)]
    pub path: Option<PathBuf>,
    /// Print the change as a diff and write nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct UninstallArgs {
    /// The config file to edit (the old one is backed up as FILE.bak-<UTC time>)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Name of the runtime or handler to remove
    #[arg(long, default_value = crate::install::DEFAULT_NAME)]
    pub name: String,
    /// Print the change as a diff and write nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct IdArg {
    /// Container ID
    pub id: String,
}

#[derive(Args, Debug)]
pub struct Unsupported {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct CreateOpts {
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Path to an AF_UNIX socket which will receive the pseudoterminal master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Specify the file to write the process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root to jail the process inside the rootfs
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
    /// Accepted for runc compatibility; not supported
    #[arg(long = "pidfd-socket", hide = true)]
    pub pidfd_socket: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct Create {
    #[command(flatten)]
    pub opts: CreateOpts,
    /// Container ID
    pub id: String,
}

#[derive(Args, Debug)]
pub struct Run {
    #[command(flatten)]
    pub opts: CreateOpts,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Do not delete the container after it exits
    #[arg(long)]
    pub keep: bool,
    /// Accepted for runc compatibility
    #[arg(long = "no-subreaper", hide = true)]
    pub no_subreaper: bool,
    /// Container ID
    pub id: String,
}

#[derive(Args, Debug)]
pub struct Kill {
    /// Send the signal to all processes in the container
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Container ID
    pub id: String,
    /// Signal name or number
    // Hyphen values too: `kill ID -1` is a bad signal (one line from parse_signal), not a
    // usage error.
    #[arg(default_value = "SIGTERM", allow_hyphen_values = true)]
    pub signal: String,
}

#[derive(Args, Debug)]
pub struct Delete {
    /// Forcibly delete the container if it is still running (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container ID
    pub id: String,
}

#[derive(Args, Debug)]
pub struct Exec {
    /// Path to an AF_UNIX socket which will receive the pseudoterminal master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Current working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set environment variables (KEY=VALUE)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// UID (format: <uid>[:<gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Path to the process.json
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Specify the file to write the process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Set the asm process label for the process commonly used with selinux
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// Set the apparmor profile for the process
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set the no new privileges value for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability to the bounding set for the process
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    /// Pass N additional file descriptors to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
    /// Run the process in a sub-cgroup
    #[arg(long)]
    pub cgroup: Option<String>,
    /// Allow exec in a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Accepted for runc compatibility; not supported
    #[arg(long = "pidfd-socket", hide = true)]
    pub pidfd_socket: Option<PathBuf>,
    /// Container ID
    pub id: String,
    /// Command and arguments (when --process is not given)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct Update {
    /// Path to a file containing the resources to update, or '-' to read from stdin
    #[arg(short = 'r', long)]
    pub resources: Option<PathBuf>,
    /// Specifies per cgroup weight, range is from 10 to 1000
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period to be used for hardcapping (in usecs)
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight vs. other containers)
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    /// CPU realtime period to be used for hardcapping (in usecs)
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime hardcap limit (in usecs)
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU(s) to use
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory node(s) to use
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit (in bytes)
    #[arg(long)]
    pub memory: Option<String>,
    /// Memory reservation or soft_limit (in bytes)
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Total memory usage (memory + swap); set '-1' to enable unlimited swap
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    /// Maximum number of pids allowed in the container
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// Accepted for runc compatibility (kernel memory is deprecated and ignored)
    #[arg(long = "kernel-memory", hide = true)]
    pub kernel_memory: Option<String>,
    /// Accepted for runc compatibility (kernel memory is deprecated and ignored)
    #[arg(long = "kernel-memory-tcp", hide = true)]
    pub kernel_memory_tcp: Option<String>,
    /// Container ID
    pub id: String,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct Ps {
    /// Select one of: table or json
    #[arg(short = 'f', long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Container ID
    pub id: String,
    /// Options passed to ps(1) for the table format
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct List {
    /// Select one of: table or json
    #[arg(short = 'f', long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Display only container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct Events {
    /// Set the stats collection interval (e.g. 5s, 500ms, 1m)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// Display the container's stats then exit
    #[arg(long)]
    pub stats: bool,
    /// Container ID
    pub id: String,
}

#[derive(Args, Debug)]
pub struct SpecCmd {
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long)]
    pub bundle: Option<PathBuf>,
    /// Generate a configuration for a rootless container
    #[arg(long)]
    pub rootless: bool,
}
