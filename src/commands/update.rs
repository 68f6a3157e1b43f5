use std::io::Read;

use anyhow::{bail, Context, Result};
use libcgroups::common::{CgroupManager, ControllerOpt};
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources,
};

use super::Ctx;
use crate::cgroup;
use crate::cli::Update;

/// Parse a byte size as runc does (`512m`, `1g`, `1024`, `-1`).
pub fn parse_bytes(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size {s:?}: use bytes or a number with k, m, g"))?;
    if n < 0.0 {
        bail!("invalid size {s:?}: must not be negative");
    }
    Ok((n * mult as f64) as i64)
}

fn resources_from_flags(a: &Update) -> Result<LinuxResources> {
    let mut r = LinuxResources::default();
    if a.memory.is_some() || a.memory_reservation.is_some() || a.memory_swap.is_some() {
        let mut m = LinuxMemoryBuilder::default();
        if let Some(v) = &a.memory {
            m = m.limit(parse_bytes(v)?);
        }
        if let Some(v) = &a.memory_reservation {
            m = m.reservation(parse_bytes(v)?);
        }
        if let Some(v) = &a.memory_swap {
            m = m.swap(parse_bytes(v)?);
        }
        r.set_memory(Some(m.build()?));
    }
    if a.cpu_period.is_some()
        || a.cpu_quota.is_some()
        || a.cpu_share.is_some()
        || a.cpu_rt_period.is_some()
        || a.cpu_rt_runtime.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some()
    {
        let mut c = LinuxCpuBuilder::default();
        if let Some(v) = a.cpu_period {
            c = c.period(v);
        }
        if let Some(v) = a.cpu_quota {
            c = c.quota(v);
        }
        if let Some(v) = a.cpu_share {
            c = c.shares(v);
        }
        if let Some(v) = a.cpu_rt_period {
            c = c.realtime_period(v);
        }
        if let Some(v) = a.cpu_rt_runtime {
            c = c.realtime_runtime(v);
        }
        if let Some(v) = &a.cpuset_cpus {
            c = c.cpus(v.clone());
        }
        if let Some(v) = &a.cpuset_mems {
            c = c.mems(v.clone());
        }
        r.set_cpu(Some(c.build()?));
    }
    if let Some(w) = a.blkio_weight {
        r.set_block_io(Some(LinuxBlockIoBuilder::default().weight(w).build()?));
    }
    if let Some(p) = a.pids_limit {
        r.set_pids(Some(LinuxPidsBuilder::default().limit(p).build()?));
    }
    Ok(r)
}

/// runc's `update` reads a zero (an empty cpuset) as "leave it as it is", and the engines rely
/// on it: `docker update --pids-limit 50` sends every other field of `linux.resources` as 0.
/// libcgroups' systemd manager refuses those zeros (`invalid memory reservation value: 0`), and
/// its cgroupfs managers would write some of them; so they are taken out before it sees them.
fn zero_means_unchanged(r: &mut LinuxResources) {
    fn keep<T: PartialEq + Default>(v: Option<T>) -> Option<T> {
        v.filter(|x| *x != T::default())
    }
    if let Some(mut m) = *r.memory() {
        m.set_limit(keep(m.limit()));
        m.set_reservation(keep(m.reservation()));
        m.set_swap(keep(m.swap()));
        m.set_kernel(keep(m.kernel()));
        m.set_kernel_tcp(keep(m.kernel_tcp()));
        r.set_memory(Some(m));
    }
    if let Some(mut c) = r.cpu().clone() {
        c.set_shares(keep(c.shares()));
        c.set_quota(keep(c.quota()));
        c.set_period(keep(c.period()));
        c.set_realtime_runtime(keep(c.realtime_runtime()));
        c.set_realtime_period(keep(c.realtime_period()));
        c.set_cpus(keep(c.cpus().clone()));
        c.set_mems(keep(c.mems().clone()));
        r.set_cpu(Some(c));
    }
    if let Some(mut b) = r.block_io().clone() {
        b.set_weight(keep(b.weight()));
        b.set_leaf_weight(keep(b.leaf_weight()));
        r.set_block_io(Some(b));
    }
    if r.pids().as_ref().is_some_and(|p| p.limit() == 0) {
        r.set_pids(None);
    }
}

pub fn update(ctx: &Ctx, a: &Update) -> Result<()> {
    let c = ctx.load(&a.id)?;
    let resources: LinuxResources = match &a.resources {
        Some(path) => {
            let mut raw = Vec::new();
            if path.as_os_str() == "-" {
                std::io::stdin().read_to_end(&mut raw)?;
            } else {
                raw = std::fs::read(path)
                    .with_context(|| format!("read resources file {}", path.display()))?;
            }
            serde_json::from_slice(&raw)
                .context("the resources must be a runtime-spec linux.resources JSON object")?
        }
        None => resources_from_flags(a)?,
    };
    let mut resources = resources;
    zero_means_unchanged(&mut resources);
    // libcgroups would reset disableOOMKiller and the device rules compat set (src/gaps/).
    let saved = crate::bundle::load_spec(c.bundle()).ok();
    let again = crate::gaps::plan::plan_update(saved.as_ref(), &resources);
    cgroup::manager(&c)?
        .apply(&ControllerOpt {
            resources: &resources,
            disable_oom_killer: again.disable_oom_killer,
            oom_score_adj: None,
            freezer_state: None,
        })
        .with_context(|| format!("update the resources of container {}", a.id))?;
    if let Some(pid) = c.pid() {
        again
            .apply(pid.as_raw())
            .with_context(|| format!("update the resources of container {}", a.id))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{parse_bytes, zero_means_unchanged};

    /// What `docker update --pids-limit 50` sends (Docker 20.10): every other field zero.
    #[test]
    fn zeros_from_the_engines_mean_unchanged() {
        let mut r: oci_spec::runtime::LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":0,"reservation":0,"swap":0,"kernel":0,"kernelTCP":0},
                "cpu":{"shares":0,"quota":0,"period":0,"realtimeRuntime":0,"realtimePeriod":0,"cpus":"","mems":""},
                "blockIO":{"weight":0},"pids":{"limit":50}}"#,
        )
        .expect("resources");
        zero_means_unchanged(&mut r);
        let m = (*r.memory()).expect("memory");
        assert_eq!((m.limit(), m.reservation(), m.swap()), (None, None, None));
        let c = r.cpu().clone().expect("cpu");
        assert_eq!((c.shares(), c.quota(), c.period()), (None, None, None));
        assert_eq!((c.cpus().clone(), c.mems().clone()), (None, None));
        assert_eq!(r.block_io().clone().expect("blkio").weight(), None);
        assert_eq!((*r.pids()).expect("pids").limit(), 50);

        let mut r: oci_spec::runtime::LinuxResources =
            serde_json::from_str(r#"{"memory":{"limit":67108864,"swap":-1},"pids":{"limit":0}}"#)
                .expect("resources");
        zero_means_unchanged(&mut r);
        let m = (*r.memory()).expect("memory");
        assert_eq!((m.limit(), m.swap()), (Some(67108864), Some(-1)));
        assert!(r.pids().is_none());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("2kb").unwrap(), 2048);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        assert!(parse_bytes("lots").is_err());
    }
}
