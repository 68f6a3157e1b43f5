use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::cache::*;
use super::*;
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ERRNO: u32 = 0x0005_0000;

/// Runs a seccomp BPF program (the instructions libseccomp emits) on a seccomp_data.
fn run(prog: &[libc::sock_filter], data: &[u8; 64]) -> u32 {
    let (mut a, mut x, mut mem) = (0u32, 0u32, [0u32; 16]);
    let mut pc = 0usize;
    loop {
        let i = prog[pc];
        pc += 1;
        let k = i.k;
        let mut jump = |cond: bool| pc += usize::from(if cond { i.jt } else { i.jf });
        match i.code {
            0x20 => {
                let o = k as usize;
                a = u32::from_ne_bytes(data[o..o + 4].try_into().expect("4 bytes"));
            }
            0x00 => a = k,
            0x01 => x = k,
            0x60 => a = mem[k as usize],
            0x61 => x = mem[k as usize],
            0x02 => mem[k as usize] = a,
            0x03 => mem[k as usize] = x,
            0x54 => a &= k,
            0x44 => a |= k,
            0x04 => a = a.wrapping_add(k),
            0x07 => x = a,
            0x87 => a = x,
            0x05 => pc += k as usize,
            0x15 => jump(a == k),
            0x25 => jump(a > k),
            0x35 => jump(a >= k),
            0x45 => jump(a & k != 0),
            0x1d => jump(a == x),
            0x2d => jump(a > x),
            0x3d => jump(a >= x),
            0x4d => jump(a & x != 0),
            0x06 => return k,
            0x16 => return a,
            op => panic!("BPF opcode {op:#x} not handled by this interpreter"),
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn call(nr: libc::c_long, args: &[u64]) -> [u8; 64] {
    let mut d = [0u8; 64];
    d[0..4].copy_from_slice(&(nr as i32).to_ne_bytes());
    d[4..8].copy_from_slice(&0xc000_003eu32.to_ne_bytes()); // AUDIT_ARCH_X86_64
    for (i, v) in args.iter().enumerate() {
        d[16 + 8 * i..24 + 8 * i].copy_from_slice(&v.to_ne_bytes());
    }
    d
}

fn rule(name: &str, action: LinuxSeccompAction, errno: Option<u32>) -> LinuxSyscall {
    let mut r = LinuxSyscall::default();
    r.set_names(vec![name.into()])
        .set_action(action)
        .set_errno_ret(errno);
    r
}

fn profile(default: LinuxSeccompAction, rules: Vec<LinuxSyscall>) -> LinuxSeccomp {
    let mut p = LinuxSeccomp::default();
    p.set_default_action(default)
        .set_architectures(Some(super::super::default_architectures()))
        .set_syscalls(Some(rules));
    p
}

/// `(mode & 0o070) == 0o050`: value is the mask, valueTwo the datum (runc, crun,
/// seccomp_rule_add(3)). Read the other way round (libcontainer 0.7), 0o777 would match.
#[cfg(target_arch = "x86_64")]
#[test]
fn masked_eq_takes_the_mask_from_value() {
    let mut r = rule("chmod", LinuxSeccompAction::ScmpActErrno, Some(18));
    r.set_args(Some(vec![LinuxSeccompArgBuilder::default()
        .index(1usize)
        .value(0o070u64)
        .value_two(0o050u64)
        .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
        .build()
        .expect("arg")]));
    let f = compile(&profile(LinuxSeccompAction::ScmpActAllow, vec![r])).expect("compile");
    let chmod = |mode: u64| run(f.instructions(), &call(libc::SYS_chmod, &[0, mode]));
    assert_eq!(chmod(0o755), RET_ERRNO | 18);
    assert_eq!(chmod(0o750), RET_ERRNO | 18);
    assert_eq!(chmod(0o777), RET_ALLOW);
    assert_eq!(chmod(0o700), RET_ALLOW);
    assert_eq!(
        run(f.instructions(), &call(libc::SYS_getpid, &[])),
        RET_ALLOW
    );
}

/// The default profile allows clone without namespace flags only (our clone rule is written
/// for the mask-in-value convention).
#[cfg(target_arch = "x86_64")]
#[test]
fn default_profile_denies_clone_with_namespace_flags() {
    let f = compile(&super::super::default_profile()).expect("compile");
    let clone = |flags: u64| run(f.instructions(), &call(libc::SYS_clone, &[flags]));
    let sigchld = libc::SIGCHLD as u64;
    assert_eq!(clone(sigchld), RET_ALLOW, "fork");
    // pthread_create's flags.
    assert_eq!(clone(0x003d_0f00), RET_ALLOW, "thread");
    for flag in super::super::CLONE_NAMESPACE_FLAGS {
        if flag == 0x80 {
            continue; // part of the exit signal in clone's flags
        }
        assert_eq!(
            clone(flag | sigchld),
            RET_ERRNO | libc::EPERM as u32,
            "{flag:#x}"
        );
    }
    assert_eq!(
        run(f.instructions(), &call(libc::SYS_clone3, &[0, 0])),
        RET_ERRNO | libc::ENOSYS as u32
    );
}

#[test]
fn errno_where_the_action_takes_none_is_refused() {
    let kill = profile(
        LinuxSeccompAction::ScmpActAllow,
        vec![rule("mkdir", LinuxSeccompAction::ScmpActKill, Some(1))],
    );
    let e = validate(&kill).expect_err("errnoRet with KILL").to_string();
    assert!(
        e.contains("syscalls[0] (mkdir): errnoRet") && e.contains("SCMP_ACT_KILL"),
        "{e}"
    );
    assert!(compile(&kill).is_err());

    let mut allow = profile(LinuxSeccompAction::ScmpActAllow, vec![]);
    allow.set_default_errno_ret(Some(1));
    let e = validate(&allow)
        .expect_err("defaultErrnoRet with ALLOW")
        .to_string();
    assert!(
        e.contains("defaultErrnoRet") && e.contains("SCMP_ACT_ALLOW"),
        "{e}"
    );

    let mut fine = profile(
        LinuxSeccompAction::ScmpActErrno,
        vec![
            rule("mkdir", LinuxSeccompAction::ScmpActErrno, Some(18)),
            rule("rmdir", LinuxSeccompAction::ScmpActTrace, Some(1)),
            rule("read", LinuxSeccompAction::ScmpActAllow, None),
        ],
    );
    fine.set_default_errno_ret(Some(1));
    validate(&fine).expect("errno with ERRNO and TRACE");
}

#[test]
fn cache_key_is_stable() {
    let p = super::super::default_profile();
    let a = cache_key(&canonical(&p).expect("json"), "id");
    // An equal profile built again, or read back from JSON, gets the same key.
    let again = super::super::default_profile();
    assert_eq!(cache_key(&canonical(&again).expect("json"), "id"), a);
    let json = serde_json::to_string(&p).expect("json");
    let back: LinuxSeccomp = serde_json::from_str(&json).expect("parse");
    assert_eq!(cache_key(&canonical(&back).expect("json"), "id"), a);
    // Anything else changes it.
    assert_ne!(cache_key(&canonical(&p).expect("json"), "other"), a);
    let mut other = p.clone();
    other.set_default_errno_ret(Some(38));
    assert_ne!(cache_key(&canonical(&other).expect("json"), "id"), a);
    // The hash itself does not change between builds.
    assert_eq!(
        format!("{:016x}", fnv1a(&[b"hardened"])),
        "d3f16a37444a5b83"
    );
    assert_ne!(fnv1a(&[b"ab", b"c"]), fnv1a(&[b"a", b"bc"]));
}

fn same(a: &Filter, b: &Filter) -> bool {
    a.to_bytes() == b.to_bytes() && a.flags == b.flags
}

#[test]
fn cache_round_trip_and_corruption() {
    let root = tempfile::tempdir().expect("temp dir");
    let mut p = super::super::default_profile();
    p.set_flags(Some(vec![LinuxSeccompFilterFlag::SeccompFilterFlagLog]));
    let fresh = compile(&p).expect("compile");
    assert_eq!(fresh.flags(), libc::SECCOMP_FILTER_FLAG_LOG);

    let first = cached(root.path(), &p).expect("cached");
    assert!(same(&first, &fresh));
    let path = cache_path(root.path(), &p);
    let meta = fs::metadata(&path).expect("cache file written");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let dir = fs::metadata(root.path().join(CACHE_DIR)).expect("dir");
    assert_eq!(dir.permissions().mode() & 0o777, 0o700);
    let good = fs::read(&path).expect("read");
    assert!(decode(&good, &canonical(&p).expect("json")).is_some());

    // A hit: the same program, the file untouched.
    assert!(same(&cached(root.path(), &p).expect("hit"), &fresh));
    assert_eq!(fs::read(&path).expect("read"), good);

    let mut flipped = good.clone();
    let last = flipped.len() - 3;
    flipped[last] ^= 0x40;
    let mut other_profile = good.clone();
    other_profile[HEADER + 2] ^= 0x01;
    let damaged: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("short", good[..good.len() / 2].to_vec()),
        ("cut by one instruction", good[..good.len() - 8].to_vec()),
        ("a flipped bit in the program", flipped),
        ("another profile", other_profile),
        ("garbage", vec![0x5a; good.len()]),
    ];
    for (what, bytes) in damaged {
        fs::write(&path, &bytes).expect("write");
        let f = cached(root.path(), &p).expect(what);
        assert!(same(&f, &fresh), "{what}: wrong program");
        assert_eq!(
            fs::read(&path).expect("read"),
            good,
            "{what}: not rewritten"
        );
    }

    // A file that decodes but was written for another profile (a key collision) is not
    // used for this one.
    let mut q = super::super::default_profile();
    q.set_default_errno_ret(Some(38));
    let other = compile(&q).expect("compile");
    fs::write(&path, encode(&canonical(&q).expect("json"), &other)).expect("write");
    assert!(same(&cached(root.path(), &p).expect("collision"), &fresh));
}

#[test]
fn a_cache_dir_others_can_write_is_not_used() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join(CACHE_DIR);
    fs::create_dir(&dir).expect("mkdir");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).expect("chmod");
    let p = super::super::default_profile();
    assert!(same(
        &cached(root.path(), &p).expect("compiled"),
        &compile(&p).expect("compile")
    ));
    assert!(!cache_path(root.path(), &p).exists());
}
