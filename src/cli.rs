//! Command-line definitions: runc's global flags and commands, plus our own.
//!
//! Flags follow runc 1.1 (`runc --help`, `runc <cmd> --help`) so that dockerd and containerd's
//! runc v2 shim can call `hardened` exactly as they call runc. As in runc, the global options
//! (`--root`, `--log`, `--log-format`, `--debug`, `--systemd-cgroup`, `--policy`) go before the
//! command: the engines put them there, and a command's help lists only its own options.
//!
//! Flags accepted for runc compatibility that change nothing are hidden from the help; the
//! list is [`IGNORED_FLAGS`] (shown in `hardened --help` and docs/architecture.md).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const DEFAULT_ROOT: &str = "/run/hardened";

/// runc flags that are accepted and change nothing, with the reason: hidden from the help,
/// listed in `hardened --help` (after the options) instead.
pub const IGNORED_FLAGS: &[(&str, &str)] = &[
    (
        "--criu",
        "global: checkpoint and restore are not supported.",
    ),
    (
        "--rootless",
        "global: whether hardened runs rootless is detected.",
    ),
    (
        "--no-new-keyring",
        "create, run: no container gets a session keyring of its own, with or without it \
         (libcontainer 0.7 makes none). The seccomp baseline denies keyctl, add_key and \
         request_key unless the policy allows an unconfined seccomp profile.",
    ),
    (
        "--pidfd-socket",
        "create, run, exec: no pidfd is sent; a warning is logged.",
    ),
    (
        "--no-subreaper",
        "run: `run` waits for the container's process itself.",
    ),
    (
        "--kernel-memory, --kernel-memory-tcp",
        "update: kernel memory limits are deprecated by the kernel; a warning is logged.",
    ),
];

/// The text after the options in `hardened --help`: where the docs are, and the runc flags
/// accepted and ignored.
fn after_help() -> String {
    let mut s = String::from(
        "Global options go before the command, as with runc: hardened --root DIR create ID.\n\
         The policy file and its rules: docs/policy.md; per command: man hardened-COMMAND.\n\n\
         Accepted for runc compatibility and ignored (hidden above):\n",
    );
    for (flag, why) in IGNORED_FLAGS {
        s.push_str(&format!("  {flag}  {why}\n"));
    }
    s
}

#[derive(Parser, Debug)]
#[command(
    name = "hardened",
    about = "A runc-compatible OCI runtime that hardens every container by default",
    disable_version_flag = true,
    after_help = after_help()
)]
pub struct Cli {
    /// Print the version
    #[arg(short = 'v', long = "version")]
    pub version: bool,

    #[command(flatten)]
    pub global: GlobalOpts,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The command line of this process. A global option given after the command (`hardened
/// create --root DIR ID`) is a usage error, as in runc, with a tip saying where it goes.
pub fn parse() -> Cli {
    Cli::try_parse().unwrap_or_else(|e| global_option_tip(e).exit())
}

impl Command {
    /// The ignored flags ([`IGNORED_FLAGS`]) given to this command that ask for something not
    /// done (a pidfd sent, a limit set): the caller is told with a warning. The others (e.g.
    /// `--no-new-keyring`, `--rootless`) describe what happens anyway.
    pub fn ignored_requests(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let pidfd = match self {
            Command::Create(c) => c.opts.pidfd_socket.is_some(),
            Command::Run(r) => r.opts.pidfd_socket.is_some(),
            Command::Exec(e) => e.pidfd_socket.is_some(),
            _ => false,
        };
        if pidfd {
            v.push("--pidfd-socket is not supported: no pidfd is sent");
        }
        if let Command::Update(u) = self {
            if u.kernel_memory.is_some() || u.kernel_memory_tcp.is_some() {
                v.push("--kernel-memory and --kernel-memory-tcp are ignored (deprecated by the kernel)");
            }
        }
        v
    }
}

/// The long names of [`GlobalOpts`]' options, for [`global_option_tip`].
const GLOBAL_LONG: &[&str] = &[
    "--root",
    "--log",
    "--log-format",
    "--debug",
    "--systemd-cgroup",
    "--policy",
    "--criu",
    "--rootless",
];

/// `e` with a tip when it is an unknown argument that is a global option.
pub fn global_option_tip(mut e: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return e;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return e;
    };
    let flag = arg.split('=').next().unwrap_or_default().to_string();
    if !GLOBAL_LONG.contains(&flag.as_str()) {
        return e;
    }
    // clap's own tip (pass it as a value after `--`) is not what the user meant.
    let tip = format!(
        "{flag} is a global option: it goes before the command (hardened {flag} ... COMMAND ...)"
    );
    e.insert(
        ContextKind::Suggested,
        ContextValue::StyledStrs(vec![tip.into()]),
    );
    e
}

/// Options of the runtime as a whole: before the command (runc's order), never after it.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Global options")]
pub struct GlobalOpts {
    /// Root directory for storage of container state (should be on tmpfs)
    #[arg(long, default_value = DEFAULT_ROOT)]
    pub root: PathBuf,

    /// Set the log file to write runtime logs to (default: stderr)
    #[arg(long)]
    pub log: Option<PathBuf>,

    /// Set the log format [default: text; on a terminal without --log or --log-format: plain
    /// messages]
    #[arg(long = "log-format", value_enum)]
    pub log_format: Option<LogFormat>,

    /// Enable debug logging
    #[arg(long)]
    pub debug: bool,

    /// Use systemd to manage the container's cgroups
    #[arg(long = "systemd-cgroup")]
    pub systemd_cgroup: bool,

    /// Hardening policy file (default: /etc/hardened/policy.toml)
    #[arg(long)]
    pub policy: Option<PathBuf>,

    /// Accepted for runc compatibility; checkpoint/restore is not supported
    #[arg(long, hide = true)]
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
    /// Dry run: the changes and refusals `create` would make for a bundle or config.json (the
    /// policy and its rules: docs/policy.md)
    #[command(
        after_help = "The policy file, its keys and every rule: docs/policy.md (hardened policy rules lists the rules)."
    )]
    Check(Check),
    /// Say why the hardening stopped a container's program: what was denied to it, and the
    /// policy key that would allow it (from the audit log's hints; docs/learn.md)
    Explain(Explain),
    /// Show the effective policy, validate a policy file, or list the rules (docs/policy.md)
    #[command(
        subcommand,
        after_help = "The policy file, its keys, its version and every rule: docs/policy.md."
    )]
    Policy(PolicyCmd),
    /// The profiles learn mode wrote (`mode = "learn"`) into the policy's learn_dir: list them,
    /// show one with its evidence, or say what one grants beyond the defaults or another profile
    #[command(
        subcommand,
        after_help = "Learn mode, learn_dir and how to adopt a learned profile (profile_dirs): docs/learn.md."
    )]
    Profile(ProfileCmd),
    /// Check what this host gives the runtime: user namespaces, ID ranges, idmapped mounts,
    /// the mount API, cgroups, seccomp, AppArmor/SELinux, the engines, the policy (changes
    /// nothing; exits 1 when a check fails)
    Doctor(Doctor),
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
    /// Print a shell completion script (bash: `hardened completion bash >
    /// /usr/share/bash-completion/completions/hardened`)
    Completion(Completion),
    /// Write one man page per command (section 8) into DIR
    #[command(hide = true)]
    Man(Man),
    /// Learn mode's recorder, started by `create` (src/learn.rs)
    #[command(name = "__learn-record", hide = true)]
    LearnRecord(LearnRecord),
    /// The syscall hints daemon (started by create; see src/syscall_hints.rs)
    #[command(name = "__syscall-hints", hide = true)]
    SyscallHints,
}

#[derive(Args, Debug)]
pub struct LearnRecord {
    /// Remove the container's trace instance (its recorder died) instead of recording
    #[arg(long)]
    pub remove: bool,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct Completion {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct Man {
    /// The directory to write hardened.8, hardened-create.8, ... into (created if missing)
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct Explain {
    /// The container's id (running, or deleted: its hints are in the audit log)
    #[arg(required_unless_present = "last")]
    pub id: Option<String>,
    /// The last container with hints in the audit log
    #[arg(long, conflicts_with = "id")]
    pub last: bool,
    /// Print the hints as JSON, one object per line
    #[arg(long)]
    pub json: bool,
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

#[derive(Args, Debug)]
pub struct Doctor {
    /// text: one line per check; json: an array of {"check", "status", "detail", "fix"}
    #[arg(short = 'f', long, value_enum, default_value_t = DoctorFormat::Text)]
    pub format: DoctorFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoctorFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesFormat {
    /// One line per rule
    Table,
    /// Every rule with its levels, policy keys and documentation
    Json,
    /// The rule table of docs/policy.md
    Markdown,
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
    /// List the rules: ID, levels (change, refusal, warning), the policy keys that allow or
    /// change them, and what each does
    Rules {
        /// table, json, or markdown (the table of docs/policy.md)
        #[arg(short = 'f', long, value_enum, default_value_t = RulesFormat::Table)]
        format: RulesFormat,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProfileCmd {
    /// One line per learned profile: name, container, when, capabilities, system calls and
    /// the writable paths it adds
    List,
    /// A learned profile: its TOML, then the evidence it was learned from, in words
    Show {
        /// The learned profile (NAME.toml in the learn_dir)
        name: String,
    },
    /// What a learned profile grants beyond the policy's [defaults], or beyond OTHER:
    /// capabilities, writable paths, readonly_rootfs, system calls, other keys
    Diff {
        /// The learned profile (NAME.toml in the learn_dir)
        name: String,
        /// A profile of the policy, or else another learned profile (default: the policy's
        /// [defaults])
        other: Option<String>,
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
    /// Docker only: the policy file the runtime is registered with (`"runtimeArgs":
    /// ["--policy", FILE]`, validated first); containerd and podman pass a runtime no
    /// arguments, so there it is refused (policy files: docs/policy.md)
    #[arg(long)]
    pub policy: Option<PathBuf>,
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
    /// Accepted for runc compatibility: no session keyring is made for a container (see
    /// IGNORED_FLAGS)
    #[arg(long = "no-new-keyring", hide = true)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::path::Path;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("hardened").chain(args.iter().copied()))
    }

    /// The help of `path` (e.g. ["install", "docker"]) as the user sees it.
    fn help_of(path: &[&str]) -> String {
        let mut cmd = Cli::command();
        cmd.build();
        let mut c = &mut cmd;
        for name in path {
            c = c.find_subcommand_mut(name).expect("subcommand");
        }
        c.render_help().to_string()
    }

    #[test]
    fn global_options_before_the_command_as_the_engines_send_them() {
        // containerd's runc shim (go-runc) and dockerd's runtimeArgs wrapper.
        let cli = parse(&[
            "--policy",
            "/p.toml",
            "--root",
            "/run/x",
            "--log",
            "/l.json",
            "--log-format",
            "json",
            "--systemd-cgroup",
            "--debug",
            "--criu",
            "criu",
            "--rootless",
            "false",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/pid",
            "--no-new-keyring",
            "--pidfd-socket",
            "/s",
            "c1",
        ])
        .expect("parse");
        let g = &cli.global;
        assert_eq!(g.root, Path::new("/run/x"));
        assert_eq!(g.log.as_deref(), Some(Path::new("/l.json")));
        assert_eq!(g.log_format, Some(LogFormat::Json));
        assert!(g.systemd_cgroup && g.debug);
        assert_eq!(g.policy.as_deref(), Some(Path::new("/p.toml")));
        let Some(Command::Create(c)) = &cli.command else {
            panic!("{cli:?}")
        };
        assert!(c.opts.no_new_keyring);
        assert_eq!(
            cli.command.as_ref().unwrap().ignored_requests(),
            ["--pidfd-socket is not supported: no pidfd is sent"]
        );
        // Without --log-format, the style is chosen later (logging::Style::of).
        assert_eq!(parse(&["list"]).unwrap().global.log_format, None);
    }

    #[test]
    fn a_global_option_after_the_command_is_refused_with_a_tip() {
        for args in [
            &["create", "--root", "/x", "c1"][..],
            &["state", "--log-format=json", "c1"],
            &["policy", "show", "--policy", "/p.toml"],
        ] {
            let e = parse(args).expect_err("accepted");
            let text = global_option_tip(e).to_string();
            assert!(
                text.contains("is a global option: it goes before the command"),
                "{text}"
            );
            assert!(!text.contains("-- --"), "{text}");
        }
        // Other unknown arguments keep clap's message alone.
        let text = global_option_tip(parse(&["create", "--bogus", "c1"]).unwrap_err()).to_string();
        assert!(!text.contains("global option"), "{text}");
    }

    #[test]
    fn install_takes_its_own_policy_option() {
        let cli = parse(&[
            "install", "docker", "--config", "/d.json", "--policy", "/p.toml",
        ])
        .expect("parse");
        let Some(Command::Install(InstallTarget::Docker(a))) = &cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(a.policy.as_deref(), Some(Path::new("/p.toml")));
    }

    #[test]
    fn a_command_help_lists_its_own_options_only() {
        for path in [
            &["install", "docker"][..],
            &["create"],
            &["policy", "validate"],
        ] {
            let help = help_of(path);
            for global in [
                "--root",
                "--log",
                "--systemd-cgroup",
                "--debug",
                "Global options",
            ] {
                assert!(!help.contains(global), "{path:?} lists {global}:\n{help}");
            }
        }
        let top = help_of(&[]);
        assert!(top.contains("Global options:"), "{top}");
        for flag in ["--root", "--log-format", "--systemd-cgroup", "--policy"] {
            assert!(top.contains(flag), "{top}");
        }
        // The ignored flags are hidden from the options and listed once, after them.
        for (flag, _) in IGNORED_FLAGS {
            assert_eq!(top.matches(flag).count(), 1, "{flag}:\n{top}");
        }
        let create = help_of(&["create"]);
        assert!(!create.contains("--no-new-keyring") && !create.contains("--pidfd-socket"));
        assert!(top.contains("docs/policy.md"), "{top}");
    }

    #[test]
    fn every_ignored_flag_is_hidden_where_it_is_accepted() {
        let mut cmd = Cli::command();
        cmd.build();
        let mut seen = Vec::new();
        fn walk(c: &clap::Command, seen: &mut Vec<String>) {
            for a in c.get_arguments() {
                if let Some(long) = a.get_long() {
                    let flag = format!("--{long}");
                    if IGNORED_FLAGS
                        .iter()
                        .any(|(f, _)| f.split(", ").any(|f| f == flag))
                    {
                        assert!(a.is_hide_set(), "{flag} of {} is shown", c.get_name());
                        seen.push(flag);
                    }
                }
            }
            // `spec --rootless` is spec's own option: it writes a rootless config.
            for s in c.get_subcommands().filter(|s| s.get_name() != "spec") {
                walk(s, seen);
            }
        }
        walk(&cmd, &mut seen);
        for (flags, _) in IGNORED_FLAGS {
            for f in flags.split(", ") {
                assert!(seen.iter().any(|s| s == f), "{f} is accepted nowhere");
            }
        }
    }
}
