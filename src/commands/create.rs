use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::Container;
use libcontainer::syscall::syscall::SyscallType;
use oci_spec::runtime::{Hook, Hooks, LinuxNamespaceType, Spec};

use super::{check_systemd, Ctx};
use crate::cli::{Create, CreateOpts};
use crate::executor::HardenedExecutor;
use crate::gaps::hooks;
use crate::policy::Unmappable;
use crate::userns::{idmap, join, IdRange};
use crate::{bundle, gaps, ledger, pipeline};

pub fn create(ctx: &Ctx, args: &Create) -> Result<()> {
    create_container(ctx, &args.opts, &args.id, true)?;
    Ok(())
}

/// Create a container from the caller's bundle, in four steps over one transaction (`Undo`):
///
/// 1. `plan`: the caller's spec through the runtime checks and the policy (`pipeline::plan`,
///    the same plan `hardened check` makes as a dry run); a user-namespace range is allocated;
/// 2. `prepare`: what the host must do before libcontainer runs (scratch mounts, idmapped
///    mounts, libcontainer's gaps, hooks through our shim), the ledger, the shadow bundle;
/// 3. `build`: libcontainer makes the container's process from the prepared bundle;
/// 4. `finish`: the init is recorded, and what follows create is applied.
///
/// On an error at any step, `Undo` removes everything the steps made (the range, the ledger,
/// the cgroup and processes through it, the state directory, the shadow bundle); a create
/// killed outright leaves the same things for `delete --force`.
pub fn create_container(ctx: &Ctx, opts: &CreateOpts, id: &str, detach: bool) -> Result<Container> {
    check_systemd(ctx.systemd_cgroup)?;
    let dir = ctx.container_dir(id)?;
    if dir.exists() {
        bail!("container with id {id} already exists: pick another id or delete it first");
    }
    let _prewarm = crate::cgroup::prewarm_attach();
    let mut undo = Undo {
        ctx,
        id,
        state_dir: false,
        armed: true,
    };
    let planned = plan(ctx, opts, id)?;
    let mut prepared = prepare(ctx, id, planned)?;
    let built = build(ctx, opts, id, detach, &mut prepared);
    // libcontainer made the state directory (its own clean-up removes it when build fails).
    undo.state_dir = built.is_ok();
    let built = built?;
    finish(ctx, id, &built, prepared)?;
    undo.armed = false;
    Ok(built)
}

/// The caller's bundle and spec, and the pipeline's plan for them.
struct Planned {
    caller: PathBuf,
    spec: Spec,
    plan: pipeline::Plan,
}

/// Step 1: the runtime checks and the policy's verdict; refusals end create here.
fn plan(ctx: &Ctx, opts: &CreateOpts, id: &str) -> Result<Planned> {
    let caller = bundle::canonical_bundle(&opts.bundle)?;
    let spec = bundle::load_spec(&caller)?;
    let req = pipeline::Request {
        id,
        bundle: Some(&caller),
        root: &ctx.root,
        systemd_cgroup: ctx.systemd_cgroup,
    };
    let plan = pipeline::plan(&ctx.policy, &spec, &req, pipeline::Effects::Create)?;
    Ok(Planned { caller, spec, plan })
}

/// The container as libcontainer is to build it.
struct Prepared {
    caller: PathBuf,
    /// The spec libcontainer is handed.
    spec: Spec,
    /// The bundle libcontainer reads it from: the caller's, or our shadow bundle.
    bundle: PathBuf,
    /// The spec later readers (exec, state) see, when it differs from `spec`: the idmapped
    /// trees exist only in this process's private mount namespace and the container's.
    lasting: Option<Spec>,
    confine: Option<crate::gaps::confine::Confinement>,
    /// The connection to the syscall hints daemon that the container's process sends its
    /// filter's listener on (`crate::syscall_hints`); ours is closed once it is built.
    hints_conn: Option<std::os::fd::OwnedFd>,
    /// Namespaces `create` enters itself before libcontainer forks (`userns::join`).
    prejoin: Vec<(LinuxNamespaceType, PathBuf)>,
    userns_range: Option<IdRange>,
    /// libcontainer 0.7's gaps: what follows create (src/gaps/).
    gaps: gaps::plan::Rewrite,
    hooks: HookPlan,
    ledger: ledger::Ledger,
    own_pidns: bool,
    /// The caller's root filesystem on the host (learn mode looks there for what was written).
    rootfs: PathBuf,
}

/// The spec handed to libcontainer as the steps of `prepare` change it, and the one later
/// readers see when the two differ.
struct Specs {
    run: Spec,
    /// What later readers see: the hardened spec before the host-side rewrites.
    full: Spec,
    lasting: Option<Spec>,
    /// Changed by a rewrite that the verdict's changes do not list.
    rewritten: bool,
}

impl Specs {
    /// Later readers see `full` rather than what libcontainer is handed.
    fn keep_full(&mut self) {
        self.lasting.get_or_insert_with(|| self.full.clone());
    }
}

/// Syscall hints (`crate::syscall_hints`): with hints on, in the hardened mode, a filter whose
/// refusals can be answered by the daemon becomes the notifying one, and the connection the
/// container's process hands the listener on is made. Without the daemon the container runs
/// with its plain filter: hints never stop a container.
fn syscall_hints(
    ctx: &Ctx,
    id: &str,
    full: &Spec,
    confine: Option<&mut crate::gaps::confine::Confinement>,
) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::AsRawFd;
    if !ctx.policy.hints
        || !matches!(
            ctx.policy.mode,
            crate::policy::Mode::Enforce | crate::policy::Mode::Audit
        )
    {
        return None;
    }
    let confine = confine?;
    let profile = full.linux().as_ref()?.seccomp().as_ref()?;
    let errno = crate::syscall_hints::refusal_errno(profile)?;
    let notifying = confine.filter.as_ref()?.notifying(errno)?;
    match crate::syscall_hints::connect(&ctx.root, id, errno, &ctx.policy.audit_log) {
        Ok(conn) => {
            confine.filter = Some(notifying);
            confine.hints_sock = Some(conn.as_raw_fd());
            Some(conn)
        }
        Err(e) => {
            tracing::info!("container {id} runs without syscall hints: {e:#}");
            None
        }
    }
}

/// Step 2: what the host does before libcontainer runs.
fn prepare(ctx: &Ctx, id: &str, planned: Planned) -> Result<Prepared> {
    let Planned { caller, spec, plan } = planned;
    let context = || format!("create container {id}");
    let changed = !plan.verdict.changes.is_empty();
    let mut run = plan.verdict.hardened;
    // The AppArmor profile the container runs under: ours is loaded when the kernel lacks it.
    crate::lsm::apparmor::ensure_loaded(&run).with_context(context)?;
    // Seccomp and capabilities are applied by our executor (crate::gaps::confine): libcontainer gets
    // the spec without them; `full` is what later readers see.
    let full = run.clone();
    let mut confine = crate::gaps::confine::split_init(&ctx.root, &mut run)
        .map_err(|e| anyhow::Error::new(e).context(context()))?;
    let hints_conn = syscall_hints(ctx, id, &full, confine.as_mut());
    let mut specs = Specs {
        run,
        full,
        lasting: None,
        rewritten: false,
    };
    let userns_range = plan.userns.as_ref().map(|p| p.range);
    scratch_mounts(&caller, &spec, &mut specs, userns_range).with_context(context)?;
    let mut prejoin = Vec::new();
    if let Some(userns) = plan.userns {
        prejoin = policy_userns(ctx, &caller, userns, &mut specs)
            .with_context(|| format!("prepare the user namespace of container {id}"))?;
    } else {
        explicit_idmaps(&mut specs)
            .with_context(|| format!("prepare the idmapped mounts of container {id}"))?;
    }
    if confine.is_some() {
        specs.keep_full();
    }
    // libcontainer 0.7's gaps (src/gaps/): the spec it is handed, and what follows create.
    let mut gaps = gaps::plan::rewrite(&specs.run).with_context(context)?;
    if let Some(s) = gaps.spec.take() {
        specs.lasting.get_or_insert_with(|| specs.run.clone());
        specs.run = s;
        specs.rewritten = true;
    }
    let hooks = HookPlan::wrap(&mut specs, &caller)?;
    let (ledger, own_pidns) = write_ledger(ctx, id, &specs.run)?;
    let rootfs = spec
        .root()
        .as_ref()
        .map(|r| caller.join(r.path()))
        .unwrap_or_else(|| caller.join("rootfs"));
    let bundle = if !changed && !specs.rewritten && confine.is_none() {
        caller.clone()
    } else {
        bundle::write_shadow(&ctx.root, id, &caller, &specs.run)?
    };
    Ok(Prepared {
        caller,
        spec: specs.run,
        bundle,
        lasting: specs.lasting,
        confine,
        hints_conn,
        prejoin,
        userns_range,
        gaps,
        hooks,
        ledger,
        own_pidns,
        rootfs,
    })
}

/// The scratch mounts (src/scratch.rs): made before the mounts beneath them (symlinks resolved
/// inside the root filesystem), filled with the image's content (tmpcopyup).
fn scratch_mounts(
    caller: &Path,
    caller_spec: &Spec,
    specs: &mut Specs,
    userns_range: Option<IdRange>,
) -> Result<()> {
    let Some(root) = specs.run.root().clone() else {
        return Ok(());
    };
    let rootfs = caller.join(root.path());
    if !rootfs.is_dir() {
        return Ok(());
    }
    let owners = crate::scratch::Owners(userns_range);
    if crate::scratch::prepare(caller_spec, &mut specs.run, &rootfs, owners)? {
        specs.keep_full();
        specs.rewritten = true;
    }
    Ok(())
}

/// The user namespace the policy added: idmap the root filesystem and bind mounts, in a private
/// mount namespace of this process that the container's is copied from. Returns the namespaces
/// to enter before libcontainer forks.
fn policy_userns(
    ctx: &Ctx,
    caller: &Path,
    userns: pipeline::UsernsPlan,
    specs: &mut Specs,
) -> Result<Vec<(LinuxNamespaceType, PathBuf)>> {
    specs.lasting = Some(specs.full.clone());
    let rootfs = specs
        .run
        .root()
        .as_ref()
        .map(|r| caller.join(r.path()))
        .context("the config has no root filesystem")?;
    let rootfs = std::fs::canonicalize(&rootfs)
        .with_context(|| format!("root filesystem {} is not accessible", rootfs.display()))?;
    idmap::private_mount_namespace()?;
    let refuse = ctx.policy.user_namespace.unmappable_mounts == Unmappable::Refuse;
    let (spec, outcomes) = idmap::prepare(&specs.run, &rootfs, userns.range, refuse)?;
    for (src, outcome) in outcomes {
        if let idmap::BindOutcome::ReadOnly(why) = outcome {
            tracing::warn!(
                "the bind mount of {} is mounted read-only: it cannot be idmapped ({why}); set [user_namespace] unmappable_mounts = \"refuse\" to refuse such containers instead",
                src.display()
            );
        }
    }
    specs.run = spec;
    if let Some(a) = userns.allocation {
        a.hold();
    }
    join::without_prejoined(&mut specs.run, &userns.prejoin);
    join::mqueue_of_prejoined(&mut specs.run, &userns.prejoin)?;
    Ok(userns.prejoin)
}

/// Bind mounts with their own uidMappings/gidMappings (runtime-spec 1.1), in a container that
/// gets no user namespace from the policy (permissive mode, or the engine's own).
fn explicit_idmaps(specs: &mut Specs) -> Result<()> {
    if specs.lasting.is_some() {
        return Ok(());
    }
    if let Some(s) = idmap::explicit_mounts(&specs.run)? {
        specs.keep_full();
        specs.run = s;
        specs.rewritten = true;
    }
    Ok(())
}

/// Hooks (`hooks.rs`): the ones libcontainer runs go through our shim (the caller's bundle and
/// the init's pid in their state); startContainer hooks are run by our executor.
struct HookPlan {
    /// The hooks as the spec has them, for poststop after a failed build.
    spec_hooks: Option<Hooks>,
    start_container: Vec<Hook>,
    /// Our copy of the shim's executable: dropped once the container's process is made, so
    /// that `start` sees end of file when the init execs.
    shim: Option<hooks::ShimExe>,
}

impl HookPlan {
    fn wrap(specs: &mut Specs, caller: &Path) -> Result<Self> {
        let spec_hooks = specs.run.hooks().clone();
        let mut plan = HookPlan {
            spec_hooks: spec_hooks.clone(),
            start_container: Vec::new(),
            shim: None,
        };
        let Some(mut h) = spec_hooks else {
            return Ok(plan);
        };
        plan.start_container = h.start_container().clone().unwrap_or_default();
        h.set_start_container(None);
        #[allow(deprecated)]
        let wrapped = [h.prestart(), h.create_runtime(), h.create_container()]
            .iter()
            .any(|l| l.as_ref().is_some_and(|l| !l.is_empty()));
        specs.run.set_hooks(Some(h));
        if wrapped {
            let exe = hooks::ShimExe::open()?;
            exe.wrap(&mut specs.run, caller);
            plan.shim = Some(exe);
        }
        specs.rewritten = true;
        Ok(plan)
    }
}

/// The ledger, before libcontainer makes the cgroup or any process: a forced delete of a create
/// killed from here on finds them through it. Also whether the container has a PID namespace
/// of its own (its init's is recorded once it exists).
fn write_ledger(ctx: &Ctx, id: &str, spec: &Spec) -> Result<(ledger::Ledger, bool)> {
    let cgroups_path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let cgroup_path = libcontainer::utils::get_cgroup_path(&cgroups_path, id);
    let cgroup_preexisting = crate::cgroup::exists(&cgroup_path, ctx.systemd_cgroup);
    let own_pidns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter()
                .any(|n| n.typ() == LinuxNamespaceType::Pid && n.path().is_none())
        });
    let led = ledger::Ledger {
        cgroup: cgroup_path,
        systemd: ctx.systemd_cgroup,
        cgroup_preexisting,
        init: None,
        creator: creator(),
    };
    ledger::write(&ctx.root, id, &led)
        .with_context(|| format!("create container {id}: write its ledger"))?;
    Ok((led, own_pidns))
}

/// Step 3: libcontainer makes the container's process (the init, stopped before the user's
/// program until `start`), which goes into the ledger at once.
fn build(
    ctx: &Ctx,
    opts: &CreateOpts,
    id: &str,
    detach: bool,
    p: &mut Prepared,
) -> Result<Container> {
    let report = hooks::ExecReport::new()?;
    let host_proc = std::fs::File::open("/proc").context("open /proc")?;
    let executor = HardenedExecutor {
        init: Some(hooks::InitStart {
            id: id.to_string(),
            bundle: p.caller.clone(),
            annotations: p.spec.annotations().clone(),
            hooks: p.hooks.start_container.clone(),
            proc_fd: host_proc.as_raw_fd(),
            report_fd: report.write.as_raw_fd(),
        }),
        confine: p.confine.take(),
        console_uid: opts
            .console_socket
            .as_ref()
            .and(p.spec.process().as_ref())
            .filter(|process| process.terminal() == Some(true))
            .map(|process| process.user().uid()),
        ..Default::default()
    };
    let mut builder =
        ContainerBuilder::new(id.to_string(), SyscallType::default()).with_executor(executor);
    if let Some(fd) = gaps::null_stdio::writable_null(1)? {
        builder = builder.with_stdout(fd);
    }
    if let Some(fd) = gaps::null_stdio::writable_null(2)? {
        builder = builder.with_stderr(fd);
    }
    // Stdio pipes and FIFOs to the container's user, under its user namespace (src/stdio.rs).
    if let Some(owner) = crate::stdio::host_owner(&p.spec, p.userns_range) {
        crate::stdio::give(owner);
    }
    // Entered on this thread, which forks the container's process; left when `entered` drops.
    let entered = join::enter(&p.prejoin).with_context(|| format!("create container {id}"))?;
    join::set_uts_names(p.lasting.as_ref().unwrap_or(&p.spec), &p.prejoin)
        .with_context(|| format!("create container {id}"))?;
    let built = builder
        .with_pid_file(opts.pid_file.as_ref())
        .and_then(|b| {
            b.with_console_socket(opts.console_socket.as_ref())
                .with_root_path(&ctx.root)
        })
        .and_then(|b| b.with_preserved_fds(opts.preserve_fds).validate_id())
        .and_then(|b| {
            b.as_init(&p.bundle)
                .with_systemd(ctx.systemd_cgroup)
                .with_detach(detach)
                .with_no_pivot(opts.no_pivot)
                .build()
        });
    drop(entered);
    // Our copies: the init holds its own. `start` must see end of file when the init execs.
    drop(p.hooks.shim.take());
    drop(p.hints_conn.take());
    drop(host_proc);
    let built = built.map_err(|e| {
        // runtime.md lifecycle 3-5, 12-13: the container is gone; its poststop hooks run.
        if let Some(h) = &p.hooks.spec_hooks {
            let state = hooks::stopped_state(id, &p.caller, &p.spec);
            hooks::run_all("poststop", h.poststop().as_ref(), &state);
        }
        anyhow::Error::new(e).context(format!("create container {id}"))
    })?;
    let pid = built.pid().map_or(0, |p| p.as_raw());
    p.ledger.init = crate::reap::init_record(pid, p.own_pidns);
    ledger::write(&ctx.root, id, &p.ledger)
        .with_context(|| format!("create container {id}: record its init in the ledger"))?;
    report
        .record(&built.root)
        .with_context(|| format!("create container {id}"))?;
    Ok(built)
}

/// Step 4: what libcontainer leaves out after create, and the spec later readers see.
fn finish(ctx: &Ctx, id: &str, built: &Container, p: Prepared) -> Result<()> {
    let pid = built.pid().map_or(0, |p| p.as_raw());
    p.gaps
        .after_create(pid)
        .with_context(|| format!("create container {id}"))?;
    match ctx.policy.mode {
        crate::policy::Mode::Learn => learn(ctx, id, pid, &p.spec, &p.rootfs)
            .with_context(|| format!("create container {id}"))?,
        crate::policy::Mode::Permissive => {}
        _ if ctx.policy.hints => crate::hints::follow(&ctx.root, id, pid, &ctx.policy.audit_log),
        _ => {}
    }
    if let Some(spec) = p.lasting {
        bundle::write_shadow(&ctx.root, id, &p.caller, &spec)?;
    }
    Ok(())
}

/// Learn mode: the recorder follows the container from here on (src/learn.rs).
fn learn(ctx: &Ctx, id: &str, pid: i32, spec: &Spec, rootfs: &Path) -> Result<()> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let upperdir = idmap::find_overlay(&mountinfo, rootfs).and_then(|o| o.upper);
    let start = crate::learn::Start {
        id: id.to_string(),
        name: crate::learn::profile_name(spec, id)?,
        learn_dir: ctx.policy.learn_dir.clone(),
        audit_log: ctx.policy.audit_log.clone(),
        init_pid: pid,
        init_starttime: crate::reap::starttime(pid).unwrap_or(0),
        rootfs: rootfs.to_path_buf(),
        upperdir,
        scratch_mounts: ctx
            .policy
            .rules_for(spec)
            .map(|r| r.scratch_mounts.clone())
            .unwrap_or_default(),
        started_ns: crate::learn::now_ns(),
        recorder: None,
    };
    crate::learn::begin(&ctx.root, start)
}

/// The transaction of `create`: everything it acquires is keyed by the container's id (the
/// user-namespace range, the shadow bundle, the ledger and through it the cgroup and the
/// processes, the state directory once libcontainer made it), so one guard undoes all of it,
/// in reverse order, on every error path and on unwind. A create killed outright leaves the
/// same things, which `delete --force` removes the same way (`delete::remove_leftovers`).
struct Undo<'a> {
    ctx: &'a Ctx,
    id: &'a str,
    /// libcontainer made the state directory (its own clean-up removes it when build fails).
    state_dir: bool,
    armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (ctx, id) = (self.ctx, self.id);
        let result = (|| -> Result<()> {
            if let Some(led) = ledger::read(&ctx.root, id)? {
                let scope = crate::reap::Scope::from_ledger(id, &led)?;
                scope.kill_all()?;
                scope.remove_cgroup()?;
            }
            let dir = ctx.root.join(id);
            if self.state_dir && dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            bundle::remove_shadow(&ctx.root, id);
            crate::userns::alloc::free(&ctx.root, id);
            crate::learn::discard(&ctx.root, id);
            crate::hints::forget(&ctx.root, id);
            ledger::remove(&ctx.root, id);
            Ok(())
        })();
        if let Err(e) = result {
            tracing::warn!("create container {id} failed, and its clean-up too: {e:#}; `delete --force {id}` removes what is left");
        }
    }
}

/// This create process, as the ledger records it.
fn creator() -> Option<ledger::Creator> {
    let me = procfs::process::Process::myself().ok()?;
    Some(ledger::Creator {
        pid: me.pid(),
        starttime: me.stat().ok()?.starttime,
        cmdline: me.cmdline().ok()?,
    })
}
