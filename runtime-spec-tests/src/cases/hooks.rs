//! config.md POSIX-platform Hooks and runtime.md Lifecycle steps 3-13: timing, namespaces,
//! the state on stdin, args/env/timeout, failure semantics.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{json, Value};

use super::Case;
use crate::harness::*;

/// A startContainer hook that takes a second: a runtime that does not wait for it (and for the
/// execve of the program) before running poststart hooks is caught every time, not by a race.
fn slow_start(b: &mut Bundle) {
    b.cfg["hooks"]["startContainer"][0]["env"] = json!([PATH_ENV, "RST_DELAY=1"]);
}

/// The hook: records its stdin, its name in `order`, its namespaces, the command line of the
/// state's pid, whether CHECK exists, whether the program already ran, its environment; exits
/// with CODE.
const HOOK: &str = r#"#!/bin/sh
name=$1; dir=$2; code=${3:-0}; chk=$4
if [ -n "$RST_DELAY" ]; then sleep "$RST_DELAY"; fi
cat > "$dir/$name.json"
echo "$name" >> "$dir/order"
for n in uts net ipc pid mnt; do readlink /proc/self/ns/$n > "$dir/$name.ns.$n" 2>/dev/null; done
pid=$(sed -n 's/.*"pid" *: *\([0-9][0-9]*\).*/\1/p' "$dir/$name.json")
if [ -n "$pid" ]; then tr '\0' ' ' < /proc/$pid/cmdline > "$dir/$name.cmdline" 2>/dev/null; fi
if [ -n "$chk" ]; then if [ -e "$chk" ]; then echo present; else echo absent; fi > "$dir/$name.check"; fi
if [ -e "$dir/program" ]; then echo after; else echo before; fi > "$dir/$name.program"
env > "$dir/$name.env"
exit $code
"#;

const PATH_ENV: &str = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

fn hook_script(ctx: &Ctx<'_>) -> Result<String> {
    let p = ctx.dir.join("hook.sh");
    if !p.exists() {
        write_exec(&p, HOOK)?;
    }
    Ok(p.display().to_string())
}

/// A hook run from the host's filesystem (prestart, createRuntime, createContainer, poststart,
/// poststop): /bin/sh with the recording script, writing to the bundle's out directory.
fn host_hook(ctx: &Ctx<'_>, b: &Bundle, name: &str, code: i32, chk: Option<&str>) -> Result<Value> {
    let script = hook_script(ctx)?;
    let mut args = vec![
        "sh".to_string(),
        script,
        name.to_string(),
        b.out.display().to_string(),
        code.to_string(),
    ];
    if let Some(c) = chk {
        args.push(c.to_string());
    }
    Ok(json!({ "path": "/bin/sh", "args": args, "env": [PATH_ENV] }))
}

/// A startContainer hook: a script that exists only in the container's rootfs, writing to /out.
fn ctr_hook(b: &Bundle, name: &str, code: i32) -> Result<Value> {
    write_exec(&b.rootfs.join("rst-hook.sh"), HOOK)?;
    Ok(json!({
        "path": "/rst-hook.sh",
        "args": ["/rst-hook.sh", name, "/out", code.to_string()],
        "env": [PATH_ENV]
    }))
}

/// Every hook kind, recording under its own name.
fn all_hooks(ctx: &Ctx<'_>, b: &mut Bundle, chk: Option<&str>) -> Result<()> {
    for k in [
        "prestart",
        "createRuntime",
        "createContainer",
        "poststart",
        "poststop",
    ] {
        let h = host_hook(ctx, b, k, 0, chk)?;
        b.hook(k, h);
    }
    let h = ctr_hook(b, "startContainer", 0)?;
    b.hook("startContainer", h);
    Ok(())
}

fn seen(b: &Bundle) -> BTreeSet<String> {
    let mut s = BTreeSet::new();
    if let Ok(rd) = fs::read_dir(&b.out) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if let Some(k) = n.strip_suffix(".json") {
                s.insert(k.to_string());
            }
        }
    }
    s
}

struct HookRun {
    b: Bundle,
    pid: i32,
    /// The container's namespaces, read while it was created.
    ns: std::collections::BTreeMap<String, String>,
    after_create: BTreeSet<String>,
    after_start: BTreeSet<String>,
    before_delete: BTreeSet<String>,
}

fn set_of(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// create, start, kill, delete a container with every hook; what had run at each step.
fn hook_lifecycle(ctx: &mut Ctx<'_>, edit: impl FnOnce(&mut Bundle)) -> Result<HookRun> {
    let mut b = ctx.bundle()?;
    b.sh("touch /out/program; exec sleep 1000");
    let cg = ctx
        .host
        .cgroup
        .v1_dir("pids", &b.cgroups_path())
        .map(|p| p.display().to_string());
    all_hooks(ctx, &mut b, cg.as_deref())?;
    edit(&mut b);
    ctx.create(&b)?;
    let pid = ctx.pid(&b.id)?;
    let mut ns = std::collections::BTreeMap::new();
    for n in ["uts", "net", "ipc", "pid", "mnt"] {
        ns.insert(n.to_string(), proc_ns(pid, n)?);
    }
    let after_create = seen(&b);
    ctx.start(&b.id)?;
    let after_start = seen(&b);
    // Let the program start (and a slow startContainer hook finish) before killing it.
    wait_file(&b.out_file("program"), WAIT);
    ctx.kill(&b.id, "KILL")?;
    ctx.wait_status(&b.id, "stopped", WAIT)?;
    let before_delete = seen(&b);
    ctx.delete(&b.id)?;
    Ok(HookRun {
        b,
        pid,
        ns,
        after_create,
        after_start,
        before_delete,
    })
}

fn read(b: &Bundle, f: &str) -> String {
    b.read_out(f).unwrap_or_default().trim().to_string()
}

fn ran_at(r: &HookRun, name: &str, step: &str, set: &BTreeSet<String>, want: bool) -> Result<()> {
    check(set.contains(name) == want, || {
        format!(
            "{name} {} when {step} returned (hooks run by then: {:?})",
            if want {
                "had not run"
            } else {
                "had already run"
            },
            set
        )
    })?;
    let _ = r;
    Ok(())
}

/// The hook ran in the runtime's namespaces (uts, net, ipc, pid; mnt differs under the crun
/// workaround's wrapper).
fn in_runtime_ns(ctx: &Ctx<'_>, r: &HookRun, name: &str) -> Result<()> {
    for n in ["uts", "net", "ipc", "pid"] {
        let got = read(&r.b, &format!("{name}.ns.{n}"));
        let want = ctx.host.ns.get(n).cloned().unwrap_or_default();
        check(got == want, || {
            format!("{name} ran in {n} namespace {got:?}, the runtime's is {want:?}")
        })?;
    }
    Ok(())
}

fn in_container_ns(r: &HookRun, name: &str) -> Result<()> {
    for n in ["uts", "net", "ipc", "mnt"] {
        let got = read(&r.b, &format!("{name}.ns.{n}"));
        let want = r.ns.get(n).cloned().unwrap_or_default();
        check(got == want, || {
            format!("{name} ran in {n} namespace {got:?}, the container's is {want:?}")
        })?;
    }
    Ok(())
}

fn state_on_stdin(ctx: &mut Ctx<'_>, name: &str) -> Result<()> {
    let r = hook_lifecycle(ctx, |b| {
        b.cfg["annotations"] = json!({ "org.example.hook": "annotated" });
    })?;
    let text = read(&r.b, &format!("{name}.json"));
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{name} stdin is not JSON ({e}): {text:?}"))?;
    check_eq("id", v["id"].as_str(), Some(r.b.id.as_str()))?;
    check(
        v["ociVersion"]
            .as_str()
            .map(|s| !s.is_empty())
            .unwrap_or(false),
        || format!("ociVersion: {}", v["ociVersion"]),
    )?;
    let bundle = fs::canonicalize(&r.b.dir)?.display().to_string();
    check_eq("bundle", v["bundle"].as_str(), Some(bundle.as_str()))?;
    let st = v["status"].as_str().unwrap_or("");
    check(
        ["creating", "created", "running", "stopped"].contains(&st),
        || format!("status {:?}", v["status"]),
    )?;
    if name != "poststop" {
        check_eq("pid", v["pid"].as_i64(), Some(r.pid as i64))?;
    }
    Ok(())
}

/// A hook of `kind` fails (with a poststop hook that records); create or start errors.
struct Failed {
    b: Bundle,
    create: CmdOut,
    start: Option<CmdOut>,
}

fn failing(ctx: &mut Ctx<'_>, kind: &str) -> Result<Failed> {
    let mut b = ctx.bundle()?;
    b.sh("touch /out/program; exec sleep 1000");
    let h = if kind == "startContainer" {
        ctr_hook(&b, kind, 1)?
    } else {
        host_hook(ctx, &b, kind, 1, None)?
    };
    b.hook(kind, h);
    let ps = host_hook(ctx, &b, "poststop", 0, None)?;
    b.hook("poststop", ps);
    let create = ctx.try_create(&b)?;
    let start = if create.ok() {
        Some(ctx.try_start(&b.id)?)
    } else {
        None
    };
    Ok(Failed { b, create, start })
}

fn failure_errors(ctx: &mut Ctx<'_>, kind: &str) -> Result<()> {
    let f = failing(ctx, kind)?;
    let op = if kind == "startContainer" {
        "start"
    } else {
        "create"
    };
    if kind == "startContainer" {
        check(f.create.ok(), || {
            format!("create failed: {}", f.create.describe())
        })?;
        check(!f.start.as_ref().map(|s| s.ok()).unwrap_or(false), || {
            format!("start succeeded although a {kind} hook failed")
        })?;
    } else {
        check(!f.create.ok(), || {
            format!("create succeeded although a {kind} hook failed")
        })?;
        if let Some(s) = &f.start {
            check(!s.ok(), || "start succeeded too".into())?;
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    check(!f.b.out_file("program").exists(), || {
        format!("the program ran although {op} failed")
    })
}

fn failure_destroys(ctx: &mut Ctx<'_>, kind: &str) -> Result<()> {
    let f = failing(ctx, kind)?;
    let st = ctx.try_state(&f.b.id)?;
    let status = serde_json::from_str::<Value>(&st.stdout)
        .map(|v| v["status"].to_string())
        .unwrap_or_default();
    check(!st.ok(), || {
        format!("the container still exists after the failed {kind} hook (status {status})")
    })
}

fn failure_poststop(ctx: &mut Ctx<'_>, kind: &str) -> Result<()> {
    let f = failing(ctx, kind)?;
    let p = f.b.out_file("poststop.json");
    check(wait_file(&p, Duration::from_secs(2)), || {
        format!("poststop hooks did not run after the failed {kind} hook")
    })
}

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("hooks/prestart-on-create", "config.md Prestart: The prestart hooks MUST be called as part of the create operation after the runtime environment has been created but before the pivot_root or any equivalent operation has been executed.", |ctx| {
            let r = hook_lifecycle(ctx, |_| {})?;
            ran_at(&r, "prestart", "create", &r.after_create, true)
        }),
        Case::new("hooks/prestart-runtime-namespace", "config.md Prestart: The prestart hooks MUST be executed in the runtime namespace.", |ctx| {
            let r = hook_lifecycle(ctx, |_| {})?;
            in_runtime_ns(ctx, &r, "prestart")
        }),
        Case::new("hooks/create-runtime-on-create", "config.md CreateRuntime Hooks: The createRuntime hooks MUST be called as part of the create operation after the runtime environment has been created but before the pivot_root or any equivalent operation has been executed.", |ctx| {
            let r = hook_lifecycle(ctx, |_| {})?;
            ran_at(&r, "createRuntime", "create", &r.after_create, true)
        }),
        Case::new("hooks/create-runtime-runtime-namespace", "config.md CreateRuntime Hooks: The createRuntime hooks MUST be executed in the runtime namespace.", |ctx| {
            let r = hook_lifecycle(ctx, |_| {})?;
            in_runtime_ns(ctx, &r, "createRuntime")
        }),
        Case::new("hooks/create-container-on-create", "config.md CreateContainer Hooks: The createContainer hooks MUST be called as part of the create operation after the runtime environment has been created but before the pivot_root or any equivalent operation has been executed (path resolving in the runtime namespace).", |ctx| {
            let r = hook_lifecycle(ctx, |_| {})?;
            ran_at(&r, "createContainer", "create", &r.after_create, true)
        }),
        Case::new("hooks/create-container-container-namespace", "config.md CreateContainer Hooks: The createContainer hooks MUST be executed in the container namespace.", |ctx| {
            let r = hook_lifecycle(ctx, |_| {})?;
            in_container_ns(&r, "createContainer")
        }),
        Case::new("hooks/start-container-on-start", "config.md StartContainer Hooks: The startContainer hooks MUST be called before the user-specified process is executed as part of the start operation (path resolving in the container namespace).", |ctx| {
            let r = hook_lifecycle(ctx, |_| {})?;
            ran_at(&r, "startContainer", "create", &r.after_create, false)?;
            ran_at(&r, "startContainer", "start", &r.after_start, true)
        }),
        Case::new("hooks/start-container-container-namespace", "config.md StartContainer Hooks: The startContainer hooks MUST be executed in the container namespace.", |ctx| {
            let r = hook_lifecycle(ctx, |_| {})?;
            in_container_ns(&r, "startContainer")
        }),
        Case::new("hooks/start-container-before-program", "config.md StartContainer Hooks: The startContainer hooks MUST be called before the user-specified process is executed.", |ctx| {
            let r = hook_lifecycle(ctx, |_| {})?;
            check_eq("startContainer saw the program", read(&r.b, "startContainer.program").as_str(), "before")
        }),
        Case::new("hooks/poststart-before-start-returns", "config.md Poststart: The poststart hooks MUST be called after the user-specified process is executed but before the start operation returns.", |ctx| {
            let r = hook_lifecycle(ctx, |_| {})?;
            ran_at(&r, "poststart", "create", &r.after_create, false)?;
            ran_at(&r, "poststart", "start", &r.after_start, true)
        }),
        Case::new("hooks/poststart-after-program-executed", "config.md Poststart: The poststart hooks MUST be called after the user-specified process is executed (with a startContainer hook that takes 1 s).", |ctx| {
            let r = hook_lifecycle(ctx, slow_start)?;
            let cmd = read(&r.b, "poststart.cmdline");
            check(cmd.starts_with("sh -c") || cmd.starts_with("sleep"), || format!("the container process was still {cmd:?} when poststart ran"))
        }),
        Case::new("hooks/poststart-runtime-namespace", "config.md Poststart: The poststart hooks MUST be executed in the runtime namespace.", |ctx| {
            let r = hook_lifecycle(ctx, |_| {})?;
            in_runtime_ns(ctx, &r, "poststart")
        }),
        Case::new("hooks/poststop-on-delete", "config.md Poststop: The poststop hooks MUST be called after the container is deleted but before the delete operation returns.", |ctx| {
            let r = hook_lifecycle(ctx, |_| {})?;
            ran_at(&r, "poststop", "kill (container stopped, not deleted)", &r.before_delete, false)?;
            check(r.b.out_file("poststop.json").exists(), || "poststop had not run when delete returned".into())
        }),
        Case::new("hooks/poststop-after-container-deleted", "config.md Poststop: The poststop hooks MUST be called after the container is deleted (its cgroup is gone).", |ctx| {
            ctx.host.cgroup.need_v1("pids")?;
            let r = hook_lifecycle(ctx, |_| {})?;
            check_eq("the container's pids cgroup when poststop ran", read(&r.b, "poststop.check").as_str(), "absent")
        }),
        Case::new("hooks/poststop-runtime-namespace", "config.md Poststop: The poststop hooks MUST be executed in the runtime namespace.", |ctx| {
            let r = hook_lifecycle(ctx, |_| {})?;
            in_runtime_ns(ctx, &r, "poststop")
        }),
        Case::new("hooks/lifecycle-order", "runtime.md Lifecycle: prestart (3), createRuntime (4), createContainer (5), startContainer (7), poststart (9), poststop (13) are invoked in this order (with a startContainer hook that takes 1 s).", |ctx| {
            let r = hook_lifecycle(ctx, slow_start)?;
            let order = read(&r.b, "order");
            let got: Vec<&str> = order.lines().collect();
            check_eq("order", got, vec!["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"])
        }),
        Case::new("hooks/listed-order", "config.md POSIX-platform Hooks: hooks of one kind are an array; the runtime runs them in the listed order (createRuntime a, b, c).", |ctx| {
            let mut b = ctx.bundle()?;
            b.args(&["true"]);
            for n in ["a", "b", "c"] {
                let h = host_hook(ctx, &b, n, 0, None)?;
                b.hook("createRuntime", h);
            }
            ctx.create(&b)?;
            let order = read(&b, "order");
            check_eq("order", order.lines().collect::<Vec<_>>(), vec!["a", "b", "c"])
        }),
        Case::new("hooks/state-stdin-prestart", "config.md POSIX-platform Hooks: The state of the container MUST be passed to hooks over stdin so that they may do work appropriate to the current state of the container (prestart).", |ctx| state_on_stdin(ctx, "prestart")),
        Case::new("hooks/state-stdin-create-runtime", "config.md POSIX-platform Hooks: The state of the container MUST be passed to hooks over stdin (createRuntime).", |ctx| state_on_stdin(ctx, "createRuntime")),
        Case::new("hooks/state-stdin-create-container", "config.md POSIX-platform Hooks: The state of the container MUST be passed to hooks over stdin (createContainer).", |ctx| state_on_stdin(ctx, "createContainer")),
        Case::new("hooks/state-stdin-start-container", "config.md POSIX-platform Hooks: The state of the container MUST be passed to hooks over stdin (startContainer).", |ctx| state_on_stdin(ctx, "startContainer")),
        Case::new("hooks/state-stdin-poststart", "config.md POSIX-platform Hooks: The state of the container MUST be passed to hooks over stdin (poststart).", |ctx| state_on_stdin(ctx, "poststart")),
        Case::new("hooks/state-stdin-poststop", "config.md POSIX-platform Hooks: The state of the container MUST be passed to hooks over stdin (poststop).", |ctx| state_on_stdin(ctx, "poststop")),
        Case::new("hooks/state-annotations", "config.md Annotations / runtime.md State: the state passed to hooks contains the container's annotations.", |ctx| {
            let r = hook_lifecycle(ctx, |b| b.cfg["annotations"] = json!({ "org.example.hook": "annotated" }))?;
            let v: Value = serde_json::from_str(&read(&r.b, "poststart.json")).unwrap_or(Value::Null);
            check_eq("annotations in poststart's state", v["annotations"]["org.example.hook"].as_str(), Some("annotated"))
        }),
        Case::new("hooks/args", "config.md POSIX-platform Hooks: args (array of strings, OPTIONAL) with the same semantics as IEEE Std 1003.1-2008 execv's argv (args[0] is argv[0]).", |ctx| {
            let mut b = ctx.bundle()?;
            b.args(&["true"]);
            let out = b.out.display().to_string();
            // busybox picks the applet from argv[0]: "sh" runs the shell only if args[0] is argv[0].
            b.hook("createRuntime", json!({
                "path": "/bin/busybox",
                "args": ["sh", "-c", format!("echo \"$0|$1\" > {out}/args"), "zero", "one"]
            }));
            if !Path::new("/bin/busybox").exists() {
                return Err(skip("no /bin/busybox on the host"));
            }
            ctx.create(&b)?;
            check_eq("hook arguments", read(&b, "args").as_str(), "zero|one")
        }),
        Case::new("hooks/env", "config.md POSIX-platform Hooks: env (array of strings, OPTIONAL) with the same semantics as IEEE Std 1003.1-2008's environ.", |ctx| {
            let mut b = ctx.bundle()?;
            b.args(&["true"]);
            let mut h = host_hook(ctx, &b, "createRuntime", 0, None)?;
            h["env"] = json!([PATH_ENV, "RST_HOOK_VAR=hello hook", "RST_OTHER=a=b"]);
            b.hook("createRuntime", h);
            ctx.create(&b)?;
            let env = read(&b, "createRuntime.env");
            for want in ["RST_HOOK_VAR=hello hook", "RST_OTHER=a=b"] {
                check(env.lines().any(|l| l == want), || format!("{want:?} not in the hook's environment"))?;
            }
            check(!env.lines().any(|l| l.starts_with("RST_RUNTIME_ENV=")), || "the hook inherited the runtime's environment (RST_RUNTIME_ENV) instead of env".into())
        }),
        Case::new("hooks/timeout", "config.md POSIX-platform Hooks: timeout (int, OPTIONAL) is the number of seconds before aborting the hook.", |ctx| {
            let mut b = ctx.bundle()?;
            b.args(&["true"]);
            b.hook("createRuntime", json!({ "path": "/bin/sh", "args": ["sh", "-c", "sleep 10"], "timeout": 1 }));
            let t = Instant::now();
            let o = ctx.try_create(&b)?;
            let took = t.elapsed();
            check(!o.ok(), || "create succeeded although its hook was aborted".into())?;
            check(took < Duration::from_secs(6), || format!("create took {took:?} with a 1 s hook timeout"))
        }),
        Case::new("hooks/prestart-failure-errors", "runtime.md Lifecycle 3: If any prestart hook fails, the runtime MUST generate an error, stop the container, and continue the lifecycle at step 12.", |ctx| failure_errors(ctx, "prestart")),
        Case::new("hooks/create-runtime-failure-errors", "runtime.md Lifecycle 4: If any createRuntime hook fails, the runtime MUST generate an error, stop the container, and continue the lifecycle at step 12.", |ctx| failure_errors(ctx, "createRuntime")),
        Case::new("hooks/create-container-failure-errors", "runtime.md Lifecycle 5: If any createContainer hook fails, the runtime MUST generate an error, stop the container, and continue the lifecycle at step 12.", |ctx| failure_errors(ctx, "createContainer")),
        Case::new("hooks/start-container-failure-errors", "runtime.md Lifecycle 7: If any startContainer hook fails, the runtime MUST generate an error, stop the container, and continue the lifecycle at step 12.", |ctx| failure_errors(ctx, "startContainer")),
        Case::new("hooks/prestart-failure-destroys", "runtime.md Lifecycle 3, 12: a failed prestart hook stops the container and continues at step 12: the container MUST be destroyed.", |ctx| failure_destroys(ctx, "prestart")),
        Case::new("hooks/create-runtime-failure-destroys", "runtime.md Lifecycle 4, 12: a failed createRuntime hook stops the container and continues at step 12: the container MUST be destroyed.", |ctx| failure_destroys(ctx, "createRuntime")),
        Case::new("hooks/create-container-failure-destroys", "runtime.md Lifecycle 5, 12: a failed createContainer hook stops the container and continues at step 12: the container MUST be destroyed.", |ctx| failure_destroys(ctx, "createContainer")),
        Case::new("hooks/start-container-failure-destroys", "runtime.md Lifecycle 7, 12: a failed startContainer hook stops the container and continues at step 12: the container MUST be destroyed.", |ctx| failure_destroys(ctx, "startContainer")),
        Case::new("hooks/prestart-failure-runs-poststop", "runtime.md Lifecycle 3, 13: after a failed prestart hook the lifecycle continues at step 12; poststop hooks MUST be invoked (13).", |ctx| failure_poststop(ctx, "prestart")),
        Case::new("hooks/create-runtime-failure-runs-poststop", "runtime.md Lifecycle 4, 13: after a failed createRuntime hook the lifecycle continues at step 12; poststop hooks MUST be invoked (13).", |ctx| failure_poststop(ctx, "createRuntime")),
        Case::new("hooks/create-container-failure-runs-poststop", "runtime.md Lifecycle 5, 13: after a failed createContainer hook the lifecycle continues at step 12; poststop hooks MUST be invoked (13).", |ctx| failure_poststop(ctx, "createContainer")),
        Case::new("hooks/start-container-failure-runs-poststop", "runtime.md Lifecycle 7, 13: after a failed startContainer hook the lifecycle continues at step 12; poststop hooks MUST be invoked (13).", |ctx| failure_poststop(ctx, "startContainer")),
        Case::new("hooks/poststart-failure-continues", "runtime.md Lifecycle 9: If any poststart hook fails, the runtime MUST log a warning, but the remaining hooks and lifecycle continue as if the hook had succeeded.", |ctx| {
            let mut b = ctx.bundle()?;
            b.sh("touch /out/program; exec sleep 1000");
            let h1 = host_hook(ctx, &b, "first", 1, None)?;
            let h2 = host_hook(ctx, &b, "second", 0, None)?;
            b.hook("poststart", h1);
            b.hook("poststart", h2);
            ctx.create(&b)?;
            let s = ctx.try_start(&b.id)?;
            check(s.ok(), || format!("start failed because of a poststart hook: {}", s.describe()))?;
            check(b.out_file("second.json").exists(), || "the poststart hook after the failed one did not run".into())?;
            check_eq("status", ctx.status(&b.id)?.as_str(), "running")
        }),
        Case::new("hooks/poststop-failure-continues", "runtime.md Lifecycle 13: If any poststop hook fails, the runtime MUST log a warning, but the remaining hooks and lifecycle continue as if the hook had succeeded.", |ctx| {
            let mut b = ctx.bundle()?;
            b.args(&["true"]);
            let h1 = host_hook(ctx, &b, "first", 1, None)?;
            let h2 = host_hook(ctx, &b, "second", 0, None)?;
            b.hook("poststop", h1);
            b.hook("poststop", h2);
            ctx.launch(&b)?;
            ctx.wait_status(&b.id, "stopped", WAIT)?;
            let d = ctx.try_delete(&b.id)?;
            check(d.ok(), || format!("delete failed because of a poststop hook: {}", d.describe()))?;
            check(b.out_file("second.json").exists(), || "the poststop hook after the failed one did not run".into())?;
            check(!ctx.try_state(&b.id)?.ok(), || "the container still exists".into())
        }),
        Case::new("hooks/not-run-without-config", "config.md POSIX-platform Hooks: hooks (object, OPTIONAL) MAY be used to configure callbacks (none configured: nothing runs; kinds not configured are not run).", |ctx| {
            let mut b = ctx.bundle()?;
            b.args(&["true"]);
            let h = host_hook(ctx, &b, "poststop", 0, None)?;
            b.hook("poststop", h);
            ctx.run(&b)?;
            let s = seen(&b);
            check_eq("hooks that ran", s, set_of(&["poststop"]))
        }),
    ]
}
