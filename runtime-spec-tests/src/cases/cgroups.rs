//! config-linux.md Control groups: cgroupsPath and resources (on cgroup v1 controllers, as this
//! suite checks them; v2-only fields are skipped on a v1/hybrid host).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use serde_json::{json, Value};

use super::Case;
use crate::harness::*;

const V1_CONTROLLERS: &[&str] = &[
    "pids", "memory", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio",
];

/// A created (not started) container with `resources` set.
fn created_with(ctx: &mut Ctx<'_>, resources: Value) -> Result<Bundle> {
    let mut b = ctx.bundle()?;
    b.args(&["sleep", "1000"]);
    b.cfg["linux"]["resources"] = resources;
    ctx.create(&b)?;
    Ok(b)
}

fn cg_file(ctx: &Ctx<'_>, b: &Bundle, controller: &str, file: &str) -> Result<String> {
    ctx.host.cgroup.need_v1(controller)?;
    let dir = ctx
        .host
        .cgroup
        .v1_dir(controller, &b.cgroups_path())
        .ok_or_else(|| anyhow!("no {controller} hierarchy"))?;
    let p = dir.join(file);
    fs::read_to_string(&p)
        .map(|s| s.trim().to_string())
        .map_err(|e| anyhow!("{}: {e}", p.display()))
}

/// Resources `res` give `file` of `controller` the value `want`.
fn resource_case(
    ctx: &mut Ctx<'_>,
    controller: &str,
    file: &str,
    res: Value,
    want: &str,
) -> Result<()> {
    if !controller_has(ctx, controller, file)? {
        return Err(skip(format!(
            "this kernel's {controller} controller has no {file}"
        )));
    }
    let b = created_with(ctx, res)?;
    let got = cg_file(ctx, &b, controller, file)?;
    check_eq(file, got.as_str(), want)
}

/// Whether a (non-root) cgroup of `controller` has `file`: look in a probe cgroup of our own.
fn controller_has(ctx: &mut Ctx<'_>, controller: &str, file: &str) -> Result<bool> {
    let mount = ctx.host.cgroup.need_v1(controller)?;
    let probe = mount.join(&ctx.host.cg_parent).join(format!(
        "probe-{}",
        ctx.dir.file_name().unwrap_or_default().to_string_lossy()
    ));
    ctx.own_cgroup(&probe)?;
    let has = probe.join(file).exists();
    remove_cgroup_tree(&probe);
    Ok(has)
}

/// A cgroup of our own below the runtime's parent, with a realtime budget (a child can only
/// get realtime runtime its parents have): the cgroupsPath to use below it.
fn rt_parent(ctx: &mut Ctx<'_>, id: &str) -> Result<String> {
    if !controller_has(ctx, "cpu", "cpu.rt_runtime_us")? {
        return Err(skip(
            "this kernel has no realtime group scheduling (cpu.rt_runtime_us)",
        ));
    }
    let cpu = ctx.host.cgroup.need_v1("cpu")?;
    let top = cpu.join(&ctx.host.cg_parent);
    fs::create_dir_all(&top)?;
    let name = format!(
        "rt-{}",
        ctx.dir.file_name().unwrap_or_default().to_string_lossy()
    );
    let mid = top.join(&name);
    ctx.own_cgroup(&mid)?;
    for (d, v) in [(&top, "100000"), (&mid, "50000")] {
        let cur: u64 = fs::read_to_string(d.join("cpu.rt_runtime_us"))?
            .trim()
            .parse()
            .unwrap_or(0);
        if cur < v.parse::<u64>()? {
            fs::write(d.join("cpu.rt_runtime_us"), v).map_err(|e| {
                skip(format!(
                    "cannot give {} a realtime budget: {e}",
                    d.display()
                ))
            })?;
        }
    }
    Ok(format!("/{}/{}/{}", ctx.host.cg_parent, name, id))
}

/// The whole-disk device (major, minor) under /.
fn root_disk() -> Result<(u64, u64)> {
    let dev = fs::metadata("/")?.dev();
    let (maj, min) = (libc::major(dev) as u64, libc::minor(dev) as u64);
    let sys = PathBuf::from(format!("/sys/dev/block/{maj}:{min}"));
    if !sys.exists() {
        return Err(skip("the root filesystem is not on a block device"));
    }
    if sys.join("partition").exists() {
        let parent = fs::read_to_string(sys.join("../dev"))?;
        let (a, b) = parent
            .trim()
            .split_once(':')
            .ok_or_else(|| anyhow!("bad dev"))?;
        return Ok((a.parse()?, b.parse()?));
    }
    Ok((maj, min))
}

fn throttle_case(ctx: &mut Ctx<'_>, key: &str, file: &str, rate: u64) -> Result<()> {
    let (maj, min) = root_disk()?;
    let res = json!({ "blockIO": { key: [{ "major": maj, "minor": min, "rate": rate }] } });
    resource_case(ctx, "blkio", file, res, &format!("{maj}:{min} {rate}"))
}

/// A block device node (7:0, loop0) made by us in the rootfs outside /dev, so that only the
/// device cgroup decides whether the container may use it.
fn loop_node(b: &Bundle) -> Result<()> {
    let dir = b.rootfs.join("rstdev");
    fs::create_dir_all(&dir)?;
    nix::sys::stat::mknod(
        &dir.join("loop0"),
        nix::sys::stat::SFlag::S_IFBLK,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
        libc::makedev(7, 0),
    )?;
    Ok(())
}

fn device_case(
    ctx: &mut Ctx<'_>,
    rules: Value,
    script: &str,
    edit: impl FnOnce(&mut Bundle),
) -> Result<String> {
    ctx.host.cgroup.need_v1("devices")?;
    if !Path::new("/sys/dev/block/7:0").exists() {
        return Err(skip("no loop0 block device (7:0) on this host"));
    }
    let mut b = ctx.bundle()?;
    loop_node(&b)?;
    b.cfg["linux"]["resources"] = json!({ "devices": rules });
    edit(&mut b);
    ctx.sh_in(&mut b, script)
}

const READ_LOOP: &str = "head -c 1 /rstdev/loop0 >/dev/null 2>/out/err; echo rc=$?; cat /out/err";

fn v2_only(what: &str) -> anyhow::Error {
    skip(format!(
        "{what}: cgroup v2 only, and this host's controllers are cgroup v1"
    ))
}

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("cgroups/path-absolute", "config-linux.md cgroupsPath: In the case of an absolute path (starting with /), the runtime MUST take the path to be relative to the cgroups mount point.", |ctx| {
            if ctx.host.cgroup.is_v2_only() {
                let b = created_with(ctx, json!({}))?;
                let pid = ctx.pid(&b.id)?;
                return check_eq("cgroup", proc_cgroup(pid, "")?, Some(b.cgroups_path()));
            }
            let b = created_with(ctx, json!({}))?;
            let pid = ctx.pid(&b.id)?;
            let want = b.cgroups_path();
            let mut bad = Vec::new();
            for c in V1_CONTROLLERS {
                if !ctx.host.cgroup.v1.contains_key(*c) {
                    continue;
                }
                let got = proc_cgroup(pid, c)?;
                if got.as_deref() != Some(want.as_str()) {
                    bad.push(format!("{c}: {got:?}"));
                }
            }
            check(bad.is_empty(), || format!("container process not in {want}: {}", bad.join(", ")))
        }),
        Case::new("cgroups/path-created", "config-linux.md Control groups: The cgroups will be created if they don't exist.", |ctx| {
            let c = ctx.host.cgroup.need_v1("pids")?;
            let b = created_with(ctx, json!({}))?;
            let d = c.join(b.cgroups_path().trim_start_matches('/'));
            check(d.is_dir(), || format!("{} does not exist", d.display()))
        }),
        Case::new("cgroups/path-relative-consistent", "config-linux.md cgroupsPath: If the value is specified, the runtime MUST consistently attach to the same place in the cgroups hierarchy given the same value of cgroupsPath.", |ctx| {
            ctx.host.cgroup.need_v1("pids")?;
            let rel = format!("{}/relative-{}", ctx.host.cg_parent, ctx.dir.file_name().unwrap_or_default().to_string_lossy());
            let mut paths = Vec::new();
            for _ in 0..2 {
                let mut b = ctx.bundle()?;
                b.args(&["sleep", "1000"]);
                b.cfg["linux"]["cgroupsPath"] = json!(rel);
                ctx.create(&b)?;
                let pid = ctx.pid(&b.id)?;
                paths.push(proc_cgroup(pid, "pids")?);
                ctx.kill(&b.id, "KILL")?;
                ctx.wait_status(&b.id, "stopped", WAIT)?;
                ctx.delete(&b.id)?;
            }
            check(paths[0].is_some() && paths[0] == paths[1], || format!("pids cgroups: {paths:?}"))
        }),
        Case::new("cgroups/existing-cgroup-joined", "config-linux.md cgroupsPath: the runtime MUST take the path to be relative to the cgroups mount point (an existing cgroup is used).", |ctx| {
            let pids = ctx.host.cgroup.need_v1("pids")?;
            let rel = format!("/{}/pre-{}", ctx.host.cg_parent, ctx.dir.file_name().unwrap_or_default().to_string_lossy());
            ctx.own_cgroup(&pids.join(rel.trim_start_matches('/')))?;
            let mut b = ctx.bundle()?;
            b.args(&["sleep", "1000"]);
            b.cfg["linux"]["cgroupsPath"] = json!(rel);
            ctx.create(&b)?;
            let pid = ctx.pid(&b.id)?;
            check_eq("pids cgroup", proc_cgroup(pid, "pids")?, Some(rel))
        }),
        Case::new("cgroups/existing-cgroup-kept", "runtime.md Delete: Note that resources associated with the container, but not created by this container, MUST NOT be deleted (a cgroup that existed before create).", |ctx| {
            let pids = ctx.host.cgroup.need_v1("pids")?;
            let rel = format!("/{}/pre-{}", ctx.host.cg_parent, ctx.dir.file_name().unwrap_or_default().to_string_lossy());
            let dir = pids.join(rel.trim_start_matches('/'));
            ctx.own_cgroup(&dir)?;
            let mut b = ctx.bundle()?;
            b.args(&["true"]);
            b.cfg["linux"]["cgroupsPath"] = json!(rel);
            ctx.run(&b)?;
            check(dir.is_dir(), || format!("the pre-existing cgroup {} was removed by delete", dir.display()))
        }),
        Case::new("cgroups/resources-applied-at-create", "runtime.md Lifecycle step 2: While the resources requested in the config.json MUST be created, the user-specified program MUST NOT be run at this time (limits in place in the created state).", |ctx| {
            resource_case(ctx, "pids", "pids.max", json!({ "pids": { "limit": 77 } }), "77")
        }),
        Case::new("cgroups/pids-limit", "config-linux.md pids: limit (int64, REQUIRED) specifies the maximum number of tasks in the cgroup.", |ctx| {
            ctx.host.cgroup.need_v1("pids")?;
            let mut b = ctx.bundle()?;
            b.args(&["sleep", "1000"]);
            b.cfg["linux"]["resources"] = json!({ "pids": { "limit": 42 } });
            ctx.launch(&b)?;
            check_eq("pids.max", cg_file(ctx, &b, "pids", "pids.max")?.as_str(), "42")
        }),
        Case::new("cgroups/pids-limit-enforced", "config-linux.md pids: limit (int64, REQUIRED) specifies the maximum number of tasks in the cgroup (forks beyond it fail).", |ctx| {
            ctx.host.cgroup.need_v1("pids")?;
            let out = ctx.sh("i=0; while [ $i -lt 12 ]; do sleep 30 & i=$((i+1)); done 2>&1; echo n=$(ls /proc | grep -c '^[0-9]')", |b| {
                b.cfg["linux"]["resources"] = json!({ "pids": { "limit": 6 } });
            })?;
            check(out.contains("can't fork") || out.contains("Resource temporarily unavailable"), || format!("12 forks under a limit of 6: {}", out.replace('\n', " ")))
        }),
        Case::new("cgroups/memory-limit", "config-linux.md memory: limit (int64, OPTIONAL) sets limit of memory usage in bytes.", |ctx| {
            resource_case(ctx, "memory", "memory.limit_in_bytes", json!({ "memory": { "limit": 67108864 } }), "67108864")
        }),
        Case::new("cgroups/memory-limit-unlimited", "config-linux.md memory: The values for memory specify the limits in bytes, or -1 for unlimited memory.", |ctx| {
            resource_case(ctx, "memory", "memory.limit_in_bytes", json!({ "memory": { "limit": -1 } }), "9223372036854771712")
        }),
        Case::new("cgroups/memory-reservation", "config-linux.md memory: reservation (int64, OPTIONAL) sets soft limit of memory usage in bytes.", |ctx| {
            resource_case(ctx, "memory", "memory.soft_limit_in_bytes", json!({ "memory": { "limit": 67108864, "reservation": 33554432 } }), "33554432")
        }),
        Case::new("cgroups/memory-swap", "config-linux.md memory: swap (int64, OPTIONAL) sets limit of memory+Swap usage in bytes.", |ctx| {
            resource_case(ctx, "memory", "memory.memsw.limit_in_bytes", json!({ "memory": { "limit": 67108864, "swap": 134217728 } }), "134217728")
        }),
        Case::new("cgroups/memory-swappiness", "config-linux.md memory: swappiness (uint64, OPTIONAL) sets swappiness parameter of vmscan.", |ctx| {
            resource_case(ctx, "memory", "memory.swappiness", json!({ "memory": { "swappiness": 17 } }), "17")
        }),
        Case::new("cgroups/memory-kernel-tcp", "config-linux.md memory: kernelTCP (int64, OPTIONAL, NOT RECOMMENDED) sets hard limit for kernel TCP buffer memory in bytes.", |ctx| {
            resource_case(ctx, "memory", "memory.kmem.tcp.limit_in_bytes", json!({ "memory": { "kernelTCP": 16777216 } }), "16777216")
        }),
        Case::new("cgroups/memory-disable-oom-killer", "config-linux.md memory: disableOOMKiller (bool, OPTIONAL) enables or disables the OOM killer.", |ctx| {
            ctx.host.cgroup.need_v1("memory")?;
            let b = created_with(ctx, json!({ "memory": { "limit": 67108864, "disableOOMKiller": true } }))?;
            let oc = cg_file(ctx, &b, "memory", "memory.oom_control")?;
            check(oc.lines().any(|l| l.trim() == "oom_kill_disable 1"), || format!("memory.oom_control: {}", oc.replace('\n', ", ")))
        }),
        Case::new("cgroups/cpu-shares", "config-linux.md cpu: shares (uint64, OPTIONAL) specifies a relative share of CPU time available to the tasks in a cgroup.", |ctx| {
            resource_case(ctx, "cpu", "cpu.shares", json!({ "cpu": { "shares": 512 } }), "512")
        }),
        Case::new("cgroups/cpu-quota", "config-linux.md cpu: quota (int64, OPTIONAL) specifies the total amount of time in microseconds for which all tasks in a cgroup can run during one period.", |ctx| {
            resource_case(ctx, "cpu", "cpu.cfs_quota_us", json!({ "cpu": { "quota": 30000, "period": 100000 } }), "30000")
        }),
        Case::new("cgroups/cpu-period", "config-linux.md cpu: period (uint64, OPTIONAL) specifies a period of time in microseconds for how regularly a cgroup's access to CPU resources should be reallocated (CFS scheduler only).", |ctx| {
            resource_case(ctx, "cpu", "cpu.cfs_period_us", json!({ "cpu": { "quota": 50000, "period": 250000 } }), "250000")
        }),
        Case::new("cgroups/cpu-burst", "config-linux.md cpu: burst (uint64, OPTIONAL) specifies the maximum amount of accumulated time in microseconds for which all tasks in a cgroup can run additionally for burst during one period.", |ctx| {
            resource_case(ctx, "cpu", "cpu.cfs_burst_us", json!({ "cpu": { "quota": 50000, "period": 100000, "burst": 20000 } }), "20000")
        }),
        Case::new("cgroups/cpu-realtime-runtime", "config-linux.md cpu: realtimeRuntime (int64, OPTIONAL) specifies a period of time in microseconds for the longest continuous period in which the tasks in a cgroup have access to CPU resources (below a parent cgroup with a realtime budget).", |ctx| {
            let mut b = ctx.bundle()?;
            let cgp = rt_parent(ctx, &b.id)?;
            b.args(&["sleep", "1000"]);
            b.cfg["linux"]["cgroupsPath"] = json!(cgp);
            b.cfg["linux"]["resources"] = json!({ "cpu": { "realtimeRuntime": 10000, "realtimePeriod": 1000000 } });
            ctx.create(&b)?;
            check_eq("cpu.rt_runtime_us", cg_file(ctx, &b, "cpu", "cpu.rt_runtime_us")?.as_str(), "10000")
        }),
        Case::new("cgroups/cpu-realtime-period", "config-linux.md cpu: realtimePeriod (uint64, OPTIONAL) same as period but applies to realtime scheduler only.", |ctx| {
            resource_case(ctx, "cpu", "cpu.rt_period_us", json!({ "cpu": { "realtimePeriod": 800000 } }), "800000")
        }),
        Case::new("cgroups/cpu-idle", "config-linux.md cpu: idle (int64, OPTIONAL) cgroups are configured with minimum weight, 0: default behavior, 1: SCHED_IDLE.", |ctx| {
            resource_case(ctx, "cpu", "cpu.idle", json!({ "cpu": { "idle": 1 } }), "1")
        }),
        Case::new("cgroups/cpuset-cpus", "config-linux.md cpu: cpus (string, OPTIONAL) list of CPUs the container will run in.", |ctx| {
            resource_case(ctx, "cpuset", "cpuset.cpus", json!({ "cpu": { "cpus": "0" } }), "0")
        }),
        Case::new("cgroups/cpuset-mems", "config-linux.md cpu: mems (string, OPTIONAL) list of Memory Nodes the container will run in.", |ctx| {
            resource_case(ctx, "cpuset", "cpuset.mems", json!({ "cpu": { "mems": "0" } }), "0")
        }),
        Case::new("cgroups/devices-deny", "config-linux.md Device allowlist: devices (array of objects, OPTIONAL) configures the device allowlist; allow (boolean, REQUIRED) whether the entry is allowed or denied.", |ctx| {
            let out = device_case(ctx, json!([{ "allow": false, "access": "rwm" }]), READ_LOOP, |_| {})?;
            check(!out.contains("rc=0") && out.contains("Operation not permitted"), || format!("read of a denied device: {}", out.replace('\n', " ")))
        }),
        Case::new("cgroups/devices-allow", "config-linux.md Device allowlist: type (b), major, minor, access (r) of an allowed entry.", |ctx| {
            let out = device_case(ctx, json!([{ "allow": false, "access": "rwm" }, { "allow": true, "type": "b", "major": 7, "minor": 0, "access": "r" }]), READ_LOOP, |_| {})?;
            check(out.contains("rc=0"), || format!("read of an allowed device: {}", out.replace('\n', " ")))
        }),
        Case::new("cgroups/devices-order", "config-linux.md Device allowlist: The runtime MUST apply entries in the listed order.", |ctx| {
            let out = device_case(ctx, json!([
                { "allow": false, "access": "rwm" },
                { "allow": true, "type": "b", "major": 7, "minor": 0, "access": "rwm" },
                { "allow": false, "type": "b", "major": 7, "minor": 0, "access": "rwm" }
            ]), READ_LOOP, |_| {})?;
            check(!out.contains("rc=0"), || "the device was usable although the last entry denies it".into())
        }),
        Case::new("cgroups/devices-wildcard-major-minor", "config-linux.md Device allowlist: major, minor (int64, OPTIONAL) major, minor numbers for the device. Unset values mean \"all\".", |ctx| {
            let out = device_case(ctx, json!([{ "allow": false, "access": "rwm" }, { "allow": true, "type": "b", "access": "r" }]), READ_LOOP, |_| {})?;
            check(out.contains("rc=0"), || format!("read with a b *:* r entry: {}", out.replace('\n', " ")))
        }),
        Case::new("cgroups/devices-mknod-denied", "config-linux.md Device allowlist: access (string, OPTIONAL) cgroup permissions for device. A composition of r (read), w (write), and m (mknod) (no m: mknod fails).", |ctx| {
            let out = device_case(ctx, json!([{ "allow": false, "access": "rwm" }, { "allow": true, "type": "b", "major": 7, "minor": 0, "access": "rw" }]),
                "mknod /tmp/node b 7 0 2>&1; echo rc=$?", |b| {
                    b.cfg["process"]["capabilities"] = json!({ "bounding": ["CAP_MKNOD"], "effective": ["CAP_MKNOD"], "permitted": ["CAP_MKNOD"] });
                })?;
            check(!out.contains("rc=0"), || "mknod succeeded without m access".into())
        }),
        Case::new("cgroups/devices-mknod-allowed", "config-linux.md Device allowlist: access ... m (mknod) allows creating the device node.", |ctx| {
            let out = device_case(ctx, json!([{ "allow": false, "access": "rwm" }, { "allow": true, "type": "b", "major": 7, "minor": 0, "access": "rwm" }]),
                "mknod /tmp/node b 7 0 2>&1; echo rc=$?", |b| {
                    b.cfg["process"]["capabilities"] = json!({ "bounding": ["CAP_MKNOD"], "effective": ["CAP_MKNOD"], "permitted": ["CAP_MKNOD"] });
                })?;
            check(out.contains("rc=0"), || format!("mknod with m access: {}", out.replace('\n', " ")))
        }),
        Case::new("cgroups/blkio-throttle-read-bps", "config-linux.md blockIO: throttleReadBpsDevice (array, OPTIONAL) specify the list of devices which will be bandwidth rate limited (read bytes/s).", |ctx| {
            throttle_case(ctx, "throttleReadBpsDevice", "blkio.throttle.read_bps_device", 1048576)
        }),
        Case::new("cgroups/blkio-throttle-write-bps", "config-linux.md blockIO: throttleWriteBpsDevice (array, OPTIONAL) (write bytes/s).", |ctx| {
            throttle_case(ctx, "throttleWriteBpsDevice", "blkio.throttle.write_bps_device", 2097152)
        }),
        Case::new("cgroups/blkio-throttle-read-iops", "config-linux.md blockIO: throttleReadIOPSDevice (array, OPTIONAL) (read IO/s).", |ctx| {
            throttle_case(ctx, "throttleReadIOPSDevice", "blkio.throttle.read_iops_device", 300)
        }),
        Case::new("cgroups/blkio-throttle-write-iops", "config-linux.md blockIO: throttleWriteIOPSDevice (array, OPTIONAL) (write IO/s).", |ctx| {
            throttle_case(ctx, "throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", 400)
        }),
        Case::new("cgroups/blkio-weight", "config-linux.md blockIO: weight (uint16, OPTIONAL) specifies per-cgroup weight.", |ctx| {
            resource_case(ctx, "blkio", "blkio.weight", json!({ "blockIO": { "weight": 300 } }), "300")
        }),
        Case::new("cgroups/blkio-weight-device", "config-linux.md blockIO: weightDevice (array of objects, OPTIONAL) specifies the list of devices which will be bandwidth rate limited.", |ctx| {
            let (maj, min) = root_disk()?;
            resource_case(ctx, "blkio", "blkio.weight_device", json!({ "blockIO": { "weightDevice": [{ "major": maj, "minor": min, "weight": 300 }] } }), &format!("{maj}:{min} 300"))
        }),
        Case::new("cgroups/hugepage-limits", "config-linux.md hugepageLimits (array of objects, OPTIONAL) represents the hugetlb controller which allows to limit the HugeTLB reservations (if supported) or usage (page fault).", |ctx| {
            ctx.host.cgroup.need_v1("hugetlb").map_err(|_| skip("no cgroup v1 hugetlb controller on this host (hugetlb is only in the cgroup2 mount)"))?;
            resource_case(ctx, "hugetlb", "hugetlb.2MB.limit_in_bytes", json!({ "hugepageLimits": [{ "pageSize": "2MB", "limit": 4194304 }] }), "4194304")
        }),
        Case::new("cgroups/network-class-id", "config-linux.md network: classID (uint32, OPTIONAL) is the network class identifier the cgroup's network packets will be tagged with.", |ctx| {
            resource_case(ctx, "net_cls", "net_cls.classid", json!({ "network": { "classID": 1048577 } }), "1048577")
        }),
        Case::new("cgroups/network-priorities", "config-linux.md network: priorities (array of objects, OPTIONAL) specifies a list of objects of the priorities assigned to traffic originating from processes in the group and egressing the system on various interfaces.", |ctx| {
            resource_case(ctx, "net_prio", "net_prio.ifpriomap", json!({ "network": { "priorities": [{ "name": "lo", "priority": 5 }] } }), "lo 5")
        }),
        Case::new("cgroups/rdma", "config-linux.md rdma (object, OPTIONAL) represents the cgroup subsystem rdma.", |ctx| {
            ctx.host.cgroup.need_v1("rdma")?;
            Err(skip("no RDMA device on this host"))
        }),
        Case::new("cgroups/unified", "config-linux.md unified (object, OPTIONAL) allows cgroup v2 parameters to be set for the container (keys are files in the cgroup unified hierarchy).", |ctx| {
            if !ctx.host.cgroup.is_v2_only() {
                return Err(v2_only("linux.resources.unified"));
            }
            let mut b = ctx.bundle()?;
            b.args(&["sleep", "1000"]);
            b.cfg["linux"]["resources"] = json!({ "unified": { "pids.max": "33" } });
            ctx.create(&b)?;
            let u = ctx.host.cgroup.unified.clone().ok_or_else(|| anyhow!("no cgroup2"))?;
            let got = fs::read_to_string(u.join(b.cgroups_path().trim_start_matches('/')).join("pids.max"))?;
            check_eq("pids.max", got.trim(), "33")
        }),
        Case::new("cgroups/intel-rdt", "config-linux.md IntelRdt: intelRdt (object, OPTIONAL) represents the Intel Resource Director Technology.", |_ctx| {
            if !Path::new("/sys/fs/resctrl/schemata").exists() {
                return Err(skip("resctrl is not mounted (no Intel RDT) on this host"));
            }
            Err(skip("resctrl is mounted, but this suite has no Intel RDT check yet"))
        }),
    ]
}
