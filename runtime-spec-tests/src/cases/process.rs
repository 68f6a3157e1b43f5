//! config.md Process: args, env, cwd, user, rlimits, capabilities, noNewPrivileges,
//! oomScoreAdj, terminal; config-linux.md personality; runtime-linux.md file descriptors.

use std::fs;
use std::path::Path;

use anyhow::{bail, Result};
use serde_json::{json, Value};

use super::Case;
use crate::harness::*;

/// The soft and hard values of one line of /proc/<pid>/limits.
fn limit(text: &str, name: &str) -> Option<(String, String)> {
    let l = text.lines().find(|l| l.starts_with(name))?;
    let mut it = l[name.len()..].split_whitespace();
    Some((it.next()?.to_string(), it.next()?.to_string()))
}

fn rlimit_case(ctx: &mut Ctx<'_>, rl: Value, name: &str, want: (&str, &str)) -> Result<()> {
    let out = ctx.sh("cat /proc/self/limits", |b| {
        b.cfg["process"]["rlimits"] = rl;
    })?;
    let got = limit(&out, name);
    check_eq(name, got, Some((want.0.to_string(), want.1.to_string())))
}

fn caps_status(ctx: &mut Ctx<'_>, edit: impl FnOnce(&mut Bundle)) -> Result<String> {
    ctx.sh("cat /proc/self/status", edit)
}

fn cap_field(status: &str, key: &str) -> Result<u64> {
    status_field(status, key)
        .and_then(|v| parse_hex(&v))
        .ok_or_else(|| anyhow::anyhow!("no {key} in /proc/self/status"))
}

fn check_caps(status: &str, key: &str, want: &[&str]) -> Result<()> {
    let got = cap_field(status, key)?;
    let want = cap_mask(want);
    check(got == want, || format!("{key} = {got:#x}, want {want:#x}"))
}

/// Run `script` with a terminal; the text the pty master got (\r removed).
fn with_terminal(
    ctx: &mut Ctx<'_>,
    script: &str,
    edit: impl FnOnce(&mut Bundle),
) -> Result<String> {
    let mut b = ctx.bundle()?;
    b.sh(&format!("{script}; echo END-OF-OUTPUT"));
    b.cfg["process"]["terminal"] = json!(true);
    edit(&mut b);
    let sock = ctx.dir.join("console.sock");
    let mut rx = FdReceiver::listen(&sock, WAIT)?;
    let socks = sock.display().to_string();
    let id = b.id.clone();
    let o = ctx.create_raw(&b, &id, &["--console-socket", &socks])?;
    if !o.ok() {
        bail!("create with a terminal failed: {}", o.describe());
    }
    let (master, _) = rx.take()?;
    ctx.start(&id)?;
    let text = read_pty(&master, WAIT, Some("END-OF-OUTPUT"));
    let _ = ctx.wait_status(&id, "stopped", WAIT);
    drop(master);
    Ok(text.replace('\r', ""))
}

fn oom_adj_pre_exec(v: &'static str) -> impl FnMut() -> std::io::Result<()> + Send + Sync {
    move || {
        let path = b"/proc/self/oom_score_adj\0";
        // SAFETY: plain system calls on a NUL-terminated path and a static buffer.
        unsafe {
            let fd = libc::open(path.as_ptr() as *const libc::c_char, libc::O_WRONLY);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::write(fd, v.as_ptr() as *const libc::c_void, v.len());
            libc::close(fd);
        }
        Ok(())
    }
}

pub fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "process/args-absolute-path",
            "config.md Process: args (array of strings, REQUIRED) with similar semantics to IEEE Std 1003.1-2008 execvp's argv.",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.args(&["/bin/echo", "hello", "world"]);
                check_eq("output", ctx.run(&b)?.trim(), "hello world")
            },
        ),
        Case::new(
            "process/args-path-lookup",
            "config.md Process: args ... the first entry is used with the same semantics as execvp's file (a name without a slash is searched in PATH).",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.args(&["echo", "from-path"]);
                b.cfg["process"]["env"] = json!(["PATH=/usr/local/bin:/bin"]);
                check_eq("output", ctx.run(&b)?.trim(), "from-path")
            },
        ),
        Case::new(
            "process/args-verbatim",
            "config.md Process: args (array of strings, REQUIRED) with similar semantics to IEEE Std 1003.1-2008 execvp's argv (each element one argument, unchanged).",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.args(&["sh", "-c", "printf '[%s]' \"$@\"", "zero", "a b", "", "$HOME", "*", "-n", "x\ty"]);
                check_eq("arguments seen", ctx.run(&b)?.as_str(), "[a b][][$HOME][*][-n][x\ty]")
            },
        ),
        Case::new(
            "process/args-missing-executable-errors",
            "config.md Process: The executable is the first element and MUST be available at the given path inside of the rootfs (otherwise create or start MUST generate an error).",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.args(&["/no/such/executable"]);
                let o = ctx.try_create(&b)?;
                if !o.ok() {
                    return Ok(());
                }
                let s = ctx.try_start(&b.id)?;
                check(!s.ok(), || "create and start both succeeded for a missing executable".into())
            },
        ),
        Case::new(
            "process/env",
            "config.md Process: env (array of strings, OPTIONAL) with the same semantics as IEEE Std 1003.1-2008's environ.",
            |ctx| {
                let out = ctx.sh("env", |b| {
                    b.cfg["process"]["env"] = json!([
                        "PATH=/bin", "RST_A=plain", "RST_EMPTY=", "RST_EQ=a=b=c", "RST_SP=x y  z"
                    ]);
                })?;
                for want in ["RST_A=plain", "RST_EMPTY=", "RST_EQ=a=b=c", "RST_SP=x y  z", "PATH=/bin"] {
                    check(out.lines().any(|l| l == want), || format!("{want:?} not in the environment: {}", out.replace('\n', " ")))?;
                }
                Ok(())
            },
        ),
        Case::new(
            "process/cwd",
            "config.md Process: cwd (string, REQUIRED) is the working directory that will be set for the executable.",
            |ctx| {
                let out = ctx.sh("pwd", |b| {
                    fs::create_dir_all(b.rootfs.join("srv/work")).ok();
                    b.cfg["process"]["cwd"] = json!("/srv/work");
                })?;
                check_eq("pwd", out.trim(), "/srv/work")
            },
        ),
        Case::new(
            "process/user-uid",
            "config.md User: uid (int, REQUIRED) specifies the user ID in the container namespace.",
            |ctx| {
                let out = caps_status(ctx, |b| {
                    b.cfg["process"]["user"] = json!({ "uid": 1234, "gid": 1000 });
                })?;
                check_eq("Uid", status_field(&out, "Uid").as_deref(), Some("1234\t1234\t1234\t1234"))
            },
        ),
        Case::new(
            "process/user-gid",
            "config.md User: gid (int, REQUIRED) specifies the group ID in the container namespace.",
            |ctx| {
                let out = caps_status(ctx, |b| {
                    b.cfg["process"]["user"] = json!({ "uid": 1000, "gid": 4321 });
                })?;
                check_eq("Gid", status_field(&out, "Gid").as_deref(), Some("4321\t4321\t4321\t4321"))
            },
        ),
        Case::new(
            "process/user-additional-gids",
            "config.md User: additionalGids (array of ints, OPTIONAL) specifies additional group IDs in the container namespace to be added to the process.",
            |ctx| {
                let out = caps_status(ctx, |b| {
                    b.cfg["process"]["user"] = json!({ "uid": 1000, "gid": 1000, "additionalGids": [5, 2000, 3000] });
                })?;
                let mut g: Vec<String> = status_field(&out, "Groups")
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(String::from)
                    .collect();
                g.sort();
                g.dedup();
                g.retain(|x| x != "1000");
                check_eq("supplementary groups", g.join(" "), "2000 3000 5".to_string())
            },
        ),
        Case::new(
            "process/user-umask",
            "config.md User: umask (int, OPTIONAL) specifies the umask of the user.",
            |ctx| {
                let out = ctx.sh("grep Umask /proc/self/status; touch /tmp/f; stat -c %a /tmp/f", |b| {
                    b.cfg["process"]["user"]["umask"] = json!(0o027);
                })?;
                check_eq("Umask", status_field(&out, "Umask").as_deref(), Some("0027"))?;
                check_eq("mode of a new file", out.lines().last().map(str::trim), Some("640"))
            },
        ),
        Case::new(
            "process/rlimits-nofile",
            "config.md POSIX process: rlimits (array of objects, OPTIONAL) allows setting resource limits for the process (RLIMIT_NOFILE soft and hard).",
            |ctx| rlimit_case(ctx, json!([{ "type": "RLIMIT_NOFILE", "soft": 512, "hard": 768 }]), "Max open files", ("512", "768")),
        ),
        Case::new(
            "process/rlimits-nproc",
            "config.md POSIX process: rlimits ... soft (uint64, REQUIRED) the value of the limit enforced for the corresponding resource; hard (uint64, REQUIRED) the ceiling (RLIMIT_NPROC).",
            |ctx| rlimit_case(ctx, json!([{ "type": "RLIMIT_NPROC", "soft": 1111, "hard": 2222 }]), "Max processes", ("1111", "2222")),
        ),
        Case::new(
            "process/rlimits-core",
            "config.md POSIX process: rlimits ... type (string, REQUIRED) the platform resource being limited; Linux: valid values are defined in getrlimit(2) (RLIMIT_CORE).",
            |ctx| rlimit_case(ctx, json!([{ "type": "RLIMIT_CORE", "soft": 4096, "hard": 8192 }]), "Max core file size", ("4096", "8192")),
        ),
        Case::new(
            "process/rlimits-several",
            "config.md POSIX process: rlimits (array of objects, OPTIONAL) allows setting resource limits for the process (several types at once).",
            |ctx| {
                let out = ctx.sh("cat /proc/self/limits", |b| {
                    b.cfg["process"]["rlimits"] = json!([
                        { "type": "RLIMIT_NOFILE", "soft": 300, "hard": 300 },
                        { "type": "RLIMIT_MEMLOCK", "soft": 65536, "hard": 131072 },
                        { "type": "RLIMIT_MSGQUEUE", "soft": 1000, "hard": 2000 },
                        { "type": "RLIMIT_SIGPENDING", "soft": 100, "hard": 200 }
                    ]);
                })?;
                check_eq("Max open files", limit(&out, "Max open files"), Some(("300".into(), "300".into())))?;
                check_eq("Max locked memory", limit(&out, "Max locked memory"), Some(("65536".into(), "131072".into())))?;
                check_eq("Max msgqueue size", limit(&out, "Max msgqueue size"), Some(("1000".into(), "2000".into())))?;
                check_eq("Max pending signals", limit(&out, "Max pending signals"), Some(("100".into(), "200".into())))
            },
        ),
        Case::new(
            "process/rlimits-unlimited",
            "config.md POSIX process: rlimits ... soft/hard (uint64) (RLIM_INFINITY, 2^64-1, is unlimited).",
            |ctx| rlimit_case(ctx, json!([{ "type": "RLIMIT_CORE", "soft": 1024, "hard": u64::MAX }]), "Max core file size", ("1024", "unlimited")),
        ),
        Case::new(
            "process/rlimits-invalid-type-errors",
            "config.md POSIX process: rlimits type ... the runtime MUST generate an error for any values which cannot be mapped to a relevant kernel interface.",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.args(&["true"]);
                b.cfg["process"]["rlimits"] = json!([{ "type": "RLIMIT_RST_NO_SUCH", "soft": 1, "hard": 1 }]);
                let o = ctx.try_create(&b)?;
                if o.ok() {
                    let s = ctx.try_start(&b.id)?;
                    check(!s.ok(), || "an unknown rlimit type was accepted".into())?;
                }
                Ok(())
            },
        ),
        Case::new(
            "process/rlimits-duplicate-errors",
            "config.md POSIX process: If rlimits contains duplicated entries with same type, the runtime MUST generate an error.",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.args(&["true"]);
                b.cfg["process"]["rlimits"] = json!([
                    { "type": "RLIMIT_NOFILE", "soft": 100, "hard": 100 },
                    { "type": "RLIMIT_NOFILE", "soft": 200, "hard": 200 }
                ]);
                let o = ctx.try_create(&b)?;
                if o.ok() {
                    let s = ctx.try_start(&b.id)?;
                    check(!s.ok(), || "duplicated rlimits were accepted".into())?;
                }
                Ok(())
            },
        ),
        Case::new(
            "process/caps-bounding",
            "config.md Linux process: capabilities ... bounding (array of strings, OPTIONAL) the bounding capabilities of the process.",
            |ctx| {
                let set = ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_NET_RAW"];
                let out = caps_status(ctx, |b| {
                    b.cfg["process"]["capabilities"] = json!({
                        "bounding": set, "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]
                    });
                })?;
                check_caps(&out, "CapBnd", &set)
            },
        ),
        Case::new(
            "process/caps-inheritable",
            "config.md Linux process: capabilities ... inheritable (array of strings, OPTIONAL) the inheritable capabilities of the process.",
            |ctx| {
                let out = caps_status(ctx, |b| {
                    b.cfg["process"]["capabilities"] = json!({
                        "bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW"],
                        "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                        "inheritable": ["CAP_CHOWN", "CAP_NET_RAW"]
                    });
                })?;
                check_caps(&out, "CapInh", &["CAP_CHOWN", "CAP_NET_RAW"])
            },
        ),
        Case::new(
            "process/caps-ambient-nonroot",
            "config.md Linux process: capabilities ... ambient (array of strings, OPTIONAL) the ambient capabilities of the process.",
            |ctx| {
                let set = ["CAP_NET_BIND_SERVICE", "CAP_KILL"];
                let out = caps_status(ctx, |b| {
                    b.cfg["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
                    b.cfg["process"]["capabilities"] = json!({
                        "bounding": set, "effective": set, "permitted": set, "inheritable": set, "ambient": set
                    });
                })?;
                check_caps(&out, "CapAmb", &set)
            },
        ),
        Case::new(
            "process/caps-effective-nonroot",
            "config.md Linux process: capabilities ... effective (array of strings, OPTIONAL) the effective capabilities of the process (a non-root process keeps them through ambient).",
            |ctx| {
                let set = ["CAP_NET_BIND_SERVICE", "CAP_KILL"];
                let out = caps_status(ctx, |b| {
                    b.cfg["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
                    b.cfg["process"]["capabilities"] = json!({
                        "bounding": set, "effective": set, "permitted": set, "inheritable": set, "ambient": set
                    });
                })?;
                check_caps(&out, "CapEff", &set)
            },
        ),
        Case::new(
            "process/caps-permitted-nonroot",
            "config.md Linux process: capabilities ... permitted (array of strings, OPTIONAL) the permitted capabilities of the process.",
            |ctx| {
                let set = ["CAP_NET_BIND_SERVICE", "CAP_KILL"];
                let out = caps_status(ctx, |b| {
                    b.cfg["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
                    b.cfg["process"]["capabilities"] = json!({
                        "bounding": set, "effective": set, "permitted": set, "inheritable": set, "ambient": set
                    });
                })?;
                check_caps(&out, "CapPrm", &set)
            },
        ),
        Case::new(
            "process/caps-empty-root",
            "config.md Linux process: capabilities (object, OPTIONAL) is an object containing arrays that specifies the sets of capabilities for the process (all sets empty: root has none).",
            |ctx| {
                let out = caps_status(ctx, |b| {
                    b.cfg["process"]["capabilities"] = json!({
                        "bounding": [], "effective": [], "permitted": [], "inheritable": [], "ambient": []
                    });
                })?;
                for k in ["CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"] {
                    check_caps(&out, k, &[])?;
                }
                Ok(())
            },
        ),
        Case::new(
            "process/caps-nonroot-no-ambient",
            "config.md Linux process: capabilities ... ambient (array of strings, OPTIONAL) the ambient capabilities of the process (none asked: a non-root process has no effective capabilities).",
            |ctx| {
                let set = ["CAP_NET_BIND_SERVICE", "CAP_KILL"];
                let out = caps_status(ctx, |b| {
                    b.cfg["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
                    b.cfg["process"]["capabilities"] = json!({
                        "bounding": set, "effective": set, "permitted": set
                    });
                })?;
                check_caps(&out, "CapAmb", &[])?;
                check_caps(&out, "CapBnd", &set)
            },
        ),
        Case::new(
            "process/caps-chown-denied",
            "config.md Linux process: capabilities ... effective: a capability not granted is not available to the process (chown without CAP_CHOWN fails).",
            |ctx| {
                let out = ctx.sh("touch /tmp/f; chown 1000 /tmp/f 2>&1; echo rc=$?", |b| {
                    b.cfg["process"]["capabilities"] = json!({
                        "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]
                    });
                })?;
                check(!out.contains("rc=0"), || "chown succeeded without CAP_CHOWN".into())
            },
        ),
        Case::new(
            "process/caps-chown-allowed",
            "config.md Linux process: capabilities ... effective: a granted capability is available to the process (chown with CAP_CHOWN works).",
            |ctx| {
                let out = ctx.sh("touch /tmp/f; chown 1000 /tmp/f 2>&1; echo rc=$?", |b| {
                    b.cfg["process"]["capabilities"] = json!({
                        "bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]
                    });
                })?;
                check(out.contains("rc=0"), || format!("chown failed with CAP_CHOWN: {}", last_line(&out)))
            },
        ),
        Case::new(
            "process/no-new-privileges-true",
            "config.md Linux process: noNewPrivileges (bool, OPTIONAL) setting noNewPrivileges to true prevents the process from gaining additional privileges.",
            |ctx| {
                let out = caps_status(ctx, |b| b.cfg["process"]["noNewPrivileges"] = json!(true))?;
                check_eq("NoNewPrivs", status_field(&out, "NoNewPrivs").as_deref(), Some("1"))
            },
        ),
        Case::new(
            "process/no-new-privileges-false",
            "config.md Linux process: noNewPrivileges (bool, OPTIONAL) setting noNewPrivileges to true prevents the process from gaining additional privileges (false: not set).",
            |ctx| {
                let out = caps_status(ctx, |b| b.cfg["process"]["noNewPrivileges"] = json!(false))?;
                check_eq("NoNewPrivs", status_field(&out, "NoNewPrivs").as_deref(), Some("0"))
            },
        ),
        Case::new(
            "process/oom-score-adj",
            "config.md Linux process: oomScoreAdj (int, OPTIONAL) adjusts the oom-killer score in [pid]/oom_score_adj for the process's [pid] in a proc pseudo-filesystem. If oomScoreAdj is set, the runtime MUST set oom_score_adj to the given value.",
            |ctx| {
                let out = ctx.sh("cat /proc/self/oom_score_adj", |b| b.cfg["process"]["oomScoreAdj"] = json!(500))?;
                check_eq("oom_score_adj", out.trim(), "500")
            },
        ),
        Case::new(
            "process/oom-score-adj-negative",
            "config.md Linux process: If oomScoreAdj is set, the runtime MUST set oom_score_adj to the given value (negative value).",
            |ctx| {
                let own = fs::read_to_string("/proc/self/status")?;
                let eff = status_field(&own, "CapEff").and_then(|v| parse_hex(&v)).unwrap_or(0);
                if eff & (1 << 24) == 0 {
                    return Err(skip("the suite (and so the runtime) runs without CAP_SYS_RESOURCE on this host: no process may lower oom_score_adj"));
                }
                let out = ctx.sh("cat /proc/self/oom_score_adj", |b| b.cfg["process"]["oomScoreAdj"] = json!(-321))?;
                check_eq("oom_score_adj", out.trim(), "-321")
            },
        ),
        Case::new(
            "process/oom-score-adj-unset-inherited",
            "config.md Linux process: If oomScoreAdj is not set, the runtime MUST NOT change the value of oom_score_adj.",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.sh("cat /proc/self/oom_score_adj");
                if let Some(p) = b.cfg["process"].as_object_mut() {
                    p.remove("oomScoreAdj");
                }
                let o = ctx.create_with_pre_exec(&b, oom_adj_pre_exec("321"))?;
                check(o.ok(), || format!("create failed: {}", o.describe()))?;
                ctx.start(&b.id)?;
                ctx.wait_status(&b.id, "stopped", WAIT)?;
                check_eq("oom_score_adj (the runtime's was 321)", b.stdout().trim(), "321")
            },
        ),
        Case::new(
            "process/terminal-stdio-is-tty",
            "config.md Process: terminal (bool, OPTIONAL) specifies whether a terminal is attached to the process; on Linux a pseudoterminal pair is allocated for the process and the pseudoterminal pty is duplicated on the process's standard streams.",
            |ctx| {
                let out = with_terminal(ctx, "for f in 0 1 2; do test -t $f && echo tty$f; done", |_| {})?;
                for f in ["tty0", "tty1", "tty2"] {
                    check(out.lines().any(|l| l.trim() == f), || format!("fd {} is not a terminal (output: {:?})", &f[3..], out))?;
                }
                Ok(())
            },
        ),
        Case::new(
            "process/terminal-console-socket",
            "config.md Process: terminal ... a pseudoterminal pair is allocated for the process (runc CLI: the master is sent over --console-socket and carries the process's output).",
            |ctx| {
                let out = with_terminal(ctx, "echo hello-from-the-pty", |_| {})?;
                check(out.contains("hello-from-the-pty"), || format!("pty master got {out:?}"))
            },
        ),
        Case::new(
            "process/terminal-dev-console",
            "config-linux.md Default Devices: /dev/console is set up if terminal is enabled in the config by bind mounting the pseudoterminal pty to /dev/console.",
            |ctx| {
                let out = with_terminal(ctx, "stat -L -c 'con=%t:%T' /dev/console; stat -L -c 'in=%t:%T' /proc/self/fd/0", |_| {})?;
                let con = out.lines().find_map(|l| l.trim().strip_prefix("con=")).map(String::from);
                let inp = out.lines().find_map(|l| l.trim().strip_prefix("in=")).map(String::from);
                check(con.is_some() && con == inp, || format!("/dev/console {con:?} is not the process's pty {inp:?}"))
            },
        ),
        Case::new(
            "process/terminal-console-size",
            "config.md Process: consoleSize (object, OPTIONAL) specifies the console size in characters of the terminal.",
            |ctx| {
                let out = with_terminal(ctx, "stty size", |b| {
                    b.cfg["process"]["consoleSize"] = json!({ "height": 41, "width": 113 });
                })?;
                check(out.lines().any(|l| l.trim() == "41 113"), || format!("stty size: {:?}", out))
            },
        ),
        Case::new(
            "process/terminal-false-ignores-console-size",
            "config.md Process: Runtimes MUST ignore consoleSize if terminal is false or unset.",
            |ctx| {
                let out = ctx.sh("test -t 0 || echo no-tty", |b| {
                    b.cfg["process"]["terminal"] = json!(false);
                    b.cfg["process"]["consoleSize"] = json!({ "height": 10, "width": 20 });
                })?;
                check_eq("output", out.trim(), "no-tty")
            },
        ),
        Case::new(
            "process/fds-stdio-only",
            "runtime-linux.md File descriptors: By default, only the stdin, stdout and stderr file descriptors are kept open for the application by the runtime.",
            |ctx| {
                // ls is the container process itself: 3 is the directory it reads.
                let mut b = ctx.bundle()?;
                b.args(&["/bin/ls", "/proc/self/fd"]);
                let out = ctx.run(&b)?;
                let fds = out.split_whitespace().collect::<Vec<_>>().join(" ");
                check_eq("open descriptors (3: ls's own directory)", fds.as_str(), "0 1 2 3")
            },
        ),
        Case::new(
            "process/personality-linux32",
            "config-linux.md Personality: domain ... LINUX32 will set the uname system call to show a 32 bit CPU type, such as i686.",
            |ctx| {
                let out = ctx.sh("uname -m", |b| {
                    b.cfg["linux"]["personality"] = json!({ "domain": "LINUX32" });
                })?;
                check_eq("uname -m", out.trim(), "i686")
            },
        ),
        Case::new(
            "process/io-priority",
            "config.md Process: ioPriority (object, OPTIONAL) configures the I/O priority settings for the container's processes: class and priority.",
            |ctx| {
                let out = ctx.sh("ionice -p $$", |b| {
                    b.cfg["process"]["ioPriority"] = json!({ "class": "IOPRIO_CLASS_BE", "priority": 6 });
                })?;
                check_eq("ionice", out.trim(), "best-effort: prio 6")
            },
        ),
        Case::new(
            "process/apparmor-profile",
            "config.md Linux process: apparmorProfile (string, OPTIONAL) specifies the name of the AppArmor profile for the process.",
            |ctx| {
                if !Path::new("/sys/kernel/security/apparmor").exists() {
                    return Err(skip("AppArmor is not enabled on this host"));
                }
                let out = ctx.sh("cat /proc/self/attr/current", |b| {
                    b.cfg["process"]["apparmorProfile"] = json!("unconfined");
                })?;
                check_eq("attr/current", out.trim(), "unconfined")
            },
        ),
        Case::new(
            "process/selinux-label",
            "config.md Linux process: selinuxLabel (string, OPTIONAL) specifies the SELinux label for the process.",
            |_ctx| {
                if !Path::new("/sys/fs/selinux/enforce").exists() {
                    return Err(skip("SELinux is not enabled on this host"));
                }
                Err(skip("SELinux host: no policy-independent label to check against"))
            },
        ),
        Case::new(
            "process/user-numeric-not-in-passwd",
            "config.md User: uid/gid are IDs in the container namespace; symbolic names are left to upper levels (an id absent from /etc/passwd works).",
            |ctx| {
                let out = ctx.sh("id -u; id -g", |b| {
                    b.cfg["process"]["user"] = json!({ "uid": 4242, "gid": 4343 });
                })?;
                check_eq("ids", out.split_whitespace().collect::<Vec<_>>(), vec!["4242", "4343"])
            },
        ),
        Case::new(
            "process/oom-score-adj-visible-from-host",
            "config.md Linux process: oomScoreAdj adjusts the oom-killer score in [pid]/oom_score_adj for the process's [pid] (seen from the host).",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.args(&["sleep", "1000"]);
                b.cfg["process"]["oomScoreAdj"] = json!(123);
                ctx.launch(&b)?;
                let pid = ctx.pid(&b.id)?;
                let v = fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))?;
                check_eq("oom_score_adj of the state's pid", v.trim(), "123")
            },
        ),
    ]
}
