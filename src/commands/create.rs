use std::path::PathBuf;

use std::os::fd::OwnedFd;

use anyhow::{bail, Context, Result};
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::Container;
use libcontainer::syscall::syscall::SyscallType;
use std::os::fd::AsRawFd;

use crate::gaps::hooks;

use super::{check_systemd, Ctx};
use crate::cli::{Create, CreateOpts};
use crate::executor::HardenedExecutor;
use crate::seccomp::bpf;
use oci_spec::runtime::Spec;

use crate::policy::Unmappable;
use crate::userns::{idmap, join};
use crate::{bundle, ledger, pipeline};
use oci_spec::runtime::LinuxNamespaceType;

pub fn create(ctx: &Ctx, args: &Create) -> Result<()> {
    create_container(ctx, &args.opts, &args.id, true)?;
    Ok(())
}

/// Create a container from the caller's bundle through the pipeline; on error nothing is left
/// behind (libcontainer removes its state dir and cgroup, we remove the shadow bundle).
pub fn create_container(ctx: &Ctx, opts: &CreateOpts, id: &str, detach: bool) -> Result<Container> {
    check_systemd(ctx.systemd_cgroup)?;
    let dir = ctx.container_dir(id)?;
    if dir.exists() {
        bail!("container with id {id} already exists: pick another id or delete it first");
    }
    let _prewarm = super::cgroup::prewarm_attach();
    // From here on, whatever create acquires (user-namespace range, shadow bundle, ledger,
    // cgroup, processes, state) is undone by this guard unless create succeeds.
    let mut undo = Undo {
        ctx,
        id,
        state_dir: false,
        armed: true,
    };
    let caller = bundle::canonical_bundle(&opts.bundle)?;
    let spec = bundle::load_spec(&caller)?;
    if let Some(seccomp) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        bpf::validate(seccomp).with_context(|| format!("create container {id}"))?;
    }
    let prepared = pipeline::prepare_container(
        &ctx.policy,
        &spec,
        id,
        Some(&caller),
        &ctx.root,
        ctx.systemd_cgroup,
    )?;
    let mut verdict = prepared.verdict;
    // Seccomp and capabilities are applied by our executor (crate::confine): libcontainer gets
    // the spec without them; `full` is what later readers see.
    let full = verdict.spec.clone();
    let confine = crate::gaps::confine::split_init(&ctx.root, &mut verdict.spec)
        .map_err(|e| anyhow::Error::new(e).context(format!("create container {id}")))?;
    // The spec later readers see (exec, state): the idmapped trees exist only in this
    // process's private mount namespace and the container's.
    let mut lasting: Option<Spec> = None;
    let mut prejoin = Vec::new();
    // The scratch mounts (src/scratch.rs): made before the mounts beneath them (symlinks
    // resolved inside the root filesystem), filled with the image's content (tmpcopyup).
    let userns_range = prepared.userns.as_ref().map(|p| p.range);
    let mut scratch_changed = false;
    if let Some(root) = verdict.spec.root().clone() {
        let owners = crate::scratch::Owners(userns_range);
        let rootfs = caller.join(root.path());
        if rootfs.is_dir() {
            scratch_changed = crate::scratch::prepare(&spec, &mut verdict.spec, &rootfs, owners)
                .map_err(|e| e.context(format!("create container {id}")))?;
        }
    }
    if scratch_changed {
        lasting.get_or_insert_with(|| full.clone());
    }
    if let Some(plan) = prepared.userns {
        lasting = Some(full.clone());
        // The user namespace the policy added: idmap the root filesystem and bind mounts, in a
        // private mount namespace of this process that the container's is copied from.
        let range = plan.range;
        let idmapped = (|| -> Result<Spec> {
            let rootfs = verdict
                .spec
                .root()
                .as_ref()
                .map(|r| caller.join(r.path()))
                .context("the config has no root filesystem")?;
            let rootfs = std::fs::canonicalize(&rootfs).with_context(|| {
                format!("root filesystem {} is not accessible", rootfs.display())
            })?;
            idmap::private_mount_namespace()?;
            let refuse = ctx.policy.user_namespace.unmappable_mounts == Unmappable::Refuse;
            let (spec, outcomes) = idmap::prepare(&verdict.spec, &rootfs, range, refuse)?;
            for (src, outcome) in outcomes {
                if let idmap::BindOutcome::ReadOnly(why) = outcome {
                    tracing::warn!(
                        "the bind mount of {} is mounted read-only: it cannot be idmapped ({why}); set [user_namespace] unmappable_mounts = \"refuse\" to refuse such containers instead",
                        src.display()
                    );
                }
            }
            Ok(spec)
        })();
        verdict.spec = idmapped
            .map_err(|e| e.context(format!("prepare the user namespace of container {id}")))?;
        if let Some(a) = plan.allocation {
            a.hold();
        }
        prejoin = plan.prejoin;
        without_prejoined(&mut verdict.spec, &prejoin);
    }
    // Bind mounts with their own uidMappings/gidMappings (runtime-spec 1.1), in a container
    // that gets no user namespace from the policy (permissive mode, or the engine's own).
    let mut rewritten = scratch_changed;
    if lasting.is_none() {
        if let Some(s) = idmap::explicit_mounts(&verdict.spec)
            .with_context(|| format!("prepare the idmapped mounts of container {id}"))?
        {
            lasting = Some(full.clone());
            verdict.spec = s;
            rewritten = true;
        }
    }
    if confine.is_some() && lasting.is_none() {
        lasting = Some(full);
    }
    // libcontainer 0.7's gaps (src/compat.rs): the spec it is handed, and what follows create.
    let mut compat = crate::gaps::plan::rewrite(&verdict.spec)
        .map_err(|e| e.context(format!("create container {id}")))?;
    if let Some(s) = compat.spec.take() {
        lasting.get_or_insert_with(|| verdict.spec.clone());
        verdict.spec = s;
        rewritten = true;
    }
    // Hooks (`hooks.rs`): the ones libcontainer runs go through our shim (the caller's bundle
    // and the init's pid in their state); startContainer hooks are run by our executor.
    let caller_spec_hooks = verdict.spec.hooks().clone();
    let mut start_container_hooks = Vec::new();
    let mut shim_exe = None;
    if let Some(mut h) = verdict.spec.hooks().clone() {
        start_container_hooks = h.start_container().clone().unwrap_or_default();
        h.set_start_container(None);
        verdict.spec.set_hooks(Some(h));
        #[allow(deprecated)]
        let wrapped = [
            verdict
                .spec
                .hooks()
                .as_ref()
                .and_then(|h| h.prestart().as_ref()),
            verdict
                .spec
                .hooks()
                .as_ref()
                .and_then(|h| h.create_runtime().as_ref()),
            verdict
                .spec
                .hooks()
                .as_ref()
                .and_then(|h| h.create_container().as_ref()),
        ]
        .iter()
        .any(|l| l.is_some_and(|l| !l.is_empty()));
        if wrapped {
            let exe = hooks::ShimExe::open()?;
            exe.wrap(&mut verdict.spec, &caller);
            shim_exe = Some(exe);
        }
        rewritten = true;
    }
    let cgroups_path = verdict
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().clone());
    let cgroup_path = libcontainer::utils::get_cgroup_path(&cgroups_path, id);
    let cgroup_preexisting = super::cgroup::exists(&cgroup_path, ctx.systemd_cgroup);
    // The ledger, before libcontainer makes the cgroup or any process: a forced delete of a
    // create killed from here on finds them through it.
    let own_pidns = verdict
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter()
                .any(|n| n.typ() == LinuxNamespaceType::Pid && n.path().is_none())
        });
    let mut led = ledger::Ledger {
        cgroup: cgroup_path.clone(),
        systemd: ctx.systemd_cgroup,
        cgroup_preexisting,
        init: None,
        creator: creator(),
    };
    ledger::write(&ctx.root, id, &led)
        .with_context(|| format!("create container {id}: write its ledger"))?;
    let effective: PathBuf = if verdict.changes.is_empty() && !rewritten && confine.is_none() {
        caller.clone()
    } else {
        bundle::write_shadow(&ctx.root, id, &caller, &verdict.spec)?
    };

    let report = hooks::ExecReport::new()?;
    let host_proc = std::fs::File::open("/proc").context("open /proc")?;
    let executor = HardenedExecutor {
        init: Some(hooks::InitStart {
            id: id.to_string(),
            bundle: caller.clone(),
            annotations: verdict.spec.annotations().clone(),
            hooks: start_container_hooks,
            proc_fd: host_proc.as_raw_fd(),
            report_fd: report.write.as_raw_fd(),
        }),
        confine,
        ..Default::default()
    };
    let mut builder =
        ContainerBuilder::new(id.to_string(), SyscallType::default()).with_executor(executor);
    if let Some(fd) = writable_null(1)? {
        builder = builder.with_stdout(fd);
    }
    if let Some(fd) = writable_null(2)? {
        builder = builder.with_stderr(fd);
    }
    // Stdio pipes and FIFOs to the container's user, under its user namespace (src/stdio.rs).
    if let Some(owner) = crate::stdio::host_owner(&verdict.spec, userns_range) {
        crate::stdio::give(owner);
    }
    // Entered on this thread, which forks the container's process; left when `entered` drops.
    let entered = join::enter(&prejoin).map_err(|e| e.context(format!("create container {id}")))?;
    let built = builder
        .with_pid_file(opts.pid_file.as_ref())
        .and_then(|b| {
            b.with_console_socket(opts.console_socket.as_ref())
                .with_root_path(&ctx.root)
        })
        .and_then(|b| b.with_preserved_fds(opts.preserve_fds).validate_id())
        .and_then(|b| {
            b.as_init(&effective)
                .with_systemd(ctx.systemd_cgroup)
                .with_detach(detach)
                .with_no_pivot(opts.no_pivot)
                .build()
        });
    drop(entered);
    // Our copies: the init holds its own. `start` must see end of file when the init execs.
    drop(shim_exe);
    drop(host_proc);
    if built.is_ok() {
        undo.state_dir = true;
    }
    let built = built.map_err(|e| {
        // runtime.md lifecycle 3-5, 12-13: the container is gone; its poststop hooks run.
        if let Some(h) = &caller_spec_hooks {
            let state = hooks::stopped_state(id, &caller, &verdict.spec);
            hooks::run_all("poststop", h.poststop().as_ref(), &state);
        }
        anyhow::Error::new(e).context(format!("create container {id}"))
    })?;
    let pid = built.pid().map_or(0, |p| p.as_raw());
    led.init = crate::reap::init_record(pid, own_pidns);
    ledger::write(&ctx.root, id, &led)
        .with_context(|| format!("create container {id}: record its init in the ledger"))?;
    report
        .record(&built.root)
        .with_context(|| format!("create container {id}"))?;
    drop(report);
    compat
        .after_create(pid)
        .with_context(|| format!("create container {id}"))?;
    if let Some(spec) = lasting {
        bundle::write_shadow(&ctx.root, id, &caller, &spec)?;
    }
    undo.armed = false;
    Ok(built)
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

/// Namespaces entered by `create` itself (`userns::join`) are inherited by the container's
/// process: they leave the spec libcontainer sees. Its sysfs cannot be mounted then when the
/// network namespace is one of them (sysfs needs the mounter's user namespace to own the network
/// namespace): as runc does in that case, the host's /sys is bind-mounted read-only instead.
fn without_prejoined(spec: &mut Spec, prejoined: &[(LinuxNamespaceType, PathBuf)]) {
    if prejoined.is_empty() {
        return;
    }
    if let Some(mut linux) = spec.linux().clone() {
        if let Some(mut ns) = linux.namespaces().clone() {
            ns.retain(|n| !prejoined.iter().any(|(t, _)| *t == n.typ()));
            linux.set_namespaces(Some(ns));
        }
        spec.set_linux(Some(linux));
    }
    if !prejoined
        .iter()
        .any(|(t, _)| *t == LinuxNamespaceType::Network)
    {
        return;
    }
    if let Some(mut mounts) = spec.mounts().clone() {
        for m in mounts.iter_mut() {
            if m.typ().as_deref() == Some("sysfs") {
                m.set_typ(Some("bind".into()));
                m.set_source(Some(PathBuf::from("/sys")));
                m.set_options(Some(
                    ["rbind", "nosuid", "noexec", "nodev", "ro"]
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                ));
            }
        }
        spec.set_mounts(Some(mounts));
    }
}

/// libcontainer 0.7 replaces every stdio descriptor of the init that is `/dev/null` with the
/// container's `/dev/null` opened *read-only*, so a container started with its output on
/// `/dev/null` (`hardened run > /dev/null`, `ctr run -d`, Kubernetes sandboxes) gets `EBADF` on
/// every write. For an output descriptor that is `/dev/null`, hand the init `/dev/zero` opened
/// write-only instead: writes are discarded just the same, and libcontainer leaves it alone.
/// Nothing is chowned or changed on the host.
fn writable_null(fd: i32) -> Result<Option<OwnedFd>> {
    let Ok(st) = nix::sys::stat::fstat(fd) else {
        return Ok(None);
    };
    let is_chr = st.st_mode & libc::S_IFMT == libc::S_IFCHR;
    if !(is_chr && st.st_rdev == libc::makedev(1, 3)) {
        return Ok(None);
    }
    let zero = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/zero")
        .context("open /dev/zero to stand in for a /dev/null stdio")?;
    Ok(Some(zero.into()))
}
