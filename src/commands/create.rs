use std::path::PathBuf;

use std::os::fd::OwnedFd;

use anyhow::{bail, Context, Result};
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::Container;
use libcontainer::syscall::syscall::SyscallType;
use std::os::fd::AsRawFd;

use crate::hooks;

use super::{check_systemd, Ctx};
use crate::cli::{Create, CreateOpts};
use crate::executor::HardenedExecutor;
use crate::seccomp::bpf;
use oci_spec::runtime::Spec;

use crate::policy::Unmappable;
use crate::userns::{idmap, join};
use crate::{bundle, compat, pipeline};
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
    let confine = match crate::confine::split_init(&ctx.root, &mut verdict.spec) {
        Ok(c) => c,
        Err(e) => {
            crate::userns::alloc::free(&ctx.root, id);
            return Err(anyhow::Error::new(e).context(format!("create container {id}")));
        }
    };
    // The spec later readers see (exec, state): the idmapped trees exist only in this
    // process's private mount namespace and the container's.
    let mut lasting: Option<Spec> = None;
    let mut prejoin = Vec::new();
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
        match idmapped {
            Ok(s) => verdict.spec = s,
            Err(e) => {
                crate::userns::alloc::free(&ctx.root, id);
                return Err(e.context(format!("prepare the user namespace of container {id}")));
            }
        }
        if let Some(a) = plan.allocation {
            a.hold();
        }
        prejoin = plan.prejoin;
        without_prejoined(&mut verdict.spec, &prejoin);
    }
    // Bind mounts with their own uidMappings/gidMappings (runtime-spec 1.1), in a container
    // that gets no user namespace from the policy (permissive mode, or the engine's own).
    let mut rewritten = false;
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
    let mut compat = compat::rewrite(&verdict.spec).map_err(|e| {
        crate::userns::alloc::free(&ctx.root, id);
        e.context(format!("create container {id}"))
    })?;
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
    let cgroup_preexisting = super::cgroup::exists(&cgroup_path);
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
    // Entered on this thread, which forks the container's process; left when `entered` drops.
    let entered = match join::enter(&prejoin) {
        Ok(e) => e,
        Err(e) => {
            if effective != caller {
                bundle::remove_shadow(&ctx.root, id);
            }
            crate::userns::alloc::free(&ctx.root, id);
            return Err(e.context(format!("create container {id}")));
        }
    };
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
    let report_recorded = match &built {
        Ok(c) => {
            let r = report.record(&c.root);
            if r.is_ok() && cgroup_preexisting {
                let _ = std::fs::write(c.root.join(super::cgroup::PREEXISTING_FILE), "");
            }
            r
        }
        Err(_) => Ok(()),
    };
    drop(report);
    let built = match (built, report_recorded) {
        (Ok(mut c), Err(e)) => {
            let _ = super::delete::delete_container(ctx, &mut c, true);
            return Err(e.context(format!("create container {id}")));
        }
        (b, _) => b,
    };
    match built {
        Ok(mut c) => {
            let pid = c.pid().map_or(0, |p| p.as_raw());
            if let Err(e) = compat.after_create(pid) {
                let _ = super::delete::delete_container(ctx, &mut c, true);
                return Err(e.context(format!("create container {id}")));
            }
            if let Some(spec) = lasting {
                bundle::write_shadow(&ctx.root, id, &caller, &spec)?;
            }
            Ok(c)
        }
        Err(e) => {
            if effective != caller {
                bundle::remove_shadow(&ctx.root, id);
            }
            crate::userns::alloc::free(&ctx.root, id);
            // runtime.md lifecycle 3-5, 12-13: the container is gone; its poststop hooks run.
            if let Some(h) = &caller_spec_hooks {
                let state = hooks::stopped_state(id, &caller, &verdict.spec);
                hooks::run_all("poststop", h.poststop().as_ref(), &state);
            }
            Err(anyhow::Error::new(e).context(format!("create container {id}")))
        }
    }
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
