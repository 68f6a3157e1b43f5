use std::io::Read;

use libseccomp::{ScmpArch, ScmpSyscall};

use super::*;

// ---- helpers ---------------------------------------------------------------------------------

fn strs(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn allowed_unconditionally(p: &LinuxSeccomp) -> Vec<String> {
    p.syscalls()
        .iter()
        .flatten()
        .filter(|r| {
            r.action() == LinuxSeccompAction::ScmpActAllow
                && r.args().as_ref().is_none_or(|a| a.is_empty())
        })
        .flat_map(|r| r.names().iter().cloned())
        .collect()
}

fn rules_naming<'a>(p: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
    p.syscalls()
        .iter()
        .flatten()
        .filter(|r| r.names().iter().any(|n| n == name))
        .collect()
}

/// Compiles `p` with [`bpf::compile`]; returns the program's size in bytes and the names the
/// compiler skips as unknown.
fn export_size(p: &LinuxSeccomp) -> (u64, Vec<String>) {
    let filter = bpf::compile(p).expect("compile");
    let size = filter.instructions().len() as u64 * 8;
    assert!(size > 0, "BPF size {size}");
    let unknown = p
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|r| r.names())
        .filter(|n| ScmpSyscall::from_name(n).is_err())
        .cloned()
        .collect();
    (size, unknown)
}

fn allow_rule(names: &[&str]) -> LinuxSyscall {
    rule(strs(names), LinuxSeccompAction::ScmpActAllow, None)
}

/// (errnoRet only where the action takes one: the runtime-spec requires refusing it otherwise.)
fn deny_rule(names: &[&str], action: LinuxSeccompAction) -> LinuxSyscall {
    let errno = matches!(
        action,
        LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
    )
    .then_some(EPERM);
    rule(strs(names), action, errno)
}

fn profile(
    default: LinuxSeccompAction,
    errno: Option<u32>,
    rules: Vec<LinuxSyscall>,
) -> LinuxSeccomp {
    let mut p = LinuxSeccomp::default();
    p.set_default_action(default)
        .set_default_errno_ret(errno)
        .set_architectures(Some(default_architectures()))
        .set_syscalls(Some(rules));
    p
}

/// Docker's clone rule as Docker writes it (runc's convention: mask in `value`).
fn docker_clone_rule() -> LinuxSyscall {
    let mut r = allow_rule(&["clone"]);
    r.set_args(Some(vec![arg(
        0,
        0x7e02_0000,
        Some(0),
        LinuxSeccompOperator::ScmpCmpMaskedEq,
    )]));
    r
}

/// A Docker-like caller profile: an allowlist (ours plus ptrace, mount, unshare, bpf and
/// clone unconditionally), a conditional socket rule, Docker's clone rule, a kill rule.
fn docker_like() -> LinuxSeccomp {
    let mut names: Vec<&str> = ALLOWED.to_vec();
    names.extend([
        "ptrace", "mount", "unshare", "bpf", "clone", "clone3", "keyctl",
    ]);
    let mut socket = allow_rule(&["socketpair"]);
    socket.set_args(Some(vec![arg(0, 1, None, LinuxSeccompOperator::ScmpCmpEq)]));
    profile(
        LinuxSeccompAction::ScmpActErrno,
        Some(EPERM),
        vec![
            allow_rule(&names),
            socket,
            docker_clone_rule(),
            deny_rule(&["kexec_load"], LinuxSeccompAction::ScmpActKillProcess),
        ],
    )
}

/// A denylist caller profile: allow by default, deny a few things.
fn denylist() -> LinuxSeccomp {
    profile(
        LinuxSeccompAction::ScmpActAllow,
        None,
        vec![deny_rule(
            &["reboot", "acct"],
            LinuxSeccompAction::ScmpActErrno,
        )],
    )
}

// ---- children ----------------------------------------------------------------------------

/// Forks; the child sets no_new_privs, loads `p` compiled by [`bpf::compile`] (in the parent), runs
/// `probes` and reports their failures through a pipe. Returns the failures.
fn in_child(p: &LinuxSeccomp, probes: fn() -> Vec<String>) -> Vec<String> {
    let filter = bpf::compile(p).expect("compile");
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2");
    // SAFETY: the child runs only the code below and ends with _exit, never returning into the
    // test harness; it allocates, which glibc's fork keeps safe (malloc's locks are reset in
    // the child), and takes no lock another thread of the harness could hold.
    match unsafe { nix::unistd::fork() }.expect("fork") {
        nix::unistd::ForkResult::Child => {
            drop(rd);
            let report = if nix::sys::prctl::set_no_new_privs().is_err() {
                "prctl(PR_SET_NO_NEW_PRIVS) failed".to_string()
            } else {
                match filter.load() {
                    Err(e) => format!("load the filter: {e}"),
                    Ok(_) => probes().join("\n"),
                }
            };
            let bytes = report.as_bytes();
            let mut done = 0;
            while done < bytes.len() {
                match nix::unistd::write(&wr, &bytes[done..]) {
                    Ok(n) if n > 0 => done += n,
                    // SAFETY: _exit has no preconditions; it ends the child at once.
                    _ => unsafe { libc::_exit(2) },
                }
            }
            // SAFETY: as above.
            unsafe { libc::_exit(0) };
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(wr);
            let mut out = String::new();
            std::fs::File::from(rd).read_to_string(&mut out).unwrap();
            let status = nix::sys::wait::waitpid(child, None).unwrap();
            assert_eq!(
                status,
                nix::sys::wait::WaitStatus::Exited(child, 0),
                "child: {out}"
            );
            out.lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        }
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// `ret` must be -1 with `want` in errno.
fn expect_errno(failures: &mut Vec<String>, what: &str, ret: libc::c_long, want: i32) {
    let e = errno();
    if ret != -1 || e != want {
        failures.push(format!(
            "{what}: returned {ret}, errno {e}, expected errno {want}"
        ));
    }
}

/// Raw clone with `flags` (like fork: child on a copy of the stack). A child that gets
/// created exits at once.
fn raw_clone(flags: u64) -> libc::c_long {
    // SAFETY: clone without CLONE_VM gives the child a copy of the address space (as fork),
    // with a null stack pointer meaning "the same stack"; the child only calls _exit.
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags | libc::SIGCHLD as u64, 0, 0, 0, 0) };
    if ret == 0 {
        // SAFETY: _exit has no preconditions; it ends the child at once.
        unsafe { libc::_exit(0) };
    }
    if ret > 0 {
        // Reaped so that no zombie is left; its status does not matter.
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(ret as libc::pid_t), None);
    }
    ret
}

/// What every container must not do. Each call is harmless should it get through (bad
/// arguments, or a target we cannot touch), so only the errno tells the filter's answer.
fn baseline_probes() -> Vec<String> {
    let mut f = Vec::new();
    let null = std::ptr::null::<libc::c_void>();
    // Not tracing our parent: ESRCH without the filter.
    let ppid = nix::unistd::getppid().as_raw() as libc::c_long;
    // SAFETY: raw syscalls, so that the filter's answer is seen and not a libc wrapper's: every
    // pointer is null (the kernel checks it, or the filter answers first), every descriptor -1
    // or bogus; none of the calls can touch this process's memory. Should unshare get through,
    // only this forked child is in a new user namespace.
    unsafe {
        let r = libc::syscall(libc::SYS_ptrace, libc::PTRACE_PEEKDATA, ppid, 0, 0);
        expect_errno(&mut f, "ptrace(PEEKDATA, parent)", r, libc::EPERM);
        for (name, flag) in [
            ("CLONE_NEWUSER", libc::CLONE_NEWUSER),
            ("CLONE_NEWNS", libc::CLONE_NEWNS),
            ("CLONE_NEWNET", libc::CLONE_NEWNET),
            ("CLONE_NEWPID", libc::CLONE_NEWPID),
            ("CLONE_NEWCGROUP", libc::CLONE_NEWCGROUP),
        ] {
            let r = raw_clone(flag as u64);
            expect_errno(&mut f, &format!("clone({name})"), r, libc::EPERM);
        }
        // Without the filter: EINVAL (size 0).
        let r = libc::syscall(libc::SYS_clone3, null, 0);
        expect_errno(&mut f, "clone3", r, libc::ENOSYS);
        // NULL pointers, bogus commands: EFAULT/EINVAL/EBADF without the filter.
        let r = libc::syscall(libc::SYS_mount, null, null, null, 0, null);
        expect_errno(&mut f, "mount(NULL)", r, libc::EPERM);
        let r = libc::syscall(libc::SYS_umount2, null, 0);
        expect_errno(&mut f, "umount2(NULL)", r, libc::EPERM);
        let r = libc::syscall(libc::SYS_pivot_root, null, null);
        expect_errno(&mut f, "pivot_root(NULL)", r, libc::EPERM);
        let r = libc::syscall(libc::SYS_setns, -1, 0);
        expect_errno(&mut f, "setns(-1)", r, libc::EPERM);
        let r = libc::syscall(libc::SYS_bpf, -1, null, 0);
        expect_errno(&mut f, "bpf(-1)", r, libc::EPERM);
        let r = libc::syscall(libc::SYS_perf_event_open, null, 0, -1, -1, 0);
        expect_errno(&mut f, "perf_event_open(NULL)", r, libc::EPERM);
        let r = libc::syscall(libc::SYS_keyctl, -1, 0, 0, 0, 0);
        expect_errno(&mut f, "keyctl(-1)", r, libc::EPERM);
        let r = libc::syscall(libc::SYS_io_uring_setup, 0, null);
        expect_errno(&mut f, "io_uring_setup(0, NULL)", r, libc::EPERM);
        let r = libc::syscall(libc::SYS_userfaultfd, -1);
        expect_errno(&mut f, "userfaultfd(-1)", r, libc::EPERM);
        let r = libc::syscall(libc::SYS_open_by_handle_at, -1, null, 0);
        expect_errno(&mut f, "open_by_handle_at(-1)", r, libc::EPERM);
        let r = libc::syscall(libc::SYS_init_module, null, 0, null);
        expect_errno(&mut f, "init_module(NULL)", r, libc::EPERM);
        let r = libc::syscall(libc::SYS_reboot, 0, 0, 0, null);
        expect_errno(&mut f, "reboot(bad magic)", r, libc::EPERM);
        let r = libc::syscall(libc::SYS_clock_settime, -1, null);
        expect_errno(&mut f, "clock_settime(-1)", r, libc::EPERM);
        let r = libc::syscall(libc::SYS_process_vm_readv, ppid, null, 0, null, 0, 0);
        expect_errno(&mut f, "process_vm_readv(parent)", r, libc::EPERM);
        // Last: should it get through, the process is in a new user namespace from here on.
        let r = libc::unshare(libc::CLONE_NEWUSER) as libc::c_long;
        expect_errno(&mut f, "unshare(CLONE_NEWUSER)", r, libc::EPERM);
    }
    f
}

/// What ordinary programs do.
fn liveness_probes() -> Vec<String> {
    let mut f = Vec::new();
    if nix::unistd::getpid().as_raw() <= 0 {
        f.push(format!("getpid: errno {}", errno()));
    }
    // glibc's fork: clone without namespace flags.
    // SAFETY: the child only calls _exit.
    match unsafe { nix::unistd::fork() } {
        // SAFETY: _exit has no preconditions; it ends the child at once.
        Ok(nix::unistd::ForkResult::Child) => unsafe { libc::_exit(7) },
        Err(e) => f.push(format!("fork: errno {}", e as i32)),
        Ok(nix::unistd::ForkResult::Parent { child }) => match nix::sys::wait::waitpid(child, None)
        {
            Ok(nix::sys::wait::WaitStatus::Exited(_, 7)) => {}
            status => f.push(format!("fork: child status {status:?}")),
        },
    }
    // pthread_create: clone3 gets ENOSYS, glibc falls back to clone.
    match std::thread::Builder::new().spawn(|| 42) {
        Ok(t) => {
            if t.join().ok() != Some(42) {
                f.push("thread: join failed".into());
            }
        }
        Err(e) => f.push(format!("thread: {e}")),
    }
    match std::fs::read_to_string("/proc/self/status") {
        Ok(s) if s.contains("Seccomp:\t2") => {}
        Ok(_) => f.push("/proc/self/status: not in seccomp filter mode".into()),
        Err(e) => f.push(format!("read /proc/self/status: {e}")),
    }
    match std::os::unix::net::UnixStream::pair() {
        Ok(_) => {}
        Err(e) => f.push(format!("socketpair: {e}")),
    }
    let mut buf = [0u8; 8];
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    if unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) } != 8 {
        f.push(format!("getrandom: errno {}", errno()));
    }
    f
}

fn default_profile_probes() -> Vec<String> {
    let mut f = baseline_probes();
    f.extend(liveness_probes());
    // SAFETY: personality takes a number and touches no memory; the query (0xffffffff) changes
    // nothing, ADDR_NO_RANDOMIZE (should it get through) only changes this forked child.
    unsafe {
        if libc::personality(0xffff_ffff) == -1 {
            f.push(format!("personality(query): errno {}", errno()));
        }
        let r = libc::personality(libc::ADDR_NO_RANDOMIZE as libc::c_ulong) as libc::c_long;
        expect_errno(&mut f, "personality(ADDR_NO_RANDOMIZE)", r, libc::EPERM);
    }
    f
}

fn all_probes() -> Vec<String> {
    let mut f = baseline_probes();
    f.extend(liveness_probes());
    f
}

// ---- the lists ---------------------------------------------------------------------------

#[test]
fn lists_have_no_duplicates_and_are_disjoint() {
    for list in [ALLOWED, BASELINE_DENIED] {
        let mut sorted = list.to_vec();
        sorted.sort_unstable();
        let before = sorted.len();
        sorted.dedup();
        assert_eq!(before, sorted.len(), "duplicate names");
    }
    for name in BASELINE_DENIED {
        assert!(!ALLOWED.contains(name), "{name} is both allowed and denied");
    }
    for name in ["clone", "clone3", "personality"] {
        assert!(
            !ALLOWED.contains(&name),
            "{name} must only have its argument rules"
        );
    }
}

#[test]
fn every_name_is_a_syscall_of_some_architecture() {
    // Names this libseccomp knows must resolve for one of the profile's architectures (or
    // their relatives); the rest are newer syscalls, which must not be typos of known ones.
    for name in ALLOWED.iter().chain(BASELINE_DENIED) {
        let Ok(_) = ScmpSyscall::from_name(name) else {
            continue;
        };
        let somewhere = [
            ScmpArch::X8664,
            ScmpArch::X86,
            ScmpArch::X32,
            ScmpArch::Aarch64,
            ScmpArch::Arm,
            ScmpArch::Ppc64Le,
        ]
        .iter()
        .any(|&a| ScmpSyscall::from_name_by_arch(name, a).is_ok_and(|s| i32::from(s) >= 0));
        assert!(somewhere, "{name} exists on none of the architectures");
    }
}

// ---- the default profile -------------------------------------------------------------------

#[test]
fn default_profile_denies_by_default_on_the_build_architectures() {
    let p = default_profile();
    assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(p.default_errno_ret(), Some(1));
    let archs = p.architectures().clone().unwrap();
    if cfg!(target_arch = "x86_64") {
        assert_eq!(
            archs,
            vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
        );
    } else if cfg!(target_arch = "aarch64") {
        assert_eq!(archs, vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]);
    }
}

#[test]
fn default_profile_allows_the_essential_syscalls() {
    let p = default_profile();
    let allowed = allowed_unconditionally(&p);
    for essential in [
        "read",
        "write",
        "openat",
        "execve",
        "exit_group",
        "mmap",
        "futex",
        "rt_sigaction",
        "epoll_pwait",
        "socket",
        "connect",
        "getrandom",
        "statx",
        "close_range",
        "newfstatat",
        "wait4",
    ] {
        assert!(
            allowed.iter().any(|n| n == essential),
            "{essential} not allowed"
        );
    }
    if cfg!(target_arch = "x86_64") {
        for essential in ["epoll_wait", "open", "stat", "arch_prctl", "socketcall"] {
            assert!(
                allowed.iter().any(|n| n == essential),
                "{essential} not allowed"
            );
        }
    }
}

#[test]
fn default_profile_allows_no_baseline_syscall() {
    let p = default_profile();
    for r in p.syscalls().iter().flatten() {
        if r.action() == LinuxSeccompAction::ScmpActAllow {
            for name in r.names() {
                assert!(!BASELINE_DENIED.contains(&name.as_str()), "{name} allowed");
            }
        }
    }
}

#[test]
fn default_profile_clone_rules() {
    let p = default_profile();
    // clone: only the conditional rule.
    let clone = rules_naming(&p, "clone");
    assert_eq!(clone.len(), 1);
    assert_eq!(clone[0].action(), LinuxSeccompAction::ScmpActAllow);
    let args = clone[0].args().clone().unwrap();
    assert_eq!(args.len(), 1);
    assert_eq!(args[0].index(), 0);
    assert_eq!(args[0].op(), LinuxSeccompOperator::ScmpCmpMaskedEq);
    // runc's convention: the mask in value, the datum in valueTwo.
    assert_eq!(args[0].value(), 0x7e02_0080);
    assert_eq!(args[0].value_two(), Some(0));
    assert_eq!(CLONE_NAMESPACE_MASK, 0x7e02_0080);
    // clone3: ENOSYS.
    let clone3 = rules_naming(&p, "clone3");
    assert_eq!(clone3.len(), 1);
    assert_eq!(clone3[0].action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(clone3[0].errno_ret(), Some(38));
}

#[test]
fn default_profile_has_nothing_the_compiler_skips_and_survives_json() {
    let p = default_profile();
    // Nothing libcontainer would skip or warn about.
    for r in p.syscalls().iter().flatten() {
        assert!(
            !(r.action() == LinuxSeccompAction::ScmpActErrno && r.errno_ret() == Some(1)),
            "rule with the default action: {r:?}"
        );
        for name in r.names() {
            assert!(ScmpSyscall::from_name(name).is_ok(), "{name} unknown");
        }
    }
    // It survives a JSON round trip (config.json).
    let json = serde_json::to_string(&p).unwrap();
    let back: LinuxSeccomp = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    assert!(json.contains("\"defaultErrnoRet\":1"));
}

#[test]
fn default_profile_compiles() {
    let (size, unknown) = export_size(&default_profile());
    assert!(
        unknown.is_empty(),
        "names unknown to libseccomp: {unknown:?}"
    );
    // And so do merged profiles.
    export_size(&merge_baseline(&docker_like()).0);
    let (_, unknown) = export_size(&merge_baseline(&denylist()).0);
    assert!(
        unknown.is_empty(),
        "names unknown to libseccomp: {unknown:?}"
    );
    eprintln!("default profile: {size} bytes of BPF");
}

#[test]
fn default_profile_enforces() {
    let failures = in_child(&default_profile(), default_profile_probes);
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---- merging -----------------------------------------------------------------------------

#[test]
fn merge_into_docker_like_profile() {
    let caller = docker_like();
    let (merged, changed) = merge_baseline(&caller);

    assert_eq!(
        changed,
        strs(&["bpf", "clone", "clone3", "keyctl", "mount", "ptrace", "unshare"])
    );
    let rules = merged.syscalls().clone().unwrap();
    // The big allow rule lost the forced names and clone, kept the rest.
    let mut expected: Vec<&str> = ALLOWED.to_vec();
    expected.retain(|n| !BASELINE_DENIED.contains(n));
    assert_eq!(rules[0].names(), &strs(&expected));
    assert_eq!(rules[0].action(), LinuxSeccompAction::ScmpActAllow);
    // Unrelated rules kept as they were (Docker's clone rule replaced).
    assert_eq!(rules[1], caller.syscalls().as_ref().unwrap()[1]);
    assert_eq!(rules[2], caller.syscalls().as_ref().unwrap()[3]);
    // Then clone3 (ENOSYS) and the conditional clone; no EPERM rule (the default says EPERM).
    assert_eq!(rules[3], clone3_rule());
    assert_eq!(rules[4], clone_allow_rule());
    assert_eq!(rules.len(), 5);
    for name in BASELINE_DENIED {
        for r in rules_naming(&merged, name) {
            assert!(is_deny(r), "{name} still allowed by {r:?}");
        }
    }
    assert_eq!(merged.default_action(), caller.default_action());
    assert_eq!(merged.architectures(), caller.architectures());
}

#[test]
fn merge_into_denylist_profile() {
    let caller = denylist();
    assert!(!is_unconfined(&caller));
    let (merged, changed) = merge_baseline(&caller);

    let mut expected: Vec<&str> = BASELINE_DENIED
        .iter()
        .copied()
        .filter(|n| *n != "reboot" && *n != "acct")
        .filter(|n| ScmpSyscall::from_name(n).is_ok())
        .chain(["clone", "clone3"])
        .collect();
    expected.sort_unstable();
    assert_eq!(changed, strs(&expected));

    let rules = merged.syscalls().clone().unwrap();
    assert_eq!(rules[0], caller.syscalls().as_ref().unwrap()[0]);
    assert_eq!(rules[1].action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(rules[1].errno_ret(), Some(EPERM));
    assert!(rules[1].names().iter().any(|n| n == "ptrace"));
    assert!(!rules[1].names().iter().any(|n| n == "reboot"));
    assert_eq!(rules[2], clone3_rule());
    // A deny rule per namespace flag, no allow rule (the default allows).
    assert_eq!(rules.len(), 3 + CLONE_NAMESPACE_FLAGS.len());
    for r in &rules[3..] {
        assert_eq!(r.names(), &strs(&["clone"]));
        assert!(is_deny(r));
    }
    assert!(!is_unconfined(&merged));
}

#[test]
fn merge_unconfined_profile() {
    let caller = profile(LinuxSeccompAction::ScmpActAllow, None, vec![]);
    assert!(is_unconfined(&caller));
    let mut log = caller.clone();
    log.set_default_action(LinuxSeccompAction::ScmpActLog);
    log.set_syscalls(Some(vec![allow_rule(&["read"])]));
    assert!(is_unconfined(&log));
    assert!(!is_unconfined(&default_profile()));

    let (merged, changed) = merge_baseline(&caller);
    assert!(!is_unconfined(&merged));
    assert!(changed.iter().any(|n| n == "ptrace"));
    assert_eq!(merge_baseline(&merged).0, merged);
    let (merged_log, _) = merge_baseline(&log);
    // Default LOG: clone without namespace flags stays with the default (no allow rule).
    assert!(rules_naming(&merged_log, "clone")
        .iter()
        .all(|r| is_deny(r)));
}

#[test]
fn merge_is_idempotent() {
    let mut kill_default = docker_like();
    kill_default.set_default_action(LinuxSeccompAction::ScmpActKillProcess);
    for caller in [
        docker_like(),
        denylist(),
        default_profile(),
        kill_default,
        profile(LinuxSeccompAction::ScmpActAllow, None, vec![]),
    ] {
        let (once, _) = merge_baseline(&caller);
        let (twice, changed) = merge_baseline(&once);
        assert_eq!(twice, once, "not idempotent for {caller:?}");
        assert!(changed.is_empty(), "second merge changed {changed:?}");
    }
}

#[test]
fn merge_into_default_profile_changes_nothing() {
    let p = default_profile();
    let (merged, changed) = merge_baseline(&p);
    assert_eq!(merged, p);
    assert!(changed.is_empty(), "{changed:?}");
}

#[test]
fn merge_keeps_the_callers_own_denials() {
    let mut conditional_ptrace = allow_rule(&["ptrace", "getpid"]);
    conditional_ptrace.set_args(Some(vec![arg(0, 0, None, LinuxSeccompOperator::ScmpCmpEq)]));
    let caller = profile(
        LinuxSeccompAction::ScmpActErrno,
        Some(EPERM),
        vec![
            allow_rule(&["read", "write", "clone"]),
            deny_rule(&["ptrace"], LinuxSeccompAction::ScmpActKillProcess),
            conditional_ptrace,
            deny_rule(&["clone"], LinuxSeccompAction::ScmpActKillProcess),
        ],
    );
    let (merged, changed) = merge_baseline(&caller);
    // ptrace: the unconditional kill already won over the conditional allow: no change. clone:
    // libseccomp keeps the first unconditional rule, the allow, so clone *was* allowed; the
    // allow loses the name and the caller's kill rule now decides (no allow rule is added).
    assert_eq!(changed, strs(&["clone"]));
    let rules = merged.syscalls().clone().unwrap();
    assert_eq!(rules[0].names(), &strs(&["read", "write"]));
    assert_eq!(rules[1], caller.syscalls().as_ref().unwrap()[1]);
    assert_eq!(rules[2].names(), &strs(&["getpid"]));
    assert_eq!(rules[3], caller.syscalls().as_ref().unwrap()[3]);
    assert_eq!(rules[4], clone3_rule());
    assert_eq!(rules.len(), 5);
    assert_eq!(merge_baseline(&merged).0, merged);
    export_size(&merged);
}

#[test]
fn merge_does_not_allow_what_the_caller_denied() {
    // clone not allowed at all by the caller: it stays denied (no allow rule appears).
    let caller = profile(
        LinuxSeccompAction::ScmpActErrno,
        Some(EPERM),
        vec![allow_rule(&["read", "write", "exit_group"])],
    );
    let (merged, changed) = merge_baseline(&caller);
    assert!(changed.is_empty(), "{changed:?}");
    assert!(rules_naming(&merged, "clone").is_empty());
    assert_eq!(
        merged.syscalls().clone().unwrap(),
        vec![allow_rule(&["read", "write", "exit_group"]), clone3_rule()]
    );
}

#[test]
fn merged_profiles_enforce() {
    for caller in [docker_like(), denylist()] {
        let (merged, _) = merge_baseline(&caller);
        let failures = in_child(&merged, all_probes);
        assert!(failures.is_empty(), "{caller:?}: {failures:#?}");
    }
}

/// Docker's clone rule (mask in `value`, runc's convention, which the compiler follows) denies
/// clone with namespace flags by itself: the merge finds nothing to change about clone. (Also
/// checks that the ptrace probe tells an allowed ptrace apart.)
#[test]
fn docker_clone_rule_denies_namespaces() {
    fn probes() -> Vec<String> {
        let mut f = Vec::new();
        let r = raw_clone(libc::CLONE_NEWUTS as u64);
        expect_errno(&mut f, "clone(CLONE_NEWUTS)", r, libc::EPERM);
        if raw_clone(0) <= 0 {
            f.push(format!(
                "clone without namespace flags failed: errno {}",
                errno()
            ));
        }
        let ppid = nix::unistd::getppid().as_raw() as libc::c_long;
        // SAFETY: PTRACE_PEEKDATA on a process this one does not trace only fails (ESRCH); it
        // reads no memory of this process.
        let r = unsafe { libc::syscall(libc::SYS_ptrace, libc::PTRACE_PEEKDATA, ppid, 0, 0) };
        expect_errno(&mut f, "ptrace(PEEKDATA, parent)", r, libc::ESRCH);
        f
    }
    let mut names: Vec<&str> = ALLOWED.to_vec();
    names.push("ptrace");
    let caller = profile(
        LinuxSeccompAction::ScmpActErrno,
        Some(EPERM),
        vec![allow_rule(&names), docker_clone_rule()],
    );
    let failures = in_child(&caller, probes);
    assert!(failures.is_empty(), "{failures:#?}");
    // Merged, ptrace is denied too; clone was not allowed with namespace flags before either.
    let (merged, changed) = merge_baseline(&caller);
    assert_eq!(changed, strs(&["ptrace"]));
    assert!(in_child(&merged, all_probes).is_empty());
}

/// The probes tell the filter's answer from the kernel's: without a filter (an allow-all
/// profile) every baseline probe fails.
#[test]
fn probes_detect_an_unfiltered_process() {
    let allow_all = profile(LinuxSeccompAction::ScmpActAllow, None, vec![]);
    let failures = in_child(&allow_all, baseline_probes);
    assert_eq!(failures.len(), 22, "{failures:#?}");
}

/// The clone rule of earlier versions (written for libcontainer's reading, mask in `valueTwo`)
/// would match every clone read today's way; exec into an older container rewrites it.
#[test]
fn legacy_clone_rule_is_migrated() {
    let mut legacy = clone_allow_rule();
    legacy.set_args(Some(vec![arg(
        0,
        0,
        Some(CLONE_NAMESPACE_MASK),
        LinuxSeccompOperator::ScmpCmpMaskedEq,
    )]));
    let mut old = default_profile();
    let mut rules = old.syscalls().clone().unwrap();
    for r in rules.iter_mut().filter(|r| **r == clone_allow_rule()) {
        *r = legacy.clone();
    }
    old.set_syscalls(Some(rules));
    assert_ne!(old, default_profile());
    // Read today's way, the old rule lets namespace flags through (CLONE_NEWUTS needs
    // CAP_SYS_ADMIN: only as root does the probe tell).
    fn probes() -> Vec<String> {
        let mut f = Vec::new();
        if raw_clone(libc::CLONE_NEWUTS as u64) <= 0 {
            f.push(format!("clone(CLONE_NEWUTS) failed: errno {}", errno()));
        }
        f
    }
    if nix::unistd::geteuid().is_root() {
        assert!(in_child(&old, probes).is_empty());
    }
    assert!(migrate_legacy_clone_rule(&mut old));
    assert_eq!(old, default_profile());
    assert!(!migrate_legacy_clone_rule(&mut old));
    assert!(in_child(&old, all_probes).is_empty());
}
