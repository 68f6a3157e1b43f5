//! The `hardened` binary: hand a hook-shim call straight to the hook; otherwise parse the
//! command line, set up logging, re-execute from a sealed copy of itself for the commands that
//! put a process into a container, read the policy for the commands that evaluate specs, and
//! dispatch to the command's function in `commands`.

use std::process::ExitCode;

use hardened::cli::{Cli, Command, InstallTarget, PolicyCmd};
use hardened::commands::{self as cmd, Ctx};
use hardened::policy::Policy;

fn main() -> ExitCode {
    // The hook shim (`hooks.rs`) is this binary run by libcontainer as a hook: no CLI, no
    // logging set-up, straight to the real hook.
    if std::env::args_os().nth(1).as_deref() == Some(hardened::gaps::hooks::SHIM_ARG.as_ref()) {
        hardened::gaps::hooks::shim(std::env::args_os().collect());
    }
    let cli = hardened::cli::parse();
    if cli.version {
        print!("{}", cmd::version::text());
        return ExitCode::SUCCESS;
    }
    let g = &cli.global;
    let style = hardened::logging::Style::of(g.log.as_deref(), g.log_format);
    if let Err(e) = hardened::logging::init(g.log.as_deref(), style, g.debug) {
        eprintln!("hardened: {e}");
        return ExitCode::FAILURE;
    }
    match dispatch(&cli) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            let msg = hardened::logging::error_message(&e, style);
            tracing::error!("{msg}");
            if g.log.is_some() {
                eprintln!("hardened: {msg}");
            }
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: &Cli) -> anyhow::Result<i32> {
    let g = &cli.global;
    let Some(command) = &cli.command else {
        use clap::CommandFactory;
        Cli::command().print_help()?;
        return Ok(0);
    };
    // Commands that put a process into a container run from a binary that cannot be
    // overwritten through /proc/<pid>/exe (CVE-2019-5736). This re-executes the binary, so it
    // comes before anything that the re-executed process would only do again (the policy).
    if matches!(
        command,
        Command::Create(_) | Command::Run(_) | Command::Exec(_)
    ) {
        let root = Ctx::new(&g.root, g.systemd_cgroup, Policy::default())?.root;
        hardened::sealed::ensure_sealed(&root)?;
    }
    // After the re-execution, so that it is logged once.
    for warning in command.ignored_requests() {
        tracing::warn!("{warning}");
    }
    // Only the commands that evaluate specs read the policy file (`policy validate FILE`
    // reads FILE only).
    let needs_policy = matches!(
        command,
        Command::Create(_)
            | Command::Run(_)
            | Command::Exec(_)
            | Command::Check(_)
            | Command::Explain(_)
            | Command::Profile(_)
            | Command::Policy(PolicyCmd::Show)
    );
    let policy = if needs_policy {
        hardened::policy::load(g.policy.as_deref())?
    } else {
        Policy::default()
    };
    let ctx = || Ctx::new(&g.root, g.systemd_cgroup, policy.clone());
    match command {
        Command::Create(a) => cmd::create::create(&ctx()?, a).map(|_| 0),
        Command::Start(a) => cmd::start::start(&ctx()?, &a.id).map(|_| 0),
        Command::State(a) => cmd::state::state(&ctx()?, &a.id).map(|_| 0),
        Command::Kill(a) => cmd::kill::kill(&ctx()?, &a.id, &a.signal, a.all).map(|_| 0),
        Command::Delete(a) => cmd::delete::delete(&ctx()?, &a.id, a.force).map(|_| 0),
        Command::Run(a) => cmd::run::run(&ctx()?, a),
        Command::Exec(a) => cmd::exec::exec(&ctx()?, a),
        Command::Pause(a) => cmd::pause::pause(&ctx()?, &a.id).map(|_| 0),
        Command::Resume(a) => cmd::pause::resume(&ctx()?, &a.id).map(|_| 0),
        Command::Update(a) => cmd::update::update(&ctx()?, a).map(|_| 0),
        Command::Ps(a) => cmd::ps::ps(&ctx()?, a).map(|_| 0),
        Command::List(a) => cmd::list::list(&ctx()?, a).map(|_| 0),
        Command::Events(a) => cmd::events::events(&ctx()?, a).map(|_| 0),
        Command::Spec(a) => cmd::spec::spec(a).map(|_| 0),
        Command::Features => cmd::features::features().map(|_| 0),
        Command::Check(a) => cmd::check::check(&policy, &g.root, g.systemd_cgroup, a),
        Command::Policy(p) => cmd::policy::policy(&policy, p),
        Command::Profile(p) => cmd::profile::profile(&policy, p),
        Command::Explain(a) => cmd::explain::explain(&policy, &g.root, a),
        Command::Doctor(a) => cmd::doctor::doctor(g.policy.as_deref(), &g.root, a),
        Command::Install(t) => {
            // `install docker --policy FILE`, or the global `--policy FILE` before the command.
            let (InstallTarget::Docker(a)
            | InstallTarget::Containerd(a)
            | InstallTarget::Podman(a)) = t;
            cmd::install::install(a.policy.as_deref().or(g.policy.as_deref()), t)
        }
        Command::Uninstall(t) => cmd::install::uninstall(t),
        Command::Checkpoint(_) => cmd::unsupported::unsupported("checkpoint").map(|_| 0),
        Command::Restore(_) => cmd::unsupported::unsupported("restore").map(|_| 0),
        Command::Completion(a) => cmd::manual::completion(a.shell).map(|_| 0),
        Command::LearnRecord(a) if a.remove => hardened::learn::remove_main(&a.id),
        Command::LearnRecord(a) => hardened::learn::record_main(&g.root, &a.id),
        Command::SyscallHints => hardened::syscall_hints::daemon_main(),
        Command::Man(a) => {
            for page in cmd::manual::man(&a.dir)? {
                println!("{}", page.display());
            }
            Ok(0)
        }
    }
}
