//! runtime.md: the lifecycle, the operations and their required errors, the state.

use std::fs;
use std::time::Duration;

use anyhow::{bail, Result};

use super::Case;
use crate::harness::*;

fn sleeper(ctx: &mut Ctx<'_>) -> Result<Bundle> {
    let mut b = ctx.bundle()?;
    b.args(&["sleep", "1000"]);
    Ok(b)
}

fn running(ctx: &mut Ctx<'_>) -> Result<Bundle> {
    let b = sleeper(ctx)?;
    ctx.launch(&b)?;
    ctx.wait_status(&b.id, "running", WAIT)?;
    Ok(b)
}

fn stopped(ctx: &mut Ctx<'_>) -> Result<Bundle> {
    let mut b = ctx.bundle()?;
    b.sh("echo x >> /out/count");
    ctx.launch(&b)?;
    ctx.wait_status(&b.id, "stopped", WAIT)?;
    Ok(b)
}

fn must_fail(what: &str, o: &CmdOut) -> Result<()> {
    if o.timed_out() {
        bail!("{what} timed out");
    }
    if o.ok() {
        bail!("{what} succeeded, an error was required");
    }
    Ok(())
}

fn unknown_id(ctx: &Ctx<'_>) -> String {
    format!("rst-{}-does-not-exist", ctx.host.tag)
}

fn lines(s: Option<String>) -> usize {
    s.map(|t| t.lines().count()).unwrap_or(0)
}

pub fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "lifecycle/create-status-created",
            "runtime.md Create: Upon successful completion of this operation the status property of this container MUST be created.",
            |ctx| {
                let b = sleeper(ctx)?;
                ctx.create(&b)?;
                check_eq("status after create", ctx.status(&b.id)?.as_str(), "created")
            },
        ),
        Case::new(
            "lifecycle/create-does-not-run-program",
            "runtime.md Create: all of the resources associated with the container MUST be created, however, the user-specified program MUST NOT be run at this time.",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.sh("touch /out/ran");
                ctx.create(&b)?;
                std::thread::sleep(Duration::from_millis(400));
                check(!b.out_file("ran").exists(), || {
                    "the program ran before start".into()
                })
            },
        ),
        Case::new(
            "lifecycle/start-runs-program",
            "runtime.md Start: This operation MUST run the user-specified program as specified by process.",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.sh("echo started > /out/ran");
                ctx.launch(&b)?;
                check(wait_file(&b.out_file("ran"), WAIT), || {
                    format!("the program did not run (stderr: {})", last_line(&b.stderr()))
                })
            },
        ),
        Case::new(
            "lifecycle/start-status-running",
            "runtime.md Start: Upon successful completion of this operation the status property of this container MUST be running.",
            |ctx| {
                let b = sleeper(ctx)?;
                ctx.launch(&b)?;
                check_eq("status after start", ctx.status(&b.id)?.as_str(), "running")
            },
        ),
        Case::new(
            "lifecycle/exit-status-stopped",
            "runtime.md Kill: When the process in the container is stopped, irrespective of it being as a result of a kill operation or any other reason, the status property of this container MUST be stopped.",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.args(&["true"]);
                ctx.launch(&b)?;
                ctx.wait_status(&b.id, "stopped", WAIT)
            },
        ),
        Case::new(
            "lifecycle/kill-status-stopped",
            "runtime.md Kill: When the process in the container is stopped, irrespective of it being as a result of a kill operation or any other reason, the status property of this container MUST be stopped.",
            |ctx| {
                let b = running(ctx)?;
                ctx.kill(&b.id, "KILL")?;
                ctx.wait_status(&b.id, "stopped", WAIT)
            },
        ),
        Case::new(
            "lifecycle/kill-sends-signal",
            "runtime.md Kill: This operation MUST send the specified signal to the container process.",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.sh("trap 'echo got >> /out/sig' USR1; touch /out/ready; while true; do sleep 0.1; done");
                ctx.launch(&b)?;
                check(wait_file(&b.out_file("ready"), WAIT), || "container did not start".into())?;
                ctx.kill(&b.id, "USR1")?;
                check(wait_file(&b.out_file("sig"), WAIT), || {
                    "the container process did not receive SIGUSR1".into()
                })?;
                check_eq("status after a handled signal", ctx.status(&b.id)?.as_str(), "running")
            },
        ),
        Case::new(
            "lifecycle/kill-created",
            "runtime.md Kill: Attempting to send a signal to a container that is neither created nor running MUST have no effect on the container and MUST generate an error (a created container can be signalled).",
            |ctx| {
                let b = sleeper(ctx)?;
                ctx.create(&b)?;
                ctx.kill(&b.id, "KILL")?;
                ctx.wait_status(&b.id, "stopped", WAIT)
            },
        ),
        Case::new(
            "lifecycle/kill-stopped-errors",
            "runtime.md Kill: Attempting to send a signal to a container that is neither created nor running MUST have no effect on the container and MUST generate an error.",
            |ctx| {
                let b = stopped(ctx)?;
                let o = ctx.try_kill(&b.id, "TERM")?;
                must_fail("kill of a stopped container", &o)?;
                check_eq("status after the refused kill", ctx.status(&b.id)?.as_str(), "stopped")
            },
        ),
        Case::new(
            "lifecycle/start-twice-errors",
            "runtime.md Start: Attempting to start a container that is not created MUST have no effect on the container and MUST generate an error.",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.sh("echo x >> /out/count; sleep 1000");
                ctx.launch(&b)?;
                ctx.wait_status(&b.id, "running", WAIT)?;
                check(wait_file(&b.out_file("count"), WAIT), || "program did not run".into())?;
                let o = ctx.try_start(&b.id)?;
                must_fail("second start", &o)?;
                std::thread::sleep(Duration::from_millis(300));
                check_eq("program runs", lines(b.read_out("count")), 1)?;
                check_eq("status", ctx.status(&b.id)?.as_str(), "running")
            },
        ),
        Case::new(
            "lifecycle/start-stopped-errors",
            "runtime.md Start: Attempting to start a container that is not created MUST have no effect on the container and MUST generate an error.",
            |ctx| {
                let b = stopped(ctx)?;
                let o = ctx.try_start(&b.id)?;
                must_fail("start of a stopped container", &o)?;
                std::thread::sleep(Duration::from_millis(300));
                check_eq("program runs", lines(b.read_out("count")), 1)?;
                check_eq("status", ctx.status(&b.id)?.as_str(), "stopped")
            },
        ),
        Case::new(
            "lifecycle/delete-running-errors",
            "runtime.md Delete: Attempting to delete a container that is not stopped MUST have no effect on the container and MUST generate an error.",
            |ctx| {
                let b = running(ctx)?;
                let pid = ctx.pid(&b.id)?;
                let o = ctx.try_delete(&b.id)?;
                must_fail("delete of a running container", &o)?;
                check_eq("status", ctx.status(&b.id)?.as_str(), "running")?;
                check(pid_alive(pid), || format!("the container process {pid} is gone"))
            },
        ),
        Case::new(
            "lifecycle/delete-created-errors",
            "runtime.md Delete: Attempting to delete a container that is not stopped MUST have no effect on the container and MUST generate an error.",
            |ctx| {
                let b = sleeper(ctx)?;
                ctx.create(&b)?;
                let o = ctx.try_delete(&b.id)?;
                must_fail("delete of a created (not stopped) container", &o)?;
                check_eq("status", ctx.status(&b.id)?.as_str(), "created")
            },
        ),
        Case::new(
            "lifecycle/delete-stopped",
            "runtime.md Delete: Deleting a container MUST delete the resources that were created during the create step (the container no longer exists).",
            |ctx| {
                let b = stopped(ctx)?;
                ctx.delete(&b.id)?;
                let o = ctx.try_state(&b.id)?;
                check(!o.ok(), || "state still answers after delete".into())
            },
        ),
        Case::new(
            "lifecycle/delete-removes-cgroup",
            "runtime.md Delete: Deleting a container MUST delete the resources that were created during the create step.",
            |ctx| {
                let b = sleeper(ctx)?;
                ctx.create(&b)?;
                let cgp = b.cgroups_path();
                let mut dirs = Vec::new();
                for c in ctx.host.cgroup.v1.keys() {
                    if let Some(d) = ctx.host.cgroup.v1_dir(c, &cgp) {
                        if d.exists() {
                            dirs.push(d);
                        }
                    }
                }
                if let Some(u) = &ctx.host.cgroup.unified {
                    let d = u.join(cgp.trim_start_matches('/'));
                    if d.exists() {
                        dirs.push(d);
                    }
                }
                check(!dirs.is_empty(), || format!("no cgroup {cgp} was created"))?;
                ctx.kill(&b.id, "KILL")?;
                ctx.wait_status(&b.id, "stopped", WAIT)?;
                ctx.delete(&b.id)?;
                let left: Vec<String> = dirs
                    .iter()
                    .filter(|d| d.exists())
                    .map(|d| d.display().to_string())
                    .collect();
                check(left.is_empty(), || format!("cgroups left after delete: {}", left.join(", ")))
            },
        ),
        Case::new(
            "lifecycle/duplicate-id-errors",
            "runtime.md Create: If the ID provided is not unique across all containers within the scope of the runtime, or is not valid in any other way, the implementation MUST generate an error and a new container MUST NOT be created.",
            |ctx| {
                let b = sleeper(ctx)?;
                ctx.create(&b)?;
                let pid = ctx.pid(&b.id)?;
                let mut b2 = ctx.bundle()?;
                b2.sh("touch /out/ran");
                let o = ctx.create_raw(&b2, &b.id, &[])?;
                must_fail("create with an id in use", &o)?;
                let st = ctx.state(&b.id)?;
                check_eq("status of the first container", st["status"].as_str(), Some("created"))?;
                check_eq("pid of the first container", st["pid"].as_i64(), Some(pid as i64))?;
                ctx.start(&b.id)?;
                std::thread::sleep(Duration::from_millis(300));
                check(!b2.out_file("ran").exists(), || "the second bundle's program ran".into())
            },
        ),
        Case::new(
            "lifecycle/state-unknown-id-errors",
            "runtime.md Query State: Attempting to query a container that does not exist MUST generate an error.",
            |ctx| {
                let id = unknown_id(ctx);
                must_fail("state of an unknown id", &ctx.try_state(&id)?)
            },
        ),
        Case::new(
            "lifecycle/start-unknown-id-errors",
            "runtime.md Start: Attempting to start a container that does not exist MUST generate an error.",
            |ctx| {
                let id = unknown_id(ctx);
                must_fail("start of an unknown id", &ctx.try_start(&id)?)
            },
        ),
        Case::new(
            "lifecycle/kill-unknown-id-errors",
            "runtime.md Kill: Attempting to send a signal to a container that is neither created nor running MUST generate an error (a container that does not exist).",
            |ctx| {
                let id = unknown_id(ctx);
                must_fail("kill of an unknown id", &ctx.try_kill(&id, "KILL")?)
            },
        ),
        Case::new(
            "lifecycle/delete-unknown-id-errors",
            "runtime.md Delete: Attempting to delete a container that does not exist MUST generate an error.",
            |ctx| {
                let id = unknown_id(ctx);
                must_fail("delete of an unknown id", &ctx.try_delete(&id)?)
            },
        ),
        Case::new(
            "lifecycle/create-without-id-errors",
            "runtime.md Create: This operation MUST generate an error if it is not provided a path to the bundle and the container ID to associate with the container.",
            |ctx| {
                let b = sleeper(ctx)?;
                b.write()?;
                let dir = b.dir.display().to_string();
                let o = ctx.rt(&["create", "--bundle", &dir])?;
                must_fail("create without an id", &o)
            },
        ),
        Case::new(
            "lifecycle/start-without-id-errors",
            "runtime.md Start: This operation MUST generate an error if it is not provided the container ID.",
            |ctx| must_fail("start without an id", &ctx.rt(&["start"])?),
        ),
        Case::new(
            "lifecycle/state-without-id-errors",
            "runtime.md Query State: This operation MUST generate an error if it is not provided the ID of a container.",
            |ctx| must_fail("state without an id", &ctx.rt(&["state"])?),
        ),
        Case::new(
            "lifecycle/kill-without-id-errors",
            "runtime.md Kill: This operation MUST generate an error if it is not provided the container ID.",
            |ctx| must_fail("kill without an id", &ctx.rt(&["kill"])?),
        ),
        Case::new(
            "lifecycle/delete-without-id-errors",
            "runtime.md Delete: This operation MUST generate an error if it is not provided the container ID.",
            |ctx| must_fail("delete without an id", &ctx.rt(&["delete"])?),
        ),
        Case::new(
            "lifecycle/create-without-config-errors",
            "runtime.md Lifecycle step 2: If the runtime is unable to create the environment specified in the config.json, it MUST generate an error (bundle without config.json).",
            |ctx| {
                let b = sleeper(ctx)?;
                let dir = b.dir.display().to_string();
                let o = ctx.rt(&["create", "--bundle", &dir, &b.id])?;
                must_fail("create of a bundle without config.json", &o)?;
                check(!ctx.try_state(&b.id)?.ok(), || "a container exists after the error".into())
            },
        ),
        Case::new(
            "lifecycle/failed-create-leaves-nothing",
            "runtime.md Errors: Unless otherwise stated, generating an error MUST leave the state of the environment as if the operation were never attempted.",
            |ctx| {
                let mut b = sleeper(ctx)?;
                b.add_mount(serde_json::json!({
                    "destination": "/rstfs", "type": "rst-no-such-filesystem", "source": "none"
                }));
                let o = ctx.try_create(&b)?;
                must_fail("create with an unknown filesystem type", &o)?;
                check(!ctx.try_state(&b.id)?.ok(), || "the container exists after the error".into())?;
                let cgp = b.cgroups_path();
                let mut left = Vec::new();
                for c in ctx.host.cgroup.v1.keys() {
                    if let Some(d) = ctx.host.cgroup.v1_dir(c, &cgp) {
                        if d.exists() {
                            left.push(d.display().to_string());
                        }
                    }
                }
                check(left.is_empty(), || format!("cgroups left: {}", left.join(", ")))
            },
        ),
        Case::new(
            "lifecycle/config-change-after-create-ignored",
            "runtime.md Lifecycle step 2: Any updates to config.json after this step MUST NOT affect the container.",
            |ctx| {
                let mut b = ctx.bundle()?;
                b.sh("echo original");
                ctx.create(&b)?;
                b.sh("echo changed");
                b.write()?;
                ctx.start(&b.id)?;
                ctx.wait_status(&b.id, "stopped", WAIT)?;
                check_eq("output", b.stdout().trim(), "original")
            },
        ),
        // ---- state
        Case::new(
            "state/oci-version",
            "runtime.md State: ociVersion (string, REQUIRED) is version of the Open Container Initiative Runtime Specification with which the state complies.",
            |ctx| {
                let b = sleeper(ctx)?;
                ctx.create(&b)?;
                let st = ctx.state(&b.id)?;
                let v = st["ociVersion"].as_str().unwrap_or("");
                let semver = v.split(['-', '+']).next().unwrap_or("");
                let parts: Vec<&str> = semver.split('.').collect();
                check(
                    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())),
                    || format!("ociVersion {:?} is not a SemVer version", st["ociVersion"]),
                )
            },
        ),
        Case::new(
            "state/id",
            "runtime.md State: id (string, REQUIRED) is the container's ID.",
            |ctx| {
                let b = sleeper(ctx)?;
                ctx.create(&b)?;
                check_eq("id", ctx.state(&b.id)?["id"].as_str(), Some(b.id.as_str()))
            },
        ),
        Case::new(
            "state/pid-created",
            "runtime.md State: pid (int, REQUIRED when status is created or running on Linux) is the ID of the container process, as seen by the host.",
            |ctx| {
                let b = sleeper(ctx)?;
                ctx.create(&b)?;
                let pid = ctx.pid(&b.id)?;
                check(pid > 0 && pid_alive(pid), || format!("pid {pid} is not a live host process"))?;
                let st = proc_status(pid)?;
                let nspid = status_field(&st, "NSpid").unwrap_or_default();
                check(nspid.split_whitespace().last() == Some("1"), || {
                    format!("pid {pid} is not the container's init (NSpid: {nspid})")
                })
            },
        ),
        Case::new(
            "state/pid-running",
            "runtime.md State: pid (int, REQUIRED when status is created or running on Linux) is the ID of the container process, as seen by the host.",
            |ctx| {
                let b = running(ctx)?;
                let pid = ctx.pid(&b.id)?;
                let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                check_eq("cmdline of the state's pid", cmd.trim(), "sleep 1000")
            },
        ),
        Case::new(
            "state/bundle",
            "runtime.md State: bundle (string, REQUIRED) is the absolute path to the container's bundle directory.",
            |ctx| {
                let b = sleeper(ctx)?;
                ctx.create(&b)?;
                let st = ctx.state(&b.id)?;
                let want = fs::canonicalize(&b.dir)?.display().to_string();
                check_eq("bundle", st["bundle"].as_str(), Some(want.as_str()))
            },
        ),
        Case::new(
            "state/status-stopped-after-kill-of-created",
            "runtime.md State: status stopped: the container process has exited (a created container that was killed).",
            |ctx| {
                let b = sleeper(ctx)?;
                ctx.create(&b)?;
                let pid = ctx.pid(&b.id)?;
                ctx.kill(&b.id, "KILL")?;
                ctx.wait_status(&b.id, "stopped", WAIT)?;
                check(wait_for(WAIT, || !pid_alive(pid)), || format!("process {pid} still alive"))
            },
        ),
        Case::new(
            "state/pid-file",
            "runc CLI contract (create --pid-file): the file holds the pid of the container process, the state's pid.",
            |ctx| {
                let b = sleeper(ctx)?;
                let pf = ctx.dir.join("pidfile");
                let pfs = pf.display().to_string();
                let id = b.id.clone();
                let o = ctx.create_raw(&b, &id, &["--pid-file", &pfs])?;
                check(o.ok(), || format!("create failed: {}", o.describe()))?;
                let pid = ctx.pid(&b.id)?;
                let got = fs::read_to_string(&pf).unwrap_or_default();
                check_eq("pid file", got.trim(), pid.to_string().as_str())
            },
        ),
        Case::new(
            "state/annotations",
            "runtime.md State: annotations (map, OPTIONAL) contains the list of annotations associated with the container.",
            |ctx| {
                let mut b = sleeper(ctx)?;
                b.cfg["annotations"] = serde_json::json!({"org.example.rst": "value one", "org.example.other": ""});
                ctx.create(&b)?;
                let st = ctx.state(&b.id)?;
                check_eq("annotations", &st["annotations"], &b.cfg["annotations"])
            },
        ),
        Case::new(
            "state/annotations-absent-or-empty",
            "runtime.md State: If no annotations were provided then this property MAY either be absent or an empty map.",
            |ctx| {
                let b = sleeper(ctx)?;
                ctx.create(&b)?;
                let st = ctx.state(&b.id)?;
                let a = &st["annotations"];
                check(
                    a.is_null() || a.as_object().map(|o| o.is_empty()).unwrap_or(false),
                    || format!("annotations: {a}"),
                )
            },
        ),
    ]
}
