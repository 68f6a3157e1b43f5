//! Docker integration tests: real `docker` commands against the private test daemon, with
//! every container run by `--runtime=hardened` and `--network none`.

mod common;

use common::{docker, image, poll_for, run, unique, wait_until, DockerContainer, Out};
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

const RUNTIME: &str = "--runtime=hardened";

/// `docker run --rm --runtime=hardened --network none [extra...] IMAGE cmd...`
fn docker_run_rm(extra: &[&str], cmd: &[&str]) -> Out {
    let name = unique("hd-run");
    let _guard = DockerContainer(name.clone());
    run(docker()
        .args(["run", "--rm", RUNTIME, "--network", "none", "--name", &name])
        .args(extra)
        .arg(image())
        .args(cmd))
}

/// Starts a detached container running `cmd`; the guard removes it on drop.
fn start_detached(prefix: &str, extra: &[&str], cmd: &[&str]) -> DockerContainer {
    let name = unique(prefix);
    let guard = DockerContainer(name.clone());
    let out = run(docker()
        .args(["run", "-d", RUNTIME, "--network", "none", "--name", &name])
        .args(extra)
        .arg(image())
        .args(cmd));
    assert!(out.ok(), "docker run -d {cmd:?}: {out:?}");
    guard
}

/// `docker ARGS...`, asserting success; returns the output.
fn docker_ok(args: &[&str]) -> Out {
    let out = run(docker().args(args));
    assert!(out.ok(), "docker {args:?}: {out:?}");
    out
}

fn inspect(name: &str, format: &str) -> String {
    docker_ok(&["inspect", "-f", format, name])
        .stdout
        .trim()
        .to_string()
}

/// Polls `docker inspect` until `format` renders as `want` (30 s deadline).
fn wait_for_state(name: &str, format: &str, want: &str) {
    let mut got = String::new();
    let done = poll_for(Duration::from_secs(30), Duration::from_millis(100), || {
        got = inspect(name, format);
        (got == want).then_some(())
    });
    assert!(
        done.is_some(),
        "container {name}: {format} is {got:?}, expected {want:?} within 30 s"
    );
}

/// Polls `docker exec name cmd...` until it succeeds with stdout (trimmed) == `want`.
fn wait_for_exec_output(name: &str, cmd: &[&str], want: &str) -> Out {
    let mut last = None;
    poll_for(Duration::from_secs(30), Duration::from_millis(100), || {
        let out = run(docker().args(["exec", name]).args(cmd));
        if out.ok() && out.stdout.trim() == want {
            return Some(out);
        }
        last = Some(out);
        None
    })
    .unwrap_or_else(|| {
        panic!("docker exec {name} {cmd:?} did not print {want:?} within 30 s; last: {last:?}")
    })
}

/// Waits until container `name` has printed "ready" (its trap is set).
fn wait_ready(name: &str) {
    wait_until(
        "the container to print ready",
        Duration::from_secs(30),
        || docker_ok(&["logs", name]).stdout.contains("ready"),
    );
}

#[test]
fn run_exit_codes_and_stdout() {
    let out = docker_run_rm(&[], &["sh", "-c", "echo hello-from-hardened"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout.trim(), "hello-from-hardened", "{out:?}");

    let out = docker_run_rm(&[], &["sh", "-c", "echo before-exit; exit 7"]);
    assert_eq!(out.code, Some(7), "{out:?}");
    assert_eq!(out.stdout.trim(), "before-exit", "{out:?}");

    // `sh -c 'kill -9 $$'` would be a no-op: the shell is PID 1 of the container's PID
    // namespace, and the kernel drops SIGKILL sent to it from inside (runc behaves the same).
    // So a child shell kills itself and PID 1 propagates its status (128 + 9).
    let out = docker_run_rm(&[], &["sh", "-c", "sh -c 'kill -9 $$'; exit $?"]);
    assert_eq!(out.code, Some(137), "{out:?}");

    // The container's init itself killed by SIGKILL from outside (docker kill) -> 137.
    let c = start_detached("hd-run-kill", &[], &["sleep", "300"]);
    docker_ok(&["kill", &c.0]);
    wait_for_state(&c.0, "{{.State.Status}}", "exited");
    assert_eq!(inspect(&c.0, "{{.State.ExitCode}}"), "137");
}

#[test]
fn logs_of_detached_container() {
    let c = start_detached(
        "hd-logs",
        &[],
        &[
            "sh",
            "-c",
            "echo line-one; echo line-two; echo err-line >&2",
        ],
    );
    wait_for_state(&c.0, "{{.State.Status}}", "exited");
    assert_eq!(inspect(&c.0, "{{.State.ExitCode}}"), "0");
    let out = docker_ok(&["logs", &c.0]);
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["line-one", "line-two"],
        "{out:?}"
    );
    assert_eq!(out.stderr.trim(), "err-line", "{out:?}");
}

#[test]
fn tty() {
    let out = docker_run_rm(&["-t"], &["tty"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.trim().starts_with("/dev/pts/"), "{out:?}");

    let out = docker_run_rm(
        &["-t"],
        &["sh", "-c", "test -t 0 && test -t 1 && echo is-a-tty"],
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout.trim(), "is-a-tty", "{out:?}");
}

/// `docker run -i --rm ... cmd` with `input` written to its stdin (then closed).
fn run_with_stdin(cmd: &[&str], input: &str) -> Out {
    let name = unique("hd-stdin");
    let _guard = DockerContainer(name.clone());
    let mut child = docker()
        .args([
            "run",
            "-i",
            "--rm",
            RUNTIME,
            "--network",
            "none",
            "--name",
            &name,
        ])
        .arg(image())
        .args(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn docker run -i");
    {
        let mut stdin = child.stdin.take().expect("stdin of docker run -i");
        stdin
            .write_all(input.as_bytes())
            .expect("write to docker run -i stdin");
    } // closed here
    child
        .wait_with_output()
        .expect("wait for docker run -i")
        .into()
}

#[test]
fn stdin() {
    let input = "first line\nsecond line\n";
    let out = run_with_stdin(&["cat"], input);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, input, "{out:?}");

    let out = run_with_stdin(&["sh", "-c", "read x; echo got:$x"], "hello\n");
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout.trim(), "got:hello", "{out:?}");
}

#[test]
fn exec() {
    let c = start_detached("hd-exec", &[], &["sleep", "300"]);
    let name = c.0.as_str();

    let out = docker_ok(&["exec", "-u", "1000:1000", name, "id", "-u"]);
    assert_eq!(out.stdout.trim(), "1000", "{out:?}");
    let out = docker_ok(&["exec", "-u", "1000:1000", name, "id", "-g"]);
    assert_eq!(out.stdout.trim(), "1000", "{out:?}");

    let out = docker_ok(&["exec", "-w", "/tmp", name, "pwd"]);
    assert_eq!(out.stdout.trim(), "/tmp", "{out:?}");

    let out = docker_ok(&["exec", "-e", "FOO=bar", name, "sh", "-c", "echo $FOO"]);
    assert_eq!(out.stdout.trim(), "bar", "{out:?}");

    let out = docker_ok(&["exec", "-t", name, "tty"]);
    assert!(out.stdout.trim().starts_with("/dev/pts/"), "{out:?}");

    let out = run(docker().args(["exec", name, "sh", "-c", "exit 5"]));
    assert_eq!(out.code, Some(5), "{out:?}");

    // The container is still running after all of that.
    assert_eq!(inspect(name, "{{.State.Status}}"), "running");
}

#[test]
fn pause_unpause() {
    let c = start_detached("hd-pause", &[], &["sleep", "300"]);
    let name = c.0.as_str();

    docker_ok(&["pause", name]);
    assert_eq!(inspect(name, "{{.State.Status}}"), "paused");
    let out = run(docker().args(["exec", name, "true"]));
    assert!(!out.ok(), "exec into a paused container succeeded: {out:?}");

    docker_ok(&["unpause", name]);
    assert_eq!(inspect(name, "{{.State.Status}}"), "running");
    let out = docker_ok(&["exec", name, "echo", "alive"]);
    assert_eq!(out.stdout.trim(), "alive", "{out:?}");
}

#[test]
fn top() {
    let c = start_detached("hd-top", &[], &["sleep", "300"]);
    let out = docker_ok(&["top", &c.0]);
    assert!(
        out.stdout.lines().skip(1).any(|l| l.contains("sleep 300")),
        "docker top does not list `sleep 300`: {out:?}"
    );
}

#[test]
fn stats() {
    let c = start_detached("hd-stats", &[], &["sleep", "300"]);
    let out = docker_ok(&["stats", "--no-stream", "--format", "{{.PIDs}}", &c.0]);
    let pids: u64 = out
        .stdout
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("PIDs is not a number ({e}): {out:?}"));
    assert!(pids >= 1, "{out:?}");
}

/// Prints the first of `paths` that exists inside the container.
fn cat_first(name: &str, paths: &[&str]) -> Out {
    let script = paths
        .iter()
        .map(|p| format!("if [ -e {p} ]; then cat {p}; exit; fi;"))
        .collect::<String>()
        + " echo none of the cgroup files exist >&2; exit 1";
    run(docker().args(["exec", name, "sh", "-c", &script]))
}

#[test]
fn update_resources() {
    let c = start_detached("hd-update", &[], &["sleep", "300"]);
    let name = c.0.as_str();

    docker_ok(&["update", "--pids-limit", "50", name]);
    let out = cat_first(
        name,
        &["/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max"],
    );
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.stdout.trim(), "50", "{out:?}");

    docker_ok(&["update", "--memory", "64m", "--memory-swap", "128m", name]);
    let out = cat_first(
        name,
        &[
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory.max",
        ],
    );
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.stdout.trim(), "67108864", "{out:?}");
}

#[test]
fn restart() {
    let c = start_detached("hd-restart", &[], &["sleep", "300"]);
    let name = c.0.as_str();
    let pid_before = inspect(name, "{{.State.Pid}}");
    assert_ne!(pid_before, "0");

    docker_ok(&["restart", "-t", "1", name]);
    assert_eq!(inspect(name, "{{.State.Status}}"), "running");
    let pid_after = inspect(name, "{{.State.Pid}}");
    assert_ne!(pid_after, "0");
    assert_ne!(
        pid_before, pid_after,
        "the restarted container has the same PID"
    );
    let out = docker_ok(&["exec", name, "echo", "restarted"]);
    assert_eq!(out.stdout.trim(), "restarted", "{out:?}");
}

#[test]
fn stop_delivers_sigterm() {
    let c = start_detached(
        "hd-stop-term",
        &[],
        &[
            "sh",
            "-c",
            "trap 'echo TERM; exit 3' TERM; echo ready; while true; do sleep 0.1; done",
        ],
    );
    let name = c.0.as_str();
    // Wait for the trap to be installed before stopping.
    wait_ready(name);
    docker_ok(&["stop", "-t", "5", name]);
    assert_eq!(inspect(name, "{{.State.Status}}"), "exited");
    assert_eq!(inspect(name, "{{.State.ExitCode}}"), "3");
    let out = docker_ok(&["logs", name]);
    assert!(out.stdout.contains("TERM"), "{out:?}");
}

#[test]
fn stop_kills_after_timeout() {
    let c = start_detached(
        "hd-stop-kill",
        &[],
        &[
            "sh",
            "-c",
            "trap '' TERM; echo ready; while true; do sleep 0.1; done",
        ],
    );
    let name = c.0.as_str();
    wait_ready(name);
    docker_ok(&["stop", "-t", "1", name]);
    assert_eq!(inspect(name, "{{.State.Status}}"), "exited");
    assert_eq!(inspect(name, "{{.State.ExitCode}}"), "137");
}

#[test]
fn kill_with_signal() {
    let c = start_detached(
        "hd-kill-usr1",
        &[],
        &[
            "sh",
            "-c",
            "trap 'echo got-usr1 > /tmp/marker' USR1; echo ready > /tmp/ready; \
             while true; do sleep 0.1; done",
        ],
    );
    let name = c.0.as_str();
    wait_for_exec_output(name, &["cat", "/tmp/ready"], "ready");
    docker_ok(&["kill", "-s", "USR1", name]);
    wait_for_exec_output(name, &["cat", "/tmp/marker"], "got-usr1");
    // USR1 was handled: the container is still running.
    assert_eq!(inspect(name, "{{.State.Status}}"), "running");
}

#[test]
fn rm_force_running() {
    let c = start_detached("hd-rmf", &[], &["sleep", "300"]);
    let name = c.0.as_str();
    assert_eq!(inspect(name, "{{.State.Status}}"), "running");
    docker_ok(&["rm", "-f", name]);
    let out = run(docker().args(["inspect", name]));
    assert!(!out.ok(), "container still exists after rm -f: {out:?}");
    assert!(out.stderr.contains("No such"), "{out:?}");
}

#[test]
fn parallel_runs() {
    let handles: Vec<_> = (0..20)
        .map(|i| {
            std::thread::spawn(move || {
                let script = format!("echo ok-{i}");
                (i, docker_run_rm(&[], &["sh", "-c", &script]))
            })
        })
        .collect();
    let mut failures = Vec::new();
    for h in handles {
        let (i, out) = h.join().expect("docker run thread panicked");
        if !(out.ok() && out.stdout.trim() == format!("ok-{i}")) {
            failures.push(format!("container {i}: {out:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 20 parallel runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn create_error_is_reported() {
    let out = docker_run_rm(&["--workdir", "/proc/self/fd/3"], &["true"]);
    assert!(
        !out.ok(),
        "container with a /proc/self/fd cwd started: {out:?}"
    );
    assert!(out.stderr.contains("OCI runtime create failed"), "{out:?}");
    assert!(out.stderr.contains("CVE-2024-21626"), "{out:?}");
}

/// The cgroup-path rule through Docker: a runtime whose policy allows only the daemon's own
/// cgroup parent runs containers there, and refuses `--cgroup-parent` elsewhere with the rule's
/// message (nothing is created: the refusal comes before any cgroup is made).
#[test]
fn cgroup_parent_outside_the_allowed_parents_is_refused() {
    let name = unique("hd-parent");
    let _guard = DockerContainer(name.clone());
    let out = run(common::docker_run_cmd("hardened-parents")
        .args(["--rm", "--name", &name])
        .arg(image())
        .args(["true"]));
    assert!(out.ok(), "under the daemon's own parent: {out:?}");

    let name = unique("hd-parent");
    let _guard = DockerContainer(name.clone());
    // The systemd cgroup driver (a cgroup v2 host with systemd as init, the guest stage) takes
    // only a slice as --cgroup-parent; cgroupfs takes a path.
    let driver = run(common::docker().args(["info", "--format", "{{.CgroupDriver}}"]));
    let systemd = driver.stdout.trim() == "systemd";
    let elsewhere = if systemd {
        format!(
            "{}.slice",
            unique("hardenedtestelsewhere").replace('-', "_")
        )
    } else {
        format!("/{}", unique("hardened-test-elsewhere"))
    };
    let out = run(common::docker_run_cmd("hardened-parents")
        .args(["--rm", "--name", &name, "--cgroup-parent", &elsewhere])
        .arg(image())
        .args(["true"]));
    assert!(!out.ok(), "--cgroup-parent {elsewhere} ran: {out:?}");
    assert!(
        out.stderr.contains("[rule cgroup-path]") && out.stderr.contains("allowed_cgroup_parents"),
        "{out:?}"
    );
    let controllers: &[&str] = if systemd {
        &[""]
    } else {
        &["pids", "memory", "devices"]
    };
    for ctl in controllers {
        let d = std::path::Path::new("/sys/fs/cgroup")
            .join(ctl)
            .join(elsewhere.trim_start_matches('/'));
        assert!(!d.exists(), "{} was created", d.display());
    }
}

/// Volumes beneath the scratch tmpfs mounts (`-v DIR:/tmp/vol`, Compose secrets at
/// `/run/secrets/NAME`): the tmpfs is mounted first, the volumes over it, and their mount
/// points are made inside the tmpfs (the root filesystem is read-only).
#[test]
fn volumes_beneath_the_scratch_tmpfs() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("f"), "from-the-host\n").expect("write");
    let vol = format!("{}:/tmp/vol", dir.path().display());
    let secret = format!("{}:/run/secrets/x:ro", dir.path().display());
    let out = docker_run_rm(
        &["-v", &vol, "-v", &secret],
        &[
            "sh",
            "-c",
            "cat /tmp/vol/f /run/secrets/x/f && echo scratch > /tmp/s && cat /tmp/s \
             && grep -c ' /tmp tmpfs ' /proc/mounts",
        ],
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["from-the-host", "from-the-host", "scratch", "1"],
        "{out:?}"
    );
}

/// Images that log to `/dev/stdout`, `/dev/stderr` or `/proc/self/fd/1` (nginx, apache2,
/// php-fpm): Docker's stdio FIFOs (owned by the host's root, mode 0600) are reopened from
/// inside the user namespace, with and without a terminal.
#[test]
fn stdout_reopened_inside_the_user_namespace() {
    let script = "echo out > /dev/stdout && echo fd1 > /proc/self/fd/1 \
                  && echo err > /dev/stderr && echo fd2 > /proc/self/fd/2 \
                  && test \"$(stat -L -c %u /proc/self/fd/1)\" = \"$(id -u)\" && echo owned";
    let out = docker_run_rm(&[], &["sh", "-c", script]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["out", "fd1", "owned"],
        "{out:?}"
    );
    assert_eq!(
        out.stderr.lines().collect::<Vec<_>>(),
        ["err", "fd2"],
        "{out:?}"
    );
    // A process user other than root gets them as its own.
    let out = docker_run_rm(
        &["-u", "1000:1000"],
        &[
            "sh",
            "-c",
            "echo out > /dev/stdout && echo fd1 > /proc/self/fd/1",
        ],
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["out", "fd1"],
        "{out:?}"
    );
    // docker exec gets FIFOs of its own, given to the exec'd process's user.
    let c = start_detached("hd-stdio", &[], &["sleep", "300"]);
    for user in ["0", "1000"] {
        let out = run(docker().args(["exec", "-u", user, &c.0, "sh", "-c", script]));
        assert_eq!(out.code, Some(0), "exec -u {user}: {out:?}");
        assert_eq!(
            out.stdout.lines().collect::<Vec<_>>(),
            ["out", "fd1", "owned"],
            "exec -u {user}: {out:?}"
        );
    }
    drop(c);
    // With -t the stdio is the container's own pseudo-terminal.
    let out = docker_run_rm(
        &["-t"],
        &[
            "sh",
            "-c",
            "echo out > /dev/stdout && echo fd1 > /proc/self/fd/1 && echo err > /dev/stderr",
        ],
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.stdout
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .collect::<Vec<_>>(),
        ["out", "fd1", "err"],
        "{out:?}"
    );
}

/// The container's terminal is the process's user's (runc's `fixStdioPermissions`): reopening
/// `/dev/stdout`, `/dev/stderr` or `/proc/self/fd/1` works with `-t`, for the init and for
/// `docker exec -t`, as root and as another user. libcontainer makes an exec's terminal before
/// the process enters the user namespace: its slave was the host's root's (`nobody` inside).
#[test]
fn terminal_is_the_process_users() {
    let script = "echo out > /dev/stdout && echo fd1 > /proc/self/fd/1 \
                  && echo err > /dev/stderr && test \"$(stat -c %u \"$(tty)\")\" = \"$(id -u)\" \
                  && echo owned";
    let lines = |out: &Out| -> Vec<String> {
        out.stdout
            .lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect()
    };
    for user in ["0:0", "1000:1000"] {
        let out = docker_run_rm(&["-t", "-u", user], &["sh", "-c", script]);
        assert_eq!(out.code, Some(0), "run -t -u {user}: {out:?}");
        assert_eq!(
            lines(&out),
            ["out", "fd1", "err", "owned"],
            "run -t -u {user}: {out:?}"
        );
    }
    let c = start_detached("hd-tty", &[], &["sleep", "300"]);
    for user in ["0", "1000"] {
        let out = run(docker().args(["exec", "-t", "-u", user, &c.0, "sh", "-c", script]));
        assert_eq!(out.code, Some(0), "exec -t -u {user}: {out:?}");
        assert_eq!(
            lines(&out),
            ["out", "fd1", "err", "owned"],
            "exec -t -u {user}: {out:?}"
        );
    }
}

/// `readonly_rootfs = false` under the policy's user namespace (runtime `hardened-writable`):
/// the container writes to the layer Docker gave it, through the idmapped overlay (its upper
/// layer), as under runc: files land in the layer owned by the container's root as Docker sees
/// it (0 on disk), and survive a restart. The defaults keep the root read-only.
#[test]
fn writable_root_under_the_user_namespace() {
    let c = {
        let name = unique("hd-writable");
        let guard = DockerContainer(name.clone());
        let out = run(docker()
            .args([
                "run",
                "-d",
                "--runtime=hardened-writable",
                "--network",
                "none",
            ])
            .args(["--name", &name, &image()])
            .args([
                "sh",
                "-c",
                "echo new > /x && echo more >> /etc/passwd && rm /bin/ls && mkdir /d \
                 && echo ready; sleep 300",
            ]));
        assert!(out.ok(), "docker run -d: {out:?}");
        guard
    };
    wait_ready(&c.0);
    let out = docker_ok(&[
        "exec",
        &c.0,
        "sh",
        "-c",
        "cat /x; tail -n 1 /etc/passwd; test -e /bin/ls || echo gone; grep ' / ' /proc/mounts",
    ]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[..3], ["new", "more", "gone"], "{out:?}");
    assert!(
        lines[3].contains(" rw,"),
        "the root is not writable: {out:?}"
    );
    let upper = inspect(&c.0, "{{.GraphDriver.Data.UpperDir}}");
    let meta = std::fs::metadata(std::path::Path::new(&upper).join("x")).expect("/x in the layer");
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.uid(), meta.gid()), (0, 0), "owner of /x in {upper}");
    docker_ok(&["restart", "-t", "0", &c.0]);
    wait_for_exec_output(&c.0, &["cat", "/x"], "new");
    drop(c);
    // The defaults: read-only.
    let out = docker_run_rm(&[], &["sh", "-c", "echo x > /x"]);
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");
}

/// `docker cp` into and out of a running container under the defaults (read-only root, the
/// policy's user namespace, an idmapped overlay of Docker's layer). Docker writes through its own
/// `merged` overlay of the container's layer: the idmapped overlay must not take Docker's work
/// directory from it (the kernel empties a work directory it mounts, and Docker's copy failed
/// `open /etc/f.txt: no such file or directory`).
#[test]
fn docker_cp_into_a_running_container() {
    let name = unique("hd-cp");
    let _guard = DockerContainer(name.clone());
    let out = run(docker()
        .args(["run", "-d", "--runtime=hardened", "--network", "none"])
        .args(["--name", &name, &image(), "sleep", "300"]));
    assert!(out.ok(), "docker run: {out:?}");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("f.txt");
    std::fs::write(&file, "copied in\n").expect("write the file to copy");
    for dest in ["/etc/f.txt", "/f2.txt"] {
        let out = run(docker().arg("cp").arg(&file).arg(format!("{name}:{dest}")));
        assert!(out.ok(), "docker cp into {dest}: {out:?}");
    }
    let back = dir.path().join("passwd");
    let out = run(docker()
        .arg("cp")
        .arg(format!("{name}:/etc/passwd"))
        .arg(&back));
    assert!(out.ok(), "docker cp out: {out:?}");
    assert!(std::fs::read_to_string(&back).is_ok_and(|t| t.starts_with("root:")));
    // The container keeps its read-only root.
    let out = run(docker().args(["exec", &name, "sh", "-c", "echo x > /etc/y"]));
    assert!(!out.ok(), "the root stays read-only: {out:?}");
}
