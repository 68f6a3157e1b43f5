//! Cgroups seen from inside real containers: device control (a container that can `mknod` still
//! cannot open a device its config does not grant) and the cgroup mounts (read-only, the
//! container's own cgroup, no `release_agent`, no other cgroup's name). Every test detects the
//! host's cgroup mode itself and runs unchanged on cgroup v1 (this host) and v2 (the guest).

mod common;

use common::{cgroup_hierarchies, docker, image, run, unique, DockerContainer, Out, Sandbox};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Docker's default device rules (`oci/defaults.go`): deny all, then `mknod` of any device and
/// the standard devices `rwm`.
const DOCKER_DEVICE_RULES: &str = r#"[
  {"allow": false, "access": "rwm"},
  {"allow": true, "type": "c", "access": "m"},
  {"allow": true, "type": "b", "access": "m"},
  {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
  {"allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
  {"allow": true, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
  {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
  {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
  {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
  {"allow": true, "type": "c", "major": 136, "access": "rwm"},
  {"allow": true, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
  {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"}
]"#;

/// A block device of this host (major, minor) that the test itself can open, through a node
/// it makes in `dir`: the disk holding `dir` first, then the others the kernel lists. (Some
/// hosts deny their own disk to every process: such a device would prove nothing.)
fn host_block_device(dir: &Path) -> (u64, u64) {
    use nix::sys::stat::{major, makedev, minor, mknod, Mode, SFlag};
    let dev = std::fs::metadata(dir).expect("stat the sandbox").dev();
    let listed = std::fs::read_dir("/sys/dev/block")
        .expect("list /sys/dev/block")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let (a, b) = name.split_once(':')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        });
    let node = dir.join("probe-block-node");
    std::iter::once((major(dev), minor(dev)))
        .chain(listed)
        .find(|&(ma, mi)| {
            let _ = std::fs::remove_file(&node);
            mknod(
                &node,
                SFlag::S_IFBLK,
                Mode::from_bits_truncate(0o600),
                makedev(ma, mi),
            )
            .is_ok()
                && std::fs::File::open(&node).is_ok()
        })
        .inspect(|_| {
            let _ = std::fs::remove_file(&node);
        })
        .expect("no block device of this host can be opened by the test itself")
}

/// The policy profile of the device tests: no user namespace and `CAP_MKNOD` allowed, as
/// Docker's default config asks for it.
fn mknod_policy(sb: &Sandbox) -> &'static str {
    std::fs::write(
        sb.policy("mknod"),
        format!(
            "audit_log = {:?}\n[defaults]\nuser_namespace = false\nallow_capabilities = [\"MKNOD\"]\n",
            sb.audit_log().display().to_string()
        ),
    )
    .expect("write the mknod policy");
    "mknod"
}

/// What the device script prints: it makes a block node `major:minor` and `/dev/null`'s node in
/// a tmpfs without `nodev` (`dir`), and opens both.
fn device_script(dir: &str, (major, minor): (u64, u64)) -> String {
    format!(
        "mknod {dir}/blk b {major} {minor} 2>{dir}/e && echo MKNOD_BLK_OK || echo \"MKNOD_BLK_ERR $(cat {dir}/e)\"
if head -c 1 {dir}/blk >/dev/null 2>{dir}/e; then echo BLK_OPENED; else echo \"BLK_ERR $(cat {dir}/e)\"; fi
mknod {dir}/null c 1 3 && echo MKNOD_CHR_OK
if echo x > {dir}/null; then echo CHR_OPENED; else echo CHR_ERR; fi"
    )
}

/// A busybox bundle running `script` under the mknod profile, with `CAP_MKNOD`, a tmpfs without
/// `nodev` on /devtest, and the device rules `rules` (JSON).
fn device_bundle(sb: &Sandbox, name: &str, script: &str, rules: &str) -> PathBuf {
    let b = sb.bundle(name, &["sh", "-c", script]);
    std::fs::create_dir_all(b.join("rootfs/devtest")).expect("mkdir devtest");
    sb.edit_config(
        &b,
        &format!(
            r#".process.capabilities.bounding += ["CAP_MKNOD"]
             | .process.capabilities.effective += ["CAP_MKNOD"]
             | .process.capabilities.permitted += ["CAP_MKNOD"]
             | .mounts += [{{"destination": "/devtest", "type": "tmpfs", "source": "tmpfs",
                            "options": ["nosuid", "mode=755", "size=1m"]}}]
             | .linux.resources.devices = {rules}"#
        ),
    );
    b
}

fn run_bundle(sb: &Sandbox, policy: &str, bundle: &Path, id: &str) -> Out {
    let out = run(sb
        .hardened_with(policy)
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(id));
    assert!(out.ok(), "run {id}: {out:?}");
    out
}

/// The block device is denied although the node could be made; the granted `/dev/null` works
/// (so the tmpfs allows device nodes and only the device rules decide).
fn assert_block_denied(out: &Out, what: &str) {
    let s = &out.stdout;
    assert!(
        s.contains("MKNOD_BLK_OK"),
        "{what}: mknod of the block node failed (CAP_MKNOD?): {out:?}"
    );
    assert!(
        s.contains("BLK_ERR") && s.contains("Operation not permitted"),
        "{what}: the block device the config does not grant was opened, or failed otherwise: {out:?}"
    );
    assert!(
        s.contains("MKNOD_CHR_OK") && s.contains("CHR_OPENED"),
        "{what}: the granted /dev/null node did not work: {out:?}"
    );
}

#[test]
fn unlisted_block_device_is_denied_with_mknod() {
    let sb = Sandbox::new();
    let policy = mknod_policy(&sb);
    let dev = host_block_device(sb.dir.path());
    let script = device_script("/devtest", dev);
    // Docker's rules (deny all first), and none at all (youki's `spec`): libcgroups' v1
    // controller left the latter to the parent cgroup's allow-all.
    for (name, rules) in [("docker-rules", DOCKER_DEVICE_RULES), ("no-rules", "[]")] {
        let b = device_bundle(&sb, name, &script, rules);
        let out = run_bundle(&sb, policy, &b, &unique(name));
        assert_block_denied(&out, name);
    }
}

#[test]
fn mknod_taken_back() {
    // Rules that grant mknod to no device: the implicit `b *:* m` is taken back (on v2 by
    // replacing libcgroups' device program); the standard devices keep theirs.
    let sb = Sandbox::new();
    let policy = mknod_policy(&sb);
    let dev = host_block_device(sb.dir.path());
    let rules = r#"[{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}]"#;
    let b = device_bundle(&sb, "no-m", &device_script("/devtest", dev), rules);
    let out = run_bundle(&sb, policy, &b, &unique("no-m"));
    assert!(
        out.stdout.contains("MKNOD_BLK_ERR") && out.stdout.contains("Operation not permitted"),
        "mknod of a block device was not denied: {out:?}"
    );
    assert!(
        out.stdout.contains("MKNOD_CHR_OK") && out.stdout.contains("CHR_OPENED"),
        "/dev/null could not be made or opened: {out:?}"
    );
}

/// What the cgroup script prints from inside: the mounts at and below /sys/fs/cgroup, every
/// `release_agent` (and whether it could be written), every directory, whether a directory
/// could be made, and the processes of the container's cgroup.
const CGROUP_SCRIPT: &str = r#"grep ' /sys/fs/cgroup' /proc/self/mountinfo | sed 's/^/MI /'
for f in $(find /sys/fs/cgroup -name release_agent); do echo "RELEASE_AGENT $f"; (echo x > "$f") 2>/dev/null && echo RA_WRITABLE; done
find /sys/fs/cgroup -type d | sed 's/^/DIR /'
for d in /sys/fs/cgroup /sys/fs/cgroup/pids; do mkdir "$d/probe" 2>/dev/null && echo "MKDIR_OK $d"; done
cat /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/pids/cgroup.procs 2>/dev/null | sed 's/^/PROC /'
echo DONE"#;

/// A cgroup parent of this test's, with a sibling of the container's cgroup in it, in every
/// hierarchy; both removed on drop (the container's own is removed by delete).
struct CgroupParent {
    name: String,
}

impl CgroupParent {
    fn new() -> Self {
        Self::named(unique("hardened-cgtest"))
    }

    /// A parent for Docker's `--cgroup-parent` and the flag's value: under the systemd cgroup
    /// driver (a cgroup v2 host with systemd, the guest stage) only a slice is taken.
    fn for_docker() -> (Self, String) {
        let driver = run(docker().args(["info", "--format", "{{.CgroupDriver}}"]));
        if driver.stdout.trim() == "systemd" {
            let p = Self::named(format!(
                "{}.slice",
                unique("hardened_cgtest").replace('-', "_")
            ));
            let arg = p.name.clone();
            (p, arg)
        } else {
            let p = Self::new();
            let arg = format!("/{}", p.name);
            (p, arg)
        }
    }

    fn named(name: String) -> Self {
        let p = CgroupParent { name };
        for h in cgroup_hierarchies() {
            std::fs::create_dir_all(h.join(&p.name).join("sibling"))
                .unwrap_or_else(|e| panic!("make the sibling cgroup in {}: {e}", h.display()));
        }
        p
    }
}

impl Drop for CgroupParent {
    fn drop(&mut self) {
        if self.name.ends_with(".slice") {
            common::quiet(std::process::Command::new("systemctl").args(["stop", &self.name]));
        }
        for h in cgroup_hierarchies() {
            let dir = h.join(&self.name);
            let _ = std::fs::remove_dir(dir.join("sibling"));
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

/// Checks what [`CGROUP_SCRIPT`] printed in a container whose cgroup is in `parent`.
fn assert_own_read_only_cgroups(out: &Out, parent: &CgroupParent, what: &str) {
    let s = &out.stdout;
    assert!(
        s.contains("DONE"),
        "{what}: the script did not finish: {out:?}"
    );
    // (mount point, mount options, filesystem type) of each mount at or below /sys/fs/cgroup.
    let mounts: Vec<(String, String, String)> = s
        .lines()
        .filter_map(|l| {
            let (left, right) = l.strip_prefix("MI ")?.split_once(" - ")?;
            let f: Vec<&str> = left.split_whitespace().collect();
            let fstype = right.split_whitespace().next()?;
            Some((
                f.get(4)?.to_string(),
                f.get(5)?.to_string(),
                fstype.to_string(),
            ))
        })
        .filter(|(mp, _, _)| mp == "/sys/fs/cgroup" || mp.starts_with("/sys/fs/cgroup/"))
        .collect();
    let top = mounts
        .iter()
        .find(|(mp, _, _)| mp == "/sys/fs/cgroup")
        .unwrap_or_else(|| panic!("{what}: nothing is mounted on /sys/fs/cgroup: {out:?}"));
    let v2 = top.2 == "cgroup2";
    assert!(
        v2 || top.2 == "tmpfs",
        "{what}: /sys/fs/cgroup is a {}, neither cgroup2 (v2) nor tmpfs (v1): {out:?}",
        top.2
    );
    for (mp, opts, _) in &mounts {
        assert!(
            opts.split(',').any(|o| o == "ro"),
            "{what}: {mp} is mounted {opts}, not read-only: {out:?}"
        );
    }
    if !v2 {
        assert!(
            mounts.iter().any(|(_, _, t)| t == "cgroup"),
            "{what}: no cgroup v1 hierarchy is mounted: {out:?}"
        );
    }
    assert!(
        !s.contains("RELEASE_AGENT") && !s.contains("RA_WRITABLE"),
        "{what}: a release_agent is visible: {out:?}"
    );
    assert!(
        !s.contains("MKDIR_OK"),
        "{what}: a cgroup could be made: {out:?}"
    );
    // The container's own cgroup has no subdirectory: every directory is a mount point (a
    // hierarchy's root, or v1's tmpfs). A host view would list other cgroups.
    for d in s.lines().filter_map(|l| l.strip_prefix("DIR ")) {
        assert!(
            mounts.iter().any(|(mp, _, _)| mp == d),
            "{what}: {d} is a cgroup other than the container's own: {out:?}"
        );
    }
    assert!(
        !s.lines()
            .filter(|l| l.starts_with("DIR "))
            .any(|l| l.contains("sibling") || l.contains(&parent.name)),
        "{what}: the sibling cgroup or the parent's name is visible: {out:?}"
    );
    assert!(
        s.lines().any(|l| l == "PROC 1"),
        "{what}: the container's own processes are not in the cgroup it sees: {out:?}"
    );
}

#[test]
fn cgroup_mounts_are_read_only_and_the_containers_own() {
    let sb = Sandbox::new();
    let mknod = mknod_policy(&sb);
    // The policy's user namespace, and none (where a fresh cgroup2 mount without a cgroup
    // namespace shows the host's hierarchy); with the config's cgroup namespace and without.
    for (policy, cgroupns) in [
        ("enforce", true),
        ("enforce", false),
        (mknod, true),
        (mknod, false),
    ] {
        let what = format!("policy {policy}, cgroup namespace {cgroupns}");
        let parent = CgroupParent::new();
        let name = unique("cg");
        let b = sb.bundle(&name, &["sh", "-c", CGROUP_SCRIPT]);
        let ns = if cgroupns {
            ""
        } else {
            r#" | .linux.namespaces |= map(select(.type != "cgroup"))"#
        };
        sb.edit_config(
            &b,
            &format!(r#".linux.cgroupsPath = "/{}/ctr"{ns}"#, parent.name),
        );
        let out = run_bundle(&sb, policy, &b, &name);
        assert_own_read_only_cgroups(&out, &parent, &what);
    }
}

#[test]
fn docker_cgroup_mounts_are_read_only_and_the_containers_own() {
    // Docker's config (cgroup mount `ro,nosuid,noexec,nodev`), with Docker's default cgroup
    // namespace mode for the host (host on v1, private on v2) and a private one.
    for cgroupns in ["", "private"] {
        let (parent, parent_arg) = CgroupParent::for_docker();
        let name = unique("hd-cg");
        let _guard = DockerContainer(name.clone());
        let mut cmd = docker();
        cmd.args(["run", "--rm", "--runtime=hardened", "--network", "none"])
            .args(["--name", &name, "--cgroup-parent", &parent_arg]);
        if !cgroupns.is_empty() {
            cmd.args(["--cgroupns", cgroupns]);
        }
        let out = run(cmd.arg(image()).args(["sh", "-c", CGROUP_SCRIPT]));
        assert!(out.ok(), "docker run (cgroupns {cgroupns:?}): {out:?}");
        assert_own_read_only_cgroups(&out, &parent, &format!("docker, cgroupns {cgroupns:?}"));
    }
}

#[test]
fn docker_unlisted_block_device_is_denied_with_mknod() {
    // Docker's own device rules and capabilities (CAP_MKNOD among them) under the permissive
    // runtime (no user namespace, capabilities as Docker asks).
    let tmp = tempfile::tempdir().expect("temp dir");
    let dev = host_block_device(tmp.path());
    let name = unique("hd-dev");
    let _guard = DockerContainer(name.clone());
    let out = run(docker()
        .args([
            "run",
            "--rm",
            "--runtime=hardened-permissive",
            "--network",
            "none",
        ])
        .args(["--name", &name, "--tmpfs", "/devtest:rw,dev,size=1m"])
        .arg(image())
        .args(["sh", "-c", &device_script("/devtest", dev)]));
    assert!(out.ok(), "docker run: {out:?}");
    assert_block_denied(&out, "docker");
}
