use std::io::Write;

use anyhow::{bail, Context, Result};
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::ContainerStatus;
use libcontainer::syscall::syscall::SyscallType;
use nix::sys::signal::SigSet;
use std::os::fd::{AsRawFd, OwnedFd};

use oci_spec::runtime::{LinuxNamespaceType, Process, Spec, User, UserBuilder};

use super::Ctx;
use crate::cli::Exec;
use crate::executor::{HardenedExecutor, JoinUserns};
use crate::gaps::run_signals::wait_forwarding;
use crate::pipeline;

fn parse_user(s: &str) -> Result<(u32, Option<u32>)> {
    let bad = || anyhow::anyhow!("invalid --user {s:?}: use <uid>[:<gid>] with numeric ids");
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let uid = u.parse().map_err(|_| bad())?;
    let gid = match g {
        Some(g) => Some(g.parse().map_err(|_| bad())?),
        None => None,
    };
    Ok((uid, gid))
}

/// The process runc's inline `exec` form describes: the container's process with the flags
/// applied on top.
fn inline_process(spec: &Spec, args: &Exec) -> Result<Process> {
    if args.command.is_empty() {
        bail!("exec needs a command, or a process spec with --process");
    }
    let base = spec.process().clone().unwrap_or_default();
    let mut p = base.clone();
    p.set_args(Some(args.command.clone()));
    p.set_terminal(Some(args.tty));
    p.set_console_size(None);

    let mut env: Vec<String> = base.env().clone().unwrap_or_default();
    for kv in &args.env {
        let Some((k, _)) = kv.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            bail!("invalid --env {kv:?}: use KEY=VALUE");
        };
        env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(cwd) = &args.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(u) = &args.user {
        let (uid, gid) = parse_user(u)?;
        let user = UserBuilder::default()
            .uid(uid)
            .gid(gid.unwrap_or(0))
            .additional_gids(args.additional_gids.clone())
            .build()?;
        p.set_user(user);
    } else if !args.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(args.additional_gids.clone()));
        p.set_user(user);
    }
    if !args.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let mut b = caps.bounding().clone().unwrap_or_default();
        let mut e = caps.effective().clone().unwrap_or_default();
        let mut pe = caps.permitted().clone().unwrap_or_default();
        for c in &args.cap {
            let c = crate::policy::rules::capabilities::parse_cap(c)
                .ok_or_else(|| anyhow::anyhow!("unknown capability {c:?} in --cap"))?;
            b.insert(c);
            e.insert(c);
            pe.insert(c);
        }
        caps.set_bounding(Some(b));
        caps.set_effective(Some(e));
        caps.set_permitted(Some(pe));
        p.set_capabilities(Some(caps));
    }
    if args.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(a) = &args.apparmor {
        p.set_apparmor_profile(Some(a.clone()));
    }
    if let Some(l) = &args.process_label {
        p.set_selinux_label(Some(l.clone()));
    }
    Ok(p)
}

fn load_process(path: &std::path::Path) -> Result<Process> {
    let raw = std::fs::read(path).with_context(|| {
        format!(
            "cannot read the process spec {}",
            crate::oneline::path(path)
        )
    })?;
    let what = format!("process spec {}", crate::oneline::path(path));
    crate::oneline::parse_json(&raw, &what).map_err(anyhow::Error::msg)
}

/// For a container with a user namespace of its own: open that namespace, and split `process`
/// into what libcontainer runs (host root, so that the executor can enter the namespace) and the
/// identity the executor takes there. libcontainer 0.7 does not
/// join user namespaces on exec (see `crate::executor`).
fn user_namespace_of(
    spec: &Spec,
    pid: i32,
    process: Process,
) -> Result<(Process, Option<(OwnedFd, JoinUserns)>)> {
    let has_userns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::User));
    if !has_userns {
        return Ok((process, None));
    }
    let path = format!("/proc/{pid}/ns/user");
    let fd: OwnedFd = std::fs::File::open(&path)
        .with_context(|| format!("open the container's user namespace {path}"))?
        .into();
    let theirs = nix::sys::stat::fstat(fd.as_raw_fd()).with_context(|| format!("stat {path}"))?;
    let ours = nix::sys::stat::stat("/proc/self/ns/user").context("stat /proc/self/ns/user")?;
    if (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino) {
        return Ok((process, None));
    }
    let join = JoinUserns {
        fd: fd.as_raw_fd(),
        user: process.user().clone(),
    };
    let mut as_root = process;
    let mut root = User::default();
    root.set_umask(as_root.user().umask());
    as_root.set_user(root);
    Ok((as_root, Some((fd, join))))
}

pub fn exec(ctx: &Ctx, args: &Exec) -> Result<i32> {
    let container = ctx.load(&args.id)?;
    let status = container.status();
    let ok = status == ContainerStatus::Running
        || (args.ignore_paused && status == ContainerStatus::Paused);
    if !ok {
        bail!("cannot exec in container {} that is {status}", args.id);
    }
    let _prewarm = crate::cgroup::prewarm_attach();
    let spec = crate::bundle::load_spec(container.bundle())?;
    let process = match &args.process {
        Some(path) => load_process(path)?,
        None => inline_process(&spec, args)?,
    };
    let mut process = pipeline::prepare_exec(&ctx.policy, &spec, &args.id, process)?;
    // Learn mode: the exec'd program is the container's too (healthchecks, `docker exec`).
    if crate::learn::learning(&ctx.root, &args.id) {
        crate::learn::follow_exec(&ctx.root, &args.id);
    }
    // The container's filter and the process's capabilities are applied by our executor.
    let confine = crate::gaps::confine::split_exec(&ctx.root, &spec, &mut process)
        .with_context(|| format!("exec in container {}", args.id))?;
    let (process, exec_userns) = match container.pid() {
        Some(pid) => user_namespace_of(&spec, pid.as_raw(), process)?,
        None => (process, None),
    };

    // Stdio pipes and FIFOs to the process's user in the container's user namespace
    // (src/stdio.rs); not with a terminal (the container's own pseudo-terminal).
    if let (Some((_, join)), Some(pid)) = (&exec_userns, container.pid()) {
        if process.terminal() != Some(true) {
            let (uid, gid) = (join.user.uid(), join.user.gid());
            if let Some(owner) = crate::stdio::host_owner_of(pid.as_raw(), uid, gid) {
                crate::stdio::give(owner);
            }
        }
    }
    // Hand the process to libcontainer as a file in the container's state dir.
    let dir = ctx.container_dir(&args.id)?;
    let mut tmp = tempfile::Builder::new()
        .prefix("exec-")
        .suffix(".json")
        .tempfile_in(&dir)
        .with_context(|| format!("write the exec process spec into {}", dir.display()))?;
    tmp.write_all(&serde_json::to_vec(&process)?)?;
    tmp.flush()?;

    // The container's terminal to the process's user (gaps/console_owner.rs): the executor
    // gives it before it joins the user namespace, so as the host sees that user.
    let console_uid = match (&exec_userns, container.pid()) {
        _ if args.console_socket.is_none() || process.terminal() != Some(true) => None,
        (Some((_, join)), Some(pid)) => {
            crate::stdio::host_owner_of(pid.as_raw(), join.user.uid(), join.user.gid())
                .map(|(uid, _)| uid)
        }
        (Some(_), None) => None,
        (None, _) => Some(process.user().uid()),
    };
    let executor = HardenedExecutor {
        console_uid,
        confine,
        exec_userns: exec_userns.as_ref().map(|(fd, join)| JoinUserns {
            fd: fd.as_raw_fd(),
            ..join.clone()
        }),
        init: None,
    };
    let pid = ContainerBuilder::new(args.id.clone(), SyscallType::default())
        .with_executor(executor)
        .with_root_path(&ctx.root)
        .map(|b| b.with_console_socket(args.console_socket.as_ref()))
        .and_then(|b| b.with_pid_file(args.pid_file.as_ref()))
        .and_then(|b| b.with_preserved_fds(args.preserve_fds).validate_id())
        .and_then(|b| {
            b.as_tenant()
                .with_detach(args.detach)
                .with_process(Some(tmp.path()))
                .with_ignore_paused(args.ignore_paused)
                .with_sub_cgroup(args.cgroup.clone())
                .build()
        })
        .with_context(|| format!("exec in container {}", args.id))?;
    // The process is in its cgroup: stop keeping the attach warm.
    drop(_prewarm);
    drop(tmp);
    drop(exec_userns);

    if args.detach {
        return Ok(0);
    }
    let set = SigSet::all();
    set.thread_block().context("block signals")?;
    let code = wait_forwarding(pid, &set);
    let _ = set.thread_unblock();
    code
}
