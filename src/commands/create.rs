use std::path::PathBuf;

use std::os::fd::OwnedFd;

use anyhow::{bail, Context, Result};
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::Container;
use libcontainer::syscall::syscall::SyscallType;
use libcontainer::workload::default::DefaultExecutor;

use super::{check_systemd, Ctx};
use crate::cli::{Create, CreateOpts};
use oci_spec::runtime::Spec;

use crate::policy::Unmappable;
use crate::userns::idmap;
use crate::{bundle, pipeline};

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
    let caller = bundle::canonical_bundle(&opts.bundle)?;
    let spec = bundle::load_spec(&caller)?;
    let prepared = pipeline::prepare_container(&ctx.policy, &spec, id, Some(&caller), &ctx.root)?;
    let mut verdict = prepared.verdict;
    // The spec later readers see (exec, state): the idmapped trees exist only in this
    // process's private mount namespace and the container's.
    let mut lasting: Option<Spec> = None;
    if let Some(allocation) = prepared.userns {
        lasting = Some(verdict.spec.clone());
        // The user namespace the policy added: idmap the root filesystem and bind mounts, in a
        // private mount namespace of this process that the container's is copied from.
        let range = allocation.range;
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
        allocation.hold();
    }
    let effective: PathBuf = if verdict.changes.is_empty() {
        caller.clone()
    } else {
        bundle::write_shadow(&ctx.root, id, &caller, &verdict.spec)?
    };

    let mut builder = ContainerBuilder::new(id.to_string(), SyscallType::default())
        .with_executor(DefaultExecutor {});
    if let Some(fd) = writable_null(1)? {
        builder = builder.with_stdout(fd);
    }
    if let Some(fd) = writable_null(2)? {
        builder = builder.with_stderr(fd);
    }
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
    match built {
        Ok(c) => {
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
            Err(anyhow::Error::new(e).context(format!("create container {id}")))
        }
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
