//! config-linux.md Seccomp: actions, errnoRet/defaultErrnoRet, arguments, architectures,
//! flags, listenerPath.

use anyhow::Result;
use serde_json::{json, Value};

use super::Case;
use crate::harness::*;

/// Every x86_64 system call busybox, a runtime's last steps and the kernel's exec need, except
/// mkdir and mkdirat (numbers up to 334 and 424-435, as libseccomp 2.5 knows them).
const ALLOW_ALL_BUT_MKDIR: &str = "
    read write open close stat fstat lstat poll lseek mmap mprotect munmap brk rt_sigaction
    rt_sigprocmask rt_sigreturn ioctl pread64 pwrite64 readv writev access pipe select sched_yield
    mremap msync mincore madvise shmget shmat shmctl dup dup2 pause nanosleep getitimer alarm
    setitimer getpid sendfile socket connect accept sendto recvfrom sendmsg recvmsg shutdown bind
    listen getsockname getpeername socketpair setsockopt getsockopt clone fork vfork execve exit
    wait4 kill uname semget semop semctl shmdt msgget msgsnd msgrcv msgctl fcntl flock fsync
    fdatasync truncate ftruncate getdents getcwd chdir fchdir rename rmdir creat link unlink
    symlink readlink chmod fchmod chown fchown lchown umask gettimeofday getrlimit getrusage
    sysinfo times ptrace getuid syslog getgid setuid setgid geteuid getegid setpgid getppid
    getpgrp setsid setreuid setregid getgroups setgroups setresuid getresuid setresgid getresgid
    getpgid setfsuid setfsgid getsid capget capset rt_sigpending rt_sigtimedwait rt_sigqueueinfo
    rt_sigsuspend sigaltstack utime mknod uselib personality ustat statfs fstatfs sysfs
    getpriority setpriority sched_setparam sched_getparam sched_setscheduler sched_getscheduler
    sched_get_priority_max sched_get_priority_min sched_rr_get_interval mlock munlock mlockall
    munlockall vhangup modify_ldt pivot_root _sysctl prctl arch_prctl adjtimex setrlimit chroot
    sync acct settimeofday mount umount2 swapon swapoff reboot sethostname setdomainname iopl
    ioperm create_module init_module delete_module get_kernel_syms query_module quotactl
    nfsservctl getpmsg putpmsg afs_syscall tuxcall security gettid readahead setxattr lsetxattr
    fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr
    lremovexattr fremovexattr tkill time futex sched_setaffinity sched_getaffinity set_thread_area
    io_setup io_destroy io_getevents io_submit io_cancel get_thread_area lookup_dcookie
    epoll_create epoll_ctl_old epoll_wait_old remap_file_pages getdents64 set_tid_address
    restart_syscall semtimedop fadvise64 timer_create timer_settime timer_gettime timer_getoverrun
    timer_delete clock_settime clock_gettime clock_getres clock_nanosleep exit_group epoll_wait
    epoll_ctl tgkill utimes vserver mbind set_mempolicy get_mempolicy mq_open mq_unlink
    mq_timedsend mq_timedreceive mq_notify mq_getsetattr kexec_load waitid add_key request_key
    keyctl ioprio_set ioprio_get inotify_init inotify_add_watch inotify_rm_watch migrate_pages
    openat mknodat fchownat futimesat newfstatat unlinkat renameat linkat symlinkat readlinkat
    fchmodat faccessat pselect6 ppoll unshare set_robust_list get_robust_list splice tee
    sync_file_range vmsplice move_pages utimensat epoll_pwait signalfd timerfd_create eventfd
    fallocate timerfd_settime timerfd_gettime accept4 signalfd4 eventfd2 epoll_create1 dup3 pipe2
    inotify_init1 preadv pwritev rt_tgsigqueueinfo perf_event_open recvmmsg fanotify_init
    fanotify_mark prlimit64 name_to_handle_at open_by_handle_at clock_adjtime syncfs sendmmsg
    setns getcpu process_vm_readv process_vm_writev kcmp finit_module sched_setattr sched_getattr
    renameat2 seccomp getrandom memfd_create kexec_file_load bpf execveat userfaultfd membarrier
    mlock2 copy_file_range preadv2 pwritev2 pkey_mprotect pkey_alloc pkey_free statx io_pgetevents
    rseq pidfd_send_signal io_uring_setup io_uring_enter io_uring_register open_tree move_mount
    fsopen fsconfig fsmount fspick pidfd_open clone3";

const MKDIR: &str = "mkdir /tmp/rst-dir 2>&1; echo rc=$?";
/// In a child shell: an action that kills must not take the shell that reports with it.
const MKDIR_CHILD: &str = "sh -c 'mkdir /tmp/rst-dir' 2>&1; echo rc=$?";
const CHMODS: &str = "touch /tmp/f; for m in 700 755 777; do chmod $m /tmp/f 2>/dev/null && echo $m=ok || echo $m=denied; done";

fn seccomp_out(ctx: &mut Ctx<'_>, seccomp: Value, script: &str) -> Result<String> {
    ctx.sh(script, |b| b.cfg["linux"]["seccomp"] = seccomp)
}

fn mkdir_rule(action: &str, errno: Option<u32>) -> Value {
    let mut r = json!({ "names": ["mkdir", "mkdirat"], "action": action });
    if let Some(e) = errno {
        r["errnoRet"] = json!(e);
    }
    json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [r] })
}

fn expect_rc(out: &str, rc: &str, what: &str) -> Result<()> {
    check(out.lines().any(|l| l.trim() == format!("rc={rc}")), || {
        format!("{what}: want rc={rc}, got {}", out.replace('\n', " "))
    })
}

fn expect_msg(out: &str, msg: &str) -> Result<()> {
    check(out.contains(msg) && !out.contains("rc=0"), || {
        format!("want {msg:?}, got {}", out.replace('\n', " "))
    })
}

/// A chmod rule with one argument condition; the modes 700/755/777 that must be denied.
fn arg_case(
    ctx: &mut Ctx<'_>,
    op: &str,
    value: u64,
    value_two: Option<u64>,
    denied: &[&str],
) -> Result<()> {
    let mut a1 = json!({ "index": 1, "value": value, "op": op });
    let mut a2 = json!({ "index": 2, "value": value, "op": op });
    if let Some(v2) = value_two {
        a1["valueTwo"] = json!(v2);
        a2["valueTwo"] = json!(v2);
    }
    let sc = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            { "names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": [a1] },
            { "names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "args": [a2] }
        ]
    });
    let out = seccomp_out(ctx, sc, CHMODS)?;
    let mut got: Vec<String> = out
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| l.contains('='))
        .collect();
    got.sort();
    let want: Vec<String> = ["700", "755", "777"]
        .iter()
        .map(|m| format!("{m}={}", if denied.contains(m) { "denied" } else { "ok" }))
        .collect();
    check_eq(&format!("chmod outcomes with {op}"), got, want)
}

fn create_must_fail(ctx: &mut Ctx<'_>, seccomp: Value, what: &str) -> Result<()> {
    let mut b = ctx.bundle()?;
    b.args(&["true"]);
    b.cfg["linux"]["seccomp"] = seccomp;
    let o = ctx.try_create(&b)?;
    if o.ok() {
        let s = ctx.try_start(&b.id)?;
        check(!s.ok(), || format!("create and start succeeded: {what}"))?;
    }
    Ok(())
}

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("seccomp/filter-installed", "config-linux.md Seccomp: Seccomp provides application sandboxing mechanism in the Linux kernel (the container process runs under a filter).", |ctx| {
            let out = seccomp_out(ctx, mkdir_rule("SCMP_ACT_ERRNO", None), "grep '^Seccomp:' /proc/self/status")?;
            check_eq("Seccomp mode", status_field(&out, "Seccomp").as_deref(), Some("2"))
        }),
        Case::new("seccomp/errno-default-eperm", "config-linux.md Seccomp: errnoRet (uint, OPTIONAL) is the errno return code to use ... If not specified its default value is EPERM.", |ctx| {
            let out = seccomp_out(ctx, mkdir_rule("SCMP_ACT_ERRNO", None), MKDIR)?;
            expect_msg(&out, "Operation not permitted")
        }),
        Case::new("seccomp/errno-ret", "config-linux.md Seccomp: errnoRet (uint, OPTIONAL) is the errno return code to use. Some actions like SCMP_ACT_ERRNO and SCMP_ACT_TRACE allow to specify the errno code to return.", |ctx| {
            let out = seccomp_out(ctx, mkdir_rule("SCMP_ACT_ERRNO", Some(18)), MKDIR)?;
            expect_msg(&out, "Invalid cross-device link")
        }),
        Case::new("seccomp/default-action-errno", "config-linux.md Seccomp: defaultAction (string, REQUIRED) the default action for seccomp (SCMP_ACT_ERRNO, with an allowlist).", |ctx| {
            let names: Vec<&str> = ALLOW_ALL_BUT_MKDIR.split_whitespace().collect();
            let sc = json!({ "defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{ "names": names, "action": "SCMP_ACT_ALLOW" }] });
            let out = seccomp_out(ctx, sc, MKDIR)?;
            expect_msg(&out, "Operation not permitted")
        }),
        Case::new("seccomp/default-errno-ret", "config-linux.md Seccomp: defaultErrnoRet (uint, OPTIONAL) the errno return code to use. Some actions like SCMP_ACT_ERRNO and SCMP_ACT_TRACE allow to specify the errno code to return.", |ctx| {
            let names: Vec<&str> = ALLOW_ALL_BUT_MKDIR.split_whitespace().collect();
            let sc = json!({ "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 18, "syscalls": [{ "names": names, "action": "SCMP_ACT_ALLOW" }] });
            let out = seccomp_out(ctx, sc, MKDIR)?;
            expect_msg(&out, "Invalid cross-device link")
        }),
        Case::new("seccomp/action-kill", "config-linux.md Seccomp: action (string, REQUIRED) the action for seccomp rules ... SCMP_ACT_KILL.", |ctx| {
            let out = seccomp_out(ctx, mkdir_rule("SCMP_ACT_KILL", None), MKDIR_CHILD)?;
            expect_rc(&out, "159", "mkdir under SCMP_ACT_KILL (SIGSYS)")
        }),
        Case::new("seccomp/action-kill-process", "config-linux.md Seccomp: action ... SCMP_ACT_KILL_PROCESS.", |ctx| {
            let out = seccomp_out(ctx, mkdir_rule("SCMP_ACT_KILL_PROCESS", None), MKDIR_CHILD)?;
            expect_rc(&out, "159", "mkdir under SCMP_ACT_KILL_PROCESS (SIGSYS)")
        }),
        Case::new("seccomp/action-kill-thread", "config-linux.md Seccomp: action ... SCMP_ACT_KILL_THREAD.", |ctx| {
            let out = seccomp_out(ctx, mkdir_rule("SCMP_ACT_KILL_THREAD", None), MKDIR_CHILD)?;
            expect_rc(&out, "159", "mkdir under SCMP_ACT_KILL_THREAD (SIGSYS)")
        }),
        Case::new("seccomp/action-trap", "config-linux.md Seccomp: action ... SCMP_ACT_TRAP.", |ctx| {
            let out = seccomp_out(ctx, mkdir_rule("SCMP_ACT_TRAP", None), MKDIR_CHILD)?;
            expect_rc(&out, "159", "mkdir under SCMP_ACT_TRAP (SIGSYS)")
        }),
        Case::new("seccomp/action-trace", "config-linux.md Seccomp: action ... SCMP_ACT_TRACE (no tracer: the system call fails with ENOSYS).", |ctx| {
            let out = seccomp_out(ctx, mkdir_rule("SCMP_ACT_TRACE", None), MKDIR)?;
            expect_msg(&out, "Function not implemented")
        }),
        Case::new("seccomp/action-log", "config-linux.md Seccomp: action ... SCMP_ACT_LOG (the system call is allowed and logged).", |ctx| {
            let out = seccomp_out(ctx, mkdir_rule("SCMP_ACT_LOG", None), MKDIR)?;
            expect_rc(&out, "0", "mkdir under SCMP_ACT_LOG")
        }),
        Case::new("seccomp/names-several", "config-linux.md Seccomp: names (array of strings, REQUIRED) the names of the syscalls. names MUST contain at least one entry (every name listed is matched).", |ctx| {
            let sc = json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{ "names": ["mkdir", "mkdirat", "rmdir", "unlinkat"], "action": "SCMP_ACT_ERRNO" }] });
            let out = ctx.sh("rmdir /srv/keep 2>&1; echo rc=$?", |b| {
                std::fs::create_dir_all(b.rootfs.join("srv/keep")).ok();
                b.cfg["linux"]["seccomp"] = sc;
            })?;
            expect_msg(&out, "Operation not permitted")
        }),
        Case::new("seccomp/architectures", "config-linux.md Seccomp: architectures (array of strings, OPTIONAL) the architecture used for system calls.", |ctx| {
            let mut sc = mkdir_rule("SCMP_ACT_ERRNO", Some(18));
            sc["architectures"] = json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
            let out = seccomp_out(ctx, sc, MKDIR)?;
            expect_msg(&out, "Invalid cross-device link")
        }),
        Case::new("seccomp/flag-log", "config-linux.md Seccomp: flags (array of strings, OPTIONAL) list of flags to use with seccomp(2): SECCOMP_FILTER_FLAG_LOG.", |ctx| {
            let mut sc = mkdir_rule("SCMP_ACT_ERRNO", Some(18));
            sc["flags"] = json!(["SECCOMP_FILTER_FLAG_LOG"]);
            let out = seccomp_out(ctx, sc, MKDIR)?;
            expect_msg(&out, "Invalid cross-device link")
        }),
        Case::new("seccomp/flag-spec-allow", "config-linux.md Seccomp: flags ... SECCOMP_FILTER_FLAG_SPEC_ALLOW.", |ctx| {
            let mut sc = mkdir_rule("SCMP_ACT_ERRNO", Some(18));
            sc["flags"] = json!(["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]);
            let out = seccomp_out(ctx, sc, MKDIR)?;
            expect_msg(&out, "Invalid cross-device link")
        }),
        Case::new("seccomp/flag-tsync", "config-linux.md Seccomp: flags ... SECCOMP_FILTER_FLAG_TSYNC.", |ctx| {
            let mut sc = mkdir_rule("SCMP_ACT_ERRNO", Some(18));
            sc["flags"] = json!(["SECCOMP_FILTER_FLAG_TSYNC"]);
            let out = seccomp_out(ctx, sc, MKDIR)?;
            expect_msg(&out, "Invalid cross-device link")
        }),
        Case::new("seccomp/arg-eq", "config-linux.md Seccomp: args ... op (string, REQUIRED) the operator for syscall arguments: SCMP_CMP_EQ.", |ctx| arg_case(ctx, "SCMP_CMP_EQ", 0o777, None, &["777"])),
        Case::new("seccomp/arg-ne", "config-linux.md Seccomp: args ... op: SCMP_CMP_NE.", |ctx| arg_case(ctx, "SCMP_CMP_NE", 0o777, None, &["700", "755"])),
        Case::new("seccomp/arg-lt", "config-linux.md Seccomp: args ... op: SCMP_CMP_LT.", |ctx| arg_case(ctx, "SCMP_CMP_LT", 0o755, None, &["700"])),
        Case::new("seccomp/arg-le", "config-linux.md Seccomp: args ... op: SCMP_CMP_LE.", |ctx| arg_case(ctx, "SCMP_CMP_LE", 0o755, None, &["700", "755"])),
        Case::new("seccomp/arg-gt", "config-linux.md Seccomp: args ... op: SCMP_CMP_GT.", |ctx| arg_case(ctx, "SCMP_CMP_GT", 0o755, None, &["777"])),
        Case::new("seccomp/arg-ge", "config-linux.md Seccomp: args ... op: SCMP_CMP_GE.", |ctx| arg_case(ctx, "SCMP_CMP_GE", 0o755, None, &["755", "777"])),
        Case::new("seccomp/arg-masked-eq", "config-linux.md Seccomp: args ... index, value, valueTwo (uint64, OPTIONAL), op: SCMP_CMP_MASKED_EQ (value is the mask, valueTwo the datum).", |ctx| arg_case(ctx, "SCMP_CMP_MASKED_EQ", 0o070, Some(0o050), &["755"])),
        Case::new("seccomp/nonroot-without-no-new-privs", "config-linux.md Seccomp: the filter applies to the container process (a non-root process without capabilities and without noNewPrivileges).", |ctx| {
            let out = ctx.sh(MKDIR, |b| {
                b.cfg["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
                b.cfg["process"]["noNewPrivileges"] = json!(false);
                b.cfg["process"]["capabilities"] = json!({ "bounding": [], "effective": [], "permitted": [] });
                b.cfg["linux"]["seccomp"] = mkdir_rule("SCMP_ACT_ERRNO", Some(18));
            })?;
            expect_msg(&out, "Invalid cross-device link")
        }),
        Case::new("seccomp/errno-ret-on-kill-errors", "config-linux.md Seccomp: errnoRet ... When the action doesn't support an errno, the runtime MUST print and error and fail.", |ctx| {
            create_must_fail(ctx, mkdir_rule("SCMP_ACT_KILL", Some(1)), "errnoRet with SCMP_ACT_KILL")
        }),
        Case::new("seccomp/default-errno-ret-on-allow-errors", "config-linux.md Seccomp: defaultErrnoRet ... When the action doesn't support an errno, the runtime MUST print and error and fail.", |ctx| {
            let mut sc = mkdir_rule("SCMP_ACT_ERRNO", None);
            sc["defaultErrnoRet"] = json!(1);
            create_must_fail(ctx, sc, "defaultErrnoRet with defaultAction SCMP_ACT_ALLOW")
        }),
        Case::new("seccomp/listener-state", "config-linux.md Seccomp: listenerPath (string, OPTIONAL) specifies the path of UNIX domain socket over which the runtime will send the container process state data structure when the SCMP_ACT_NOTIFY action is used.", |ctx| {
            let sock = ctx.dir.join("seccomp.sock");
            let mut rx = FdReceiver::listen(&sock, WAIT)?;
            let mut b = ctx.bundle()?;
            b.sh("mkdir /tmp/rst-dir 2>&1; echo rc=$?");
            let mut sc = mkdir_rule("SCMP_ACT_NOTIFY", None);
            sc["listenerPath"] = json!(sock.display().to_string());
            sc["listenerMetadata"] = json!("rst-metadata");
            b.cfg["linux"]["seccomp"] = sc;
            ctx.create(&b)?;
            ctx.start(&b.id)?;
            let (fd, data) = rx.take()?;
            drop(fd); // a closed listener: the notified system call fails, the container goes on
            ctx.wait_status(&b.id, "stopped", WAIT)?;
            let v: Value = serde_json::from_slice(&data).map_err(|e| anyhow::anyhow!("container process state is not JSON ({e}): {:?}", String::from_utf8_lossy(&data)))?;
            check(v["fds"].as_array().map(|a| a.iter().any(|x| x == "seccompFd")).unwrap_or(false), || format!("fds: {}", v["fds"]))?;
            check(v["pid"].as_i64().unwrap_or(0) > 0, || format!("pid: {}", v["pid"]))?;
            check_eq("metadata", v["metadata"].as_str(), Some("rst-metadata"))?;
            check_eq("state.id", v["state"]["id"].as_str(), Some(b.id.as_str()))?;
            check(v["ociVersion"].is_string(), || "no ociVersion".into())
        }),
    ]
}
