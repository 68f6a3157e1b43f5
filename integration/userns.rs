//! User namespaces by default, seen from inside the containers and from the host.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    docker, docker_run_cmd, image, poll_for, run, test_env, unique, DockerContainer, Sandbox,
};

/// (container start, host start, size) of the first line of a uid_map.
fn parse_map(text: &str) -> (u64, u64, u64) {
    let f: Vec<u64> = text
        .split_whitespace()
        .take(3)
        .map(|n| n.parse().expect("number"))
        .collect();
    (f[0], f[1], f[2])
}

fn host_uid_of(pid: i32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|u| u.parse().ok())
        .expect("Uid line")
}

fn docker_pid(name: &str) -> i32 {
    run(docker().args(["inspect", "-f", "{{.State.Pid}}", name]))
        .stdout
        .trim()
        .parse()
        .expect("pid")
}

fn docker_detached(name: &str, flags: &[&str]) {
    let out = run(docker_run_cmd("hardened")
        .args(["-d", "--name", name])
        .args(flags)
        .arg(image())
        .args(["sleep", "300"]));
    assert!(out.ok(), "{out:?}");
}

fn ranges_dir() -> PathBuf {
    PathBuf::from(test_env("HARDENED_TEST_DAEMON_DIR")).join("exec/runtime-runc/moby/.userns")
}

fn range_owners() -> BTreeSet<String> {
    std::fs::read_dir(ranges_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(|s| s.trim().to_string())
        .collect()
}

#[test]
fn docker_containers_run_as_an_unprivileged_host_user_with_images_unchanged() {
    let a = unique("ua");
    let _ga = DockerContainer(a.clone());
    docker_detached(&a, &[]);
    let inside = |script: &str| {
        let out = run(docker().args(["exec", &a, "sh", "-c", script]));
        assert!(out.ok(), "{script}: {out:?}");
        out.stdout
    };
    let (c, h, n) = parse_map(&inside("cat /proc/self/uid_map"));
    assert_eq!(c, 0);
    assert!(h >= 65536, "host start {h}");
    assert_eq!(n, 65536);
    assert_eq!(parse_map(&inside("cat /proc/self/gid_map")).1, h);
    // Files keep the owners the image gave them, and root reads a root-only file.
    assert_eq!(inside("stat -c %u /bin/busybox").trim(), "0");
    assert_eq!(inside("cat /etc/secret-0600").trim(), "secret");
    assert_eq!(inside("id -u").trim(), "0");
    // On the host, the container's PID 1 is the unprivileged user of its range.
    let pid = docker_pid(&a);
    assert_eq!(host_uid_of(pid) as u64, h);
    // docker exec joins the user namespace; -u 1000 is uid 1000 inside, h+1000 outside.
    let out = run(docker().args([
        "exec",
        "-u",
        "1000",
        &a,
        "sh",
        "-c",
        "id -u; sleep 2 & cat /proc/$!/status | grep Uid",
    ]));
    assert!(out.stdout.starts_with("1000"), "{out:?}");
    // docker top shows the host-side IDs.
    let top = run(docker().args(["top", &a, "-o", "uid,pid,comm"]));
    assert!(top.stdout.contains(&h.to_string()), "{top:?}");
    // The container's id holds a range.
    let id = run(docker().args(["inspect", "-f", "{{.Id}}", &a]))
        .stdout
        .trim()
        .to_string();
    assert!(range_owners().contains(&id), "{:?}", range_owners());
    // A second container gets a disjoint range.
    let b = unique("ub");
    let _gb = DockerContainer(b.clone());
    docker_detached(&b, &[]);
    let out = run(docker().args(["exec", &b, "cat", "/proc/self/uid_map"]));
    let (_, h2, n2) = parse_map(&out.stdout);
    assert!(
        h2 + n2 <= h || h + n <= h2,
        "ranges overlap: {h}+{n} and {h2}+{n2}"
    );
    // docker rm frees the range.
    assert!(run(docker().args(["rm", "-f", &a])).ok());
    assert!(
        !range_owners().contains(&id),
        "range of {id} not freed: {:?}",
        range_owners()
    );
}

#[test]
fn a_file_written_by_container_root_into_a_volume_is_root_owned_on_the_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vol = format!("{}:/data", dir.path().display());
    let name = unique("uvol");
    let _g = DockerContainer(name.clone());
    let out = run(docker_run_cmd("hardened")
        .args(["--name", &name, "-v", &vol])
        .arg(image())
        .args([
            "sh",
            "-c",
            "echo hi > /data/f && stat -c %u /data/f && cat /proc/self/uid_map",
        ]));
    assert!(out.ok(), "{out:?}");
    assert!(out.stdout.starts_with("0\n"), "inside: {out:?}");
    let (_, h, _) = parse_map(out.stdout.lines().nth(1).unwrap_or_default());
    assert!(h >= 65536, "{out:?}");
    let meta = std::fs::metadata(dir.path().join("f")).expect("the file on the host");
    assert_eq!(
        (meta.uid(), meta.gid()),
        (0, 0),
        "idmapped volume: container root is root's files"
    );
}

/// `hardened create` (enforcing) of many containers at once: disjoint ranges.
#[test]
fn fifty_parallel_creates_never_share_a_range() {
    let sb = Sandbox::new();
    let b = sb.bundle("b", &["sleep", "300"]);
    let ids: Vec<String> = (0..50)
        .map(|i| format!("par-{}-{i}", std::process::id()))
        .collect();
    std::thread::scope(|s| {
        for id in &ids {
            let sb = &sb;
            let b = &b;
            s.spawn(move || {
                // The container's init inherits create's stdio and keeps it open: no pipes
                // (a captured stdout would never reach EOF); stderr goes to a file.
                let err_path = sb.dir.path().join(format!("{id}.stderr"));
                let err = std::fs::File::create(&err_path).expect("stderr file");
                let status = sb
                    .hardened_enforcing()
                    .args(["create", "-b"])
                    .arg(b)
                    .arg(id)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(err)
                    .status()
                    .expect("spawn create");
                let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
                assert!(status.success(), "{id}: {status} {stderr}");
            });
        }
    });
    let mut starts = BTreeSet::new();
    for id in &ids {
        let st = run(sb.hardened().args(["state", id]));
        let v: serde_json::Value = serde_json::from_str(&st.stdout).expect("state JSON");
        let pid = v["pid"].as_i64().expect("pid");
        let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).expect("uid_map");
        let (_, h, n) = parse_map(&map);
        assert_eq!(n, 65536);
        assert!(starts.insert(h), "{id} shares host range {h}");
    }
    for id in &ids {
        assert!(run(sb.hardened().args(["delete", "--force", id])).ok());
    }
    // The last free removes the directory.
    let left: Vec<_> = std::fs::read_dir(sb.root().join(".userns"))
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    assert!(left.is_empty(), "ranges not freed: {left:?}");
}

fn mount_lines() -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn sigkill_in_the_middle_of_create_leaks_no_range_and_no_mount() {
    let sb = Sandbox::new();
    // A pool of one range: the next create only succeeds if the killed one's range comes back.
    let policy = sb.dir.path().join("one-range.toml");
    std::fs::write(
        &policy,
        format!(
            "audit_log = {:?}\n[user_namespace]\nstart = 1500000000\nranges = 1\n",
            sb.audit_log().display().to_string()
        ),
    )
    .expect("policy");
    let b = sb.bundle("b", &["true"]);
    let mounts_before = mount_lines();
    for (i, delay_ms) in [0u64, 2, 5, 10, 20, 40].iter().enumerate() {
        let id = format!("killed-{i}");
        let mut child = Command::new(common::hardened_bin())
            .arg("--root")
            .arg(sb.root())
            .arg("--policy")
            .arg(&policy)
            .args(["create", "-b"])
            .arg(&b)
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn create");
        std::thread::sleep(Duration::from_millis(*delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // What an engine does after a failed create.
        let del = run(sb.hardened().args(["delete", "--force", &id]));
        eprintln!("delete --force {id}: {del:?}");
    }
    // The pool's one range is free again: a create gets it.
    let out = run(Command::new(common::hardened_bin())
        .arg("--root")
        .arg(sb.root())
        .arg("--policy")
        .arg(&policy)
        .args(["run", "-b"])
        .arg(&b)
        .arg("after"));
    assert!(
        out.ok(),
        "the range leaked: {out:?}; ranges: {:?}",
        std::fs::read_dir(sb.root().join(".userns"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| (
                e.file_name(),
                std::fs::read_to_string(e.path()).unwrap_or_default()
            ))
            .collect::<Vec<_>>()
    );
    // Asserted right below, whether they settled in time or not.
    let _ = poll_for(Duration::from_secs(5), Duration::from_millis(100), || {
        (mount_lines() == mounts_before).then_some(())
    });
    assert_eq!(mount_lines(), mounts_before, "mounts leaked on the host");
    assert!(!Path::new(&sb.root().join(".userns/0")).exists());
}

fn ns_link(pid: i32, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .expect("ns link")
        .display()
        .to_string()
}

/// Docker `--network/--ipc/--pid container:X`: a process in a new user namespace could not
/// enter X's namespaces; the container joins X's user namespace and shares its range, which
/// stays taken for as long as either lives.
#[test]
fn containers_joining_another_containers_namespaces_share_its_user_namespace() {
    let donor = unique("udonor");
    let _gd = DockerContainer(donor.clone());
    docker_detached(&donor, &["--ipc", "shareable"]);
    let dpid = docker_pid(&donor);
    let with = format!("container:{donor}");
    let joiner = unique("ujoin");
    let _gj = DockerContainer(joiner.clone());
    // Its pid namespace too (a container that would die with the donor: not kept below).
    let out = run(docker_run_cmd("hardened")
        .args(["--rm"])
        .args(["--pid", &with])
        .arg(image())
        .args([
            "sh",
            "-c",
            "readlink /proc/self/ns/user; readlink /proc/self/ns/pid",
        ]));
    assert!(out.ok(), "{out:?}");
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        vec![ns_link(dpid, "user"), ns_link(dpid, "pid")],
        "{out:?}"
    );
    let out = run(docker()
        .args(["run", "-d", "--name", &joiner, "--runtime", "hardened"])
        .args(["--network", &with, "--ipc", &with])
        .arg(image())
        .args(["sleep", "300"]));
    assert!(out.ok(), "{out:?}");
    let jpid = docker_pid(&joiner);
    for kind in ["user", "net", "ipc"] {
        assert_eq!(ns_link(jpid, kind), ns_link(dpid, kind), "{kind} namespace");
    }
    assert_ne!(
        ns_link(jpid, "user"),
        ns_link(std::process::id() as i32, "user")
    );
    assert!(host_uid_of(jpid) >= 65536);
    // exec into the joiner also lands in the shared user namespace.
    let inside = run(docker().args(["exec", &joiner, "readlink", "/proc/self/ns/user"]));
    assert_eq!(inside.stdout.trim(), ns_link(dpid, "user"), "{inside:?}");
    // The donor goes first: the range passes to the joiner and is not handed out.
    let jid = run(docker().args(["inspect", "-f", "{{.Id}}", &joiner]))
        .stdout
        .trim()
        .to_string();
    assert!(run(docker().args(["rm", "-f", &donor])).ok());
    assert!(range_owners().contains(&jid), "{:?}", range_owners());
    assert!(run(docker().args(["rm", "-f", &joiner])).ok());
    assert!(!range_owners().contains(&jid), "{:?}", range_owners());
}

/// A network namespace made by the engine in the host's user namespace (as containerd's CRI
/// makes a pod's before its sandbox): entered before the container's user namespace is made;
/// sysfs is then the host's /sys, read-only (as runc does).
/// A namespace of `kind` (`net`, `ipc`) made in the host's user namespace, as an engine makes
/// it (`unshare --KIND=FILE`), kept by a bind mount on a file in the sandbox; unmounted on drop.
struct NsFile(PathBuf);

impl NsFile {
    fn unshare(sb: &Sandbox, kind: &str) -> Self {
        let path = sb.dir.path().join(format!("{kind}ns"));
        std::fs::write(&path, "").expect("namespace file");
        let mut arg = std::ffi::OsString::from(format!("--{kind}="));
        arg.push(&path);
        let out = run(Command::new("unshare").arg(&arg).arg("true"));
        assert!(out.ok(), "unshare: {out:?}");
        NsFile(path)
    }

    fn ino(&self) -> u64 {
        std::fs::metadata(&self.0).expect("namespace file").ino()
    }
}

impl Drop for NsFile {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn a_network_namespace_made_by_the_engine_is_entered_before_the_user_namespace() {
    let sb = Sandbox::new();
    let ns = NsFile::unshare(&sb, "net");
    let (netns, ino) = (&ns.0, ns.ino());
    let b = sb.bundle(
        "b",
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map; readlink /proc/self/ns/net; touch /sys/x 2>&1; true",
        ],
    );
    sb.edit_config(
        &b,
        &format!(
            r#"(.linux.namespaces[] | select(.type == "network")) |= {{"type": "network", "path": "{}"}}"#,
            netns.display()
        ),
    );
    let out = run(sb
        .hardened_enforcing()
        .args(["run", "-b"])
        .arg(&b)
        .arg(unique("prejoin")));
    assert!(out.ok(), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let (_, h, _) = parse_map(lines.first().copied().unwrap_or_default());
    assert!(h >= 65536, "{out:?}");
    assert_eq!(
        lines.get(1).copied(),
        Some(format!("net:[{ino}]").as_str()),
        "{out:?}"
    );
    assert!(out.stdout.contains("Read-only file system"), "{out:?}");
}

/// runtime-spec 1.1: a bind mount with its own `uidMappings`/`gidMappings` is idmapped with
/// them (what containerd and the kubelet send for `hostUsers: false`), in a container whose user
/// namespace the engine asked for (the policy adds none: permissive).
#[test]
fn mounts_with_their_own_id_mappings_are_idmapped() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    // The container's root (host uid 2000000000) must reach its bundle.
    std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o711))
        .expect("chmod sandbox");
    let data = sb.dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(data.join("f"), "x").expect("file owned by host root");
    let b = sb.bundle(
        "b",
        &[
            "sh",
            "-c",
            "stat -c %u:%g /mapped/f /plain/f; cat /proc/self/uid_map",
        ],
    );
    std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // The rootfs is not the container's (no idmapped root here): its mount points exist.
    for d in ["mapped", "plain"] {
        std::fs::create_dir(b.join("rootfs").join(d)).expect("mount point");
    }
    let map = r#"[{"containerID": 0, "hostID": 2000000000, "size": 65536}]"#;
    sb.edit_config(
        &b,
        &format!(
            r#".linux.namespaces += [{{"type": "user"}}] | .linux.uidMappings = {map} | .linux.gidMappings = {map}
            | .mounts += [
                {{"destination": "/mapped", "type": "bind", "source": "{d}", "options": ["rbind", "ro"],
                  "uidMappings": {map}, "gidMappings": {map}}},
                {{"destination": "/plain", "type": "bind", "source": "{d}", "options": ["rbind", "ro"]}}]"#,
            d = data.display()
        ),
    );
    let out = run(sb
        .hardened()
        .args(["run", "-b"])
        .arg(&b)
        .arg(unique("idmapmnt")));
    assert!(out.ok(), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first().copied(), Some("0:0"), "idmapped: {out:?}");
    assert_eq!(
        lines.get(1).copied(),
        Some("65534:65534"),
        "not idmapped: {out:?}"
    );
    let (_, h, _) = parse_map(lines.get(2).copied().unwrap_or_default());
    assert_eq!(h, 2_000_000_000, "{out:?}");
}

/// The host range of a running docker container, checked to be a real (non-identity) mapping:
/// every test below would pass without a user namespace otherwise.
fn docker_host_start(name: &str) -> u64 {
    let out = run(docker().args(["exec", name, "cat", "/proc/self/uid_map"]));
    assert!(out.ok(), "{out:?}");
    let (c, h, n) = parse_map(&out.stdout);
    assert_eq!((c, n), (0, 65536), "{out:?}");
    assert!(h >= 65536, "identity or host-root mapping: {out:?}");
    h
}

/// Everything Docker does for a container keeps working under the user namespace (read-only
/// root, no capabilities): /dev/shm, mqueue, sysfs, the cgroup mount, logs, stats, cp, top.
#[test]
fn everything_docker_does_keeps_working_under_the_user_namespace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let name = unique("udock");
    let _g = DockerContainer(name.clone());
    let out = run(docker()
        .args(["run", "-d", "--name", &name, "--runtime", "hardened"])
        .args(["--network", "none", "--tmpfs", "/scratch", "-v"])
        .arg(format!("{}:/data", data.display()))
        .arg(image())
        .args(["sh", "-c", "echo hello-from-the-container; exec sleep 300"]));
    assert!(out.ok(), "{out:?}");
    let h = docker_host_start(&name);
    let inside = |script: &str| {
        let out = run(docker().args(["exec", &name, "sh", "-c", script]));
        assert!(out.ok(), "{script}: {out:?}");
        out.stdout
    };
    // /dev/shm is writable, mqueue is mounted, sysfs readable, the cgroup mount there.
    assert_eq!(inside("echo x > /dev/shm/f && cat /dev/shm/f").trim(), "x");
    assert!(
        inside("grep mqueue /proc/mounts").contains("/dev/mqueue"),
        "no mqueue mount"
    );
    assert!(
        inside("grep ' /sys sysfs ' /proc/mounts").contains(" ro,"),
        "sysfs not mounted read-only"
    );
    assert!(
        !inside("cat /sys/devices/system/cpu/online")
            .trim()
            .is_empty(),
        "unreadable sysfs"
    );
    assert_eq!(inside("cat /proc/sys/kernel/ostype").trim(), "Linux");
    assert!(
        !inside("ls /sys/class").trim().is_empty(),
        "empty /sys/class"
    );
    let cg = inside("grep ' /sys/fs/cgroup' /proc/mounts; ls /sys/fs/cgroup");
    assert!(cg.contains(" /sys/fs/cgroup"), "no cgroup mount: {cg}");
    // The root filesystem is read-only, the scratch tmpfs is not.
    let ro = run(docker().args(["exec", &name, "touch", "/rootfs-write"]));
    assert!(!ro.ok() && ro.stderr.contains("Read-only"), "{ro:?}");
    inside("echo y > /scratch/f");
    // docker logs returns the container's output.
    let logs = run(docker().args(["logs", &name]));
    assert!(
        logs.ok() && logs.stdout.contains("hello-from-the-container"),
        "{logs:?}"
    );
    // docker stats reads the container's cgroups.
    let stats = run(docker().args([
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}} {{.PIDs}}",
        &name,
    ]));
    assert!(stats.ok() && stats.stdout.contains(&name), "{stats:?}");
    let pids: u64 = stats
        .stdout
        .split_whitespace()
        .last()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    assert!(pids >= 1, "stats shows no process: {stats:?}");
    // docker cp: host -> a volume of the container, container -> host (read-only root).
    let src = dir.path().join("in.txt");
    std::fs::write(&src, "from-the-host\n").expect("host file");
    let cp_in = run(docker()
        .arg("cp")
        .arg(&src)
        .arg(format!("{name}:/data/in.txt")));
    assert!(cp_in.ok(), "docker cp into the volume: {cp_in:?}");
    assert_eq!(
        inside("cat /data/in.txt; stat -c %u /data/in.txt"),
        "from-the-host\n0\n"
    );
    let outdir = dir.path().join("out");
    std::fs::create_dir(&outdir).expect("out dir");
    let cp_out = run(docker()
        .arg("cp")
        .arg(format!("{name}:/etc/hostname"))
        .arg(&outdir));
    assert!(cp_out.ok(), "docker cp out of the container: {cp_out:?}");
    let hostname = std::fs::read_to_string(outdir.join("hostname")).expect("copied file");
    assert_eq!(hostname.trim(), inside("hostname").trim());
    inside("echo from-the-container > /data/made-inside");
    let cp_out2 = run(docker()
        .arg("cp")
        .arg(format!("{name}:/data/made-inside"))
        .arg(&outdir));
    assert!(cp_out2.ok(), "{cp_out2:?}");
    assert_eq!(
        std::fs::read_to_string(outdir.join("made-inside")).expect("copied file"),
        "from-the-container\n"
    );
    // docker top: every process of the container is a host user of its range.
    let top = run(docker().args(["top", &name, "-o", "uid,pid,comm"]));
    assert!(top.ok(), "{top:?}");
    let uids: Vec<u64> = top
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(!uids.is_empty(), "{top:?}");
    assert!(
        uids.iter().all(|&u| u >= 65536 && u == h),
        "docker top uids {uids:?}, range starts at {h}"
    );
}

/// A tmpfs of the container belongs to its user namespace: root with CHOWN (allowed by the
/// operator) gives files to container users, which are host users of the range.
#[test]
fn chown_on_a_tmpfs_works_with_chown_allowed_and_lands_in_the_range() {
    let name = unique("uchown");
    let _g = DockerContainer(name.clone());
    let out = run(docker()
        .args(["run", "-d", "--name", &name, "--runtime", "hardened-chown"])
        .args(["--network", "none", "--tmpfs", "/t", "--cap-add", "CHOWN"])
        .arg(image())
        .args(["sleep", "300"]));
    assert!(out.ok(), "{out:?}");
    let h = docker_host_start(&name);
    let out = run(docker().args([
        "exec",
        &name,
        "sh",
        "-c",
        "touch /t/f && chown 1000:1000 /t/f && stat -c %u:%g /t/f",
    ]));
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.stdout.trim(), "1000:1000");
    // Seen from the host, the file belongs to the range's user 1000.
    let pid = docker_pid(&name);
    let meta = std::fs::metadata(format!("/proc/{pid}/root/t/f")).expect("the file via /proc");
    assert_eq!((meta.uid() as u64, meta.gid() as u64), (h + 1000, h + 1000));
    // Under the default policy the same request is dropped: chown fails.
    let dflt = unique("uchown0");
    let _g0 = DockerContainer(dflt.clone());
    let out = run(docker()
        .args(["run", "--name", &dflt, "--runtime", "hardened"])
        .args(["--network", "none", "--tmpfs", "/t", "--cap-add", "CHOWN"])
        .arg(image())
        .args(["sh", "-c", "touch /t/f && chown 1000:1000 /t/f"]));
    assert!(
        !out.ok() && out.stderr.contains("Operation not permitted"),
        "{out:?}"
    );
}

/// Removes a docker image on drop.
struct DockerImage(String);

impl Drop for DockerImage {
    fn drop(&mut self) {
        let _ = docker()
            .args(["rmi", "-f", &self.0])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// An image with files of several users (0600, owned by 1000 and by root) runs unchanged:
/// each user reads its own files, and container root, without capabilities, cannot read
/// another user's (no DAC_OVERRIDE: a security property).
#[test]
fn a_multi_user_image_runs_unchanged() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let rootfs = dir.path().join("rootfs");
    let src = PathBuf::from(test_env("HARDENED_TEST_BUNDLE_IMAGE")).join("rootfs");
    let out = run(Command::new("cp").arg("-a").arg(&src).arg(&rootfs));
    assert!(out.ok(), "{out:?}");
    let home = rootfs.join("home/u");
    std::fs::create_dir_all(&home).expect("home");
    std::fs::write(home.join("private"), "mine\n").expect("private file");
    std::fs::set_permissions(home.join("private"), std::fs::Permissions::from_mode(0o600))
        .expect("chmod");
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for p in [&home, &home.join("private")] {
        std::os::unix::fs::chown(p, Some(1000), Some(1000)).expect("chown");
    }
    let mut passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).expect("passwd");
    passwd.push_str("u:x:1000:1000:u:/home/u:/bin/sh\n");
    std::fs::write(rootfs.join("etc/passwd"), passwd).expect("passwd");
    let tag = format!("hardened-test/multiuser:{}", unique("m"));
    let _gi = DockerImage(tag.clone());
    docker_import(&rootfs, &dir.path().join("image.tar"), &tag);
    let in_image = |user: &str, script: &str| {
        let name = unique("umulti");
        let _g = DockerContainer(name.clone());
        run(docker()
            .args(["run", "--name", &name, "--runtime", "hardened"])
            .args(["--network", "none", "-u", user])
            .arg(&tag)
            .args(["sh", "-c", script]))
    };
    // User 1000 reads its 0600 file, which it owns inside; the mapping is not the identity.
    let out = in_image(
        "1000",
        "id -u; cat /home/u/private; stat -c %u:%g:%a /home/u/private; cat /proc/self/uid_map",
    );
    assert!(out.ok(), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(&lines[..3], ["1000", "mine", "1000:1000:600"], "{out:?}");
    let (_, h, _) = parse_map(lines.get(3).copied().unwrap_or_default());
    assert!(h >= 65536, "{out:?}");
    // Container root reads root's 0600 file, but not user 1000's (no capabilities).
    let out = in_image(
        "0",
        "cat /etc/secret-0600; stat -c %u /home/u/private; cat /home/u/private",
    );
    assert!(
        !out.ok(),
        "container root read another user's 0600 file: {out:?}"
    );
    assert_eq!(out.stdout, "secret\n1000\n", "{out:?}");
    assert!(out.stderr.contains("Permission denied"), "{out:?}");
    // And user 1000 cannot read root's.
    let out = in_image("1000", "cat /etc/secret-0600");
    assert!(
        !out.ok() && out.stderr.contains("Permission denied"),
        "{out:?}"
    );
}

/// A create killed while libcontainer wrote its state leaves an empty state file (seen in CI):
/// `delete --force` still removes the container and frees its range.
#[test]
fn forced_delete_of_an_unreadable_state_frees_the_range() {
    let sb = Sandbox::new();
    let root = sb.root();
    std::fs::create_dir_all(root.join("ghost")).expect("state dir");
    std::fs::write(root.join("ghost/state.json"), "").expect("empty state");
    std::fs::create_dir_all(root.join(".userns")).expect("ranges dir");
    std::fs::write(root.join(".userns/0"), "ghost").expect("range file");
    let out = run(sb.hardened().args(["delete", "--force", "ghost"]));
    assert!(out.ok(), "{out:?}");
    assert!(!root.join("ghost").exists(), "state dir left");
    assert!(!root.join(".userns").exists(), "range left");
    // Without --force it is an error, and nothing is removed.
    std::fs::create_dir_all(root.join("ghost2")).expect("state dir");
    std::fs::write(root.join("ghost2/state.json"), "").expect("empty state");
    let out = run(sb.hardened().args(["delete", "ghost2"]));
    assert!(!out.ok(), "{out:?}");
    assert!(root.join("ghost2/state.json").exists());
}

/// Give `rootfs` what Debian-based images have under /run: `/var/run` a symlink to `../run`,
/// `/run/sshd` (root, 0700), `/run/lock` with a file of user 33:34, and a symlink.
fn debian_like_run(rootfs: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let run_dir = rootfs.join("run");
    std::fs::create_dir_all(run_dir.join("sshd")).expect("sshd");
    std::fs::set_permissions(run_dir.join("sshd"), std::fs::Permissions::from_mode(0o700))
        .expect("chmod");
    std::fs::create_dir_all(run_dir.join("lock")).expect("lock");
    std::fs::write(run_dir.join("lock/f"), "image-content\n").expect("file");
    std::fs::set_permissions(
        run_dir.join("lock/f"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    for p in [run_dir.join("lock"), run_dir.join("lock/f")] {
        std::os::unix::fs::chown(p, Some(33), Some(34)).expect("chown");
    }
    std::os::unix::fs::symlink("lock/f", run_dir.join("link")).expect("symlink");
    let var_run = rootfs.join("var/run");
    if var_run.is_dir() {
        std::fs::remove_dir(&var_run).expect("rmdir var/run");
    }
    std::fs::create_dir_all(rootfs.join("var")).expect("var");
    std::os::unix::fs::symlink("../run", &var_run).expect("var/run symlink");
}

/// What the checks below print for a Debian-like image with a volume at /tmp/vol, a secret at
/// /run/secrets/x and a service-account token at /var/run/secrets/kubernetes.io/serviceaccount.
const SCRATCH_SCRIPT: &str = "cat /tmp/vol/f /run/secrets/x/f \
    /var/run/secrets/kubernetes.io/serviceaccount/f /run/secrets/kubernetes.io/serviceaccount/f \
    && stat -c '%u:%g:%a' /run/sshd /run/lock /run/lock/f && cat /run/link \
    && echo w > /run/new && echo w > /tmp/new && stat -c %u:%g /run/new \
    && grep -E ' /(run|tmp) tmpfs ' /proc/mounts | cut -d' ' -f2 | sort";

fn assert_scratch_output(out: &common::Out) {
    assert!(out.ok(), "{out:?}");
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        [
            "vol",
            "vol",
            "token",
            "token",
            "0:0:700",
            "33:34:755",
            "33:34:644",
            "image-content",
            "0:0",
            "/run",
            "/tmp",
        ],
        "{out:?}"
    );
}

/// `hardened run` under the defaults: mounts beneath the scratch tmpfs mounts (also through the
/// image's `/var/run -> ../run`), and the image's /run content kept in the tmpfs, with the
/// owners the image gave it, seen from inside the user namespace. The bundle is unchanged.
#[test]
fn scratch_mounts_keep_the_image_content_and_the_mounts_beneath_them() {
    let sb = Sandbox::new();
    let b = sb.bundle("scratch", &["sh", "-c", SCRATCH_SCRIPT]);
    let rootfs = b.join("rootfs");
    debian_like_run(&rootfs);
    let vol = sb.dir.path().join("vol");
    let token = sb.dir.path().join("token");
    std::fs::create_dir_all(&vol).expect("vol");
    std::fs::create_dir_all(&token).expect("token");
    std::fs::write(vol.join("f"), "vol\n").expect("vol file");
    std::fs::write(token.join("f"), "token\n").expect("token file");
    let bind = |dest: &str, src: &Path, ro: bool| {
        format!(
            "{{destination: {dest:?}, type: \"bind\", source: {:?}, options: [\"rbind\", \"{}\"]}}",
            src.display().to_string(),
            if ro { "ro" } else { "rw" }
        )
    };
    sb.edit_config(
        &b,
        &format!(
            ".mounts += [{}, {}, {}]",
            bind("/tmp/vol", &vol, false),
            bind("/run/secrets/x", &vol, true),
            bind(
                "/var/run/secrets/kubernetes.io/serviceaccount",
                &token,
                true
            )
        ),
    );
    let id = unique("scratch");
    let out = run(sb.hardened_enforcing().args(["run", "-b"]).arg(&b).arg(&id));
    assert_scratch_output(&out);
    // The caller's root filesystem is input: nothing was created or written in it.
    assert!(!rootfs.join("run/secrets").exists());
    assert!(!rootfs.join("run/new").exists());
    assert!(!rootfs.join("tmp/vol").exists());
}

/// The same through Docker: an image whose /var/run links to ../run, with image content under
/// /run, a volume at /tmp/vol, a Compose-style secret and a service-account token.
#[test]
fn docker_scratch_mounts_keep_the_image_content_and_the_mounts_beneath_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rootfs = dir.path().join("rootfs");
    let src = PathBuf::from(test_env("HARDENED_TEST_BUNDLE_IMAGE")).join("rootfs");
    let out = run(Command::new("cp").arg("-a").arg(&src).arg(&rootfs));
    assert!(out.ok(), "{out:?}");
    debian_like_run(&rootfs);
    let tag = format!("hardened-test/debianrun:{}", unique("d"));
    let _gi = DockerImage(tag.clone());
    docker_import(&rootfs, &dir.path().join("image.tar"), &tag);
    let vol = dir.path().join("vol");
    let token = dir.path().join("token");
    std::fs::create_dir_all(&vol).expect("vol");
    std::fs::create_dir_all(&token).expect("token");
    std::fs::write(vol.join("f"), "vol\n").expect("vol file");
    std::fs::write(token.join("f"), "token\n").expect("token file");
    let name = unique("uscratch");
    let _g = DockerContainer(name.clone());
    let out = run(docker_run_cmd("hardened")
        .args(["--name", &name])
        .arg("-v")
        .arg(format!("{}:/tmp/vol", vol.display()))
        .arg("-v")
        .arg(format!("{}:/run/secrets/x:ro", vol.display()))
        .arg("-v")
        .arg(format!(
            "{}:/var/run/secrets/kubernetes.io/serviceaccount:ro",
            token.display()
        ))
        .arg(&tag)
        .args(["sh", "-c", SCRATCH_SCRIPT]));
    assert_scratch_output(&out);
}

/// `hardened run` with its stdio on pipes (as a shell pipeline gives it), under the user
/// namespace: the container reopens /dev/stdout, /proc/self/fd/1 and /dev/stderr.
#[test]
fn stdio_pipes_are_reopened_inside_the_user_namespace() {
    let sb = Sandbox::new();
    let b = sb.bundle(
        "stdio",
        &[
            "sh",
            "-c",
            "echo out > /dev/stdout && echo fd1 > /proc/self/fd/1 && echo err > /dev/stderr \
             && stat -L -c %u:%g /proc/self/fd/1 && cat /proc/self/uid_map",
        ],
    );
    let id = unique("stdio");
    let out = run(sb
        .hardened_enforcing()
        .args(["run", "-b"])
        .arg(&b)
        .arg(&id)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert!(out.ok(), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(&lines[..3], ["out", "fd1", "0:0"], "{out:?}");
    let (_, h, _) = parse_map(lines.get(3).copied().unwrap_or_default());
    assert!(h >= 65536, "no user namespace: {out:?}");
    assert_eq!(out.stderr.trim(), "err", "{out:?}");
}

/// `docker import` the root filesystem `rootfs` (owners kept as numbers) as image `tag`, through
/// the tar file `tar`.
fn docker_import(rootfs: &Path, tar: &Path, tag: &str) {
    let out = run(Command::new("tar")
        .arg("--numeric-owner")
        .arg("-C")
        .arg(rootfs)
        .arg("-cf")
        .arg(tar)
        .arg("."));
    assert!(out.ok(), "{out:?}");
    let out = run(docker()
        .args(["import", "-c", "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
        .arg(tar)
        .arg(tag));
    assert!(out.ok(), "{out:?}");
}

/// An ipc namespace made in the host's user namespace (as `unshare --ipc`, or an engine, makes
/// it), joined by path under the defaults: `create` enters it before the user namespace is made,
/// and its `/dev/mqueue` (which only a mounter privileged over the host's user namespace may
/// make: `EPERM` from the container's) is made by `create` and bind-mounted.
#[test]
fn an_ipc_namespace_made_by_the_engine_gets_its_mqueue() {
    let sb = Sandbox::new();
    let ns = NsFile::unshare(&sb, "ipc");
    let (ipcns, ino) = (&ns.0, ns.ino());
    let b = sb.bundle(
        "b",
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map; readlink /proc/self/ns/ipc; grep -c ' /dev/mqueue mqueue ' /proc/mounts",
        ],
    );
    sb.edit_config(
        &b,
        &format!(
            r#"(.linux.namespaces[] | select(.type == "ipc")) |= {{"type": "ipc", "path": "{}"}}
            | if any(.mounts[]; .destination == "/dev/mqueue") then . else .mounts += [{{"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}}] end"#,
            ipcns.display()
        ),
    );
    let out = run(sb
        .hardened_enforcing()
        .args(["run", "-b"])
        .arg(&b)
        .arg(unique("mqueue")));
    assert!(out.ok(), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let (_, h, _) = parse_map(lines.first().copied().unwrap_or_default());
    assert!(h >= 65536, "no user namespace: {out:?}");
    assert_eq!(
        lines.get(1..),
        Some([format!("ipc:[{ino}]").as_str(), "1"].as_slice()),
        "{out:?}"
    );
}

/// A config with its own user namespace and a root filesystem (owned by the host's root) that
/// has no `/tmp` or `/run`, under the defaults: the scratch mounts' mount points are made from
/// the host (the container's root may not write to that root filesystem: `EACCES`).
#[test]
fn scratch_mount_points_missing_from_the_root_filesystem() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o711))
        .expect("chmod sandbox");
    let b = sb.bundle(
        "b",
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map; grep -E -c ' /(tmp|run) tmpfs ' /proc/mounts; echo x > /tmp/x && cat /tmp/x",
        ],
    );
    std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for d in ["tmp", "run"] {
        let p = b.join("rootfs").join(d);
        if p.exists() {
            std::fs::remove_dir_all(&p).expect("remove from the rootfs");
        }
    }
    let map = r#"[{"containerID": 0, "hostID": 2000000000, "size": 65536}]"#;
    sb.edit_config(
        &b,
        &format!(
            r#".linux.namespaces += [{{"type": "user"}}] | .linux.uidMappings = {map} | .linux.gidMappings = {map}"#
        ),
    );
    let out = run(sb
        .hardened_enforcing()
        .args(["run", "-b"])
        .arg(&b)
        .arg(unique("notmp")));
    assert!(out.ok(), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let (_, h, _) = parse_map(lines.first().copied().unwrap_or_default());
    assert_eq!(h, 2_000_000_000, "{out:?}");
    assert_eq!(lines.get(1..), Some(["2", "x"].as_slice()), "{out:?}");
}

/// A host tmpfs mounted on `path` for one test, unmounted (lazily) on drop.
struct HostTmpfs(PathBuf);

impl HostTmpfs {
    fn mount(path: &Path) -> Self {
        std::fs::create_dir_all(path).expect("create the mount point");
        let out = run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(path));
        assert!(out.ok(), "mount a tmpfs on {}: {out:?}", path.display());
        HostTmpfs(path.to_path_buf())
    }
}

impl Drop for HostTmpfs {
    fn drop(&mut self) {
        common::quiet(Command::new("umount").arg("-l").arg(&self.0));
    }
}

/// Kubernetes' `mountPropagation: HostToContainer` is an `rslave` bind: what the host mounts
/// below the source later appears in the container. Under the policy's user namespace the bind
/// is an idmapped clone of its source; a clone made in a private mount namespace received
/// nothing (conformance case `mounts/propagation-rslave-receives` under the defaults).
#[test]
fn an_rslave_bind_receives_later_host_mounts_under_the_user_namespace() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o711))
        .expect("chmod sandbox");
    let src_dir = sb.dir.path().join("src");
    let src = HostTmpfs::mount(&src_dir);
    let out = run(Command::new("mount").arg("--make-shared").arg(&src.0));
    assert!(out.ok(), "make the source shared: {out:?}");
    let late_dir = src_dir.join("late");
    std::fs::create_dir(&late_dir).expect("mkdir late");
    let b = sb.bundle(
        "b",
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map; touch /mnt/p/ready; i=0; \
             while [ $i -lt 300 ] && ! grep -q ' /mnt/p/late ' /proc/self/mountinfo; do sleep 0.05; i=$((i+1)); done; \
             grep ' /mnt/p/late ' /proc/self/mountinfo | grep -c -w tmpfs || true",
        ],
    );
    std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    sb.edit_config(
        &b,
        &format!(
            r#".mounts += [{{"destination": "/mnt/p", "type": "bind", "source": "{}", "options": ["rbind", "rslave"]}}]"#,
            src_dir.display()
        ),
    );
    let child = sb
        .hardened_enforcing()
        .args(["run", "-b"])
        .arg(&b)
        .arg(unique("rslave"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hardened run");
    let ready = common::poll_for(Duration::from_secs(30), Duration::from_millis(50), || {
        src_dir.join("ready").exists().then_some(())
    });
    let late = ready.map(|()| HostTmpfs::mount(&late_dir));
    let out: common::Out = child
        .wait_with_output()
        .expect("wait for hardened run")
        .into();
    drop(late);
    drop(src);
    assert!(ready.is_some(), "the container never started: {out:?}");
    assert!(out.ok(), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let (inside, host, _) = parse_map(lines.first().copied().unwrap_or_default());
    assert!(inside == 0 && host != 0, "not in a user namespace: {out:?}");
    assert_eq!(
        lines.get(1).copied(),
        Some("1"),
        "the host's later mount below the rslave source did not appear in the container: {out:?}"
    );
}
