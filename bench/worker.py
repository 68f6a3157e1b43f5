#!/usr/bin/env python3
"""Timing worker for bench/bench.py.

Reads one JSON request per line on stdin and answers one JSON line on stdout. Every command is
run as a whole process (spawn -> wait), stdio on a null device, stderr kept for error messages, and
timed with a monotonic clock around spawn and wait: nothing of the worker itself is in the
number except the spawn.

bench.py runs one worker on the host and one in a private mount namespace with
/sys/fs/cgroup/unified unmounted (crun 1.8.1 refuses this machine's hybrid cgroup layout); the
crun worker lives in that namespace for the whole run, so crun is not charged a per-call
unshare/umount wrapper.

Requests:
  {"op": "run", "cmds": [[argv...], ...], "stop_on_error": true, "gap": seconds (optional)}
      -> {"results": [{"ns": int, "rc": int, "err": str}, ...]}
  {"op": "csd", "create": [...], "start": [...], "delete": [...], "pidfile": path}
      create, start, wait until the init has exited (untimed), delete
      -> {"results": [create, start, delete]} (each as above)
  {"op": "exit"}
Any request may carry "timeout": seconds after which a command is killed (default 10).
"""
import json
import os
import select
import subprocess
import sys
import tempfile
import time

ERR = tempfile.TemporaryFile()

# The runtimes' stdin/stdout: bench.py's private null device (a 1:3 node in its temporary
# directory), never the host's /dev/null. crun 1.8.1 chowns its stdio to the container's root
# when the config has a user namespace (the "same work" runs): on the host's /dev/null that would
# leave it owned by an unprivileged uid and break the machine.
_NULL = os.environ.get("BENCH_NULL")
NULL_IN = os.open(_NULL, os.O_RDONLY | os.O_CLOEXEC) if _NULL else subprocess.DEVNULL
NULL_OUT = os.open(_NULL, os.O_WRONLY | os.O_CLOEXEC) if _NULL else subprocess.DEVNULL


TIMEOUT = 10.0


def run(argv, env=None):
    """Run argv to completion; one that takes longer than TIMEOUT seconds is killed (SIGKILL:
    youki 0.7 blocks every signal while it hangs) and reported with "timeout": true."""
    ERR.seek(0)
    ERR.truncate()
    t0 = time.perf_counter_ns()
    try:
        p = subprocess.Popen(argv, stdin=NULL_IN, stdout=NULL_OUT,
                             stderr=ERR, close_fds=True, env=env)
    except OSError as e:
        return {"ns": 0, "rc": 127, "err": str(e)}
    # Wait on a pidfd: Popen.wait(timeout=...) polls with sleeps of up to 50 ms, which would
    # round every time up to its next poll.
    fd = os.pidfd_open(p.pid)
    try:
        ready, _, _ = select.select([fd], [], [], TIMEOUT)
    finally:
        os.close(fd)
    if not ready:
        p.kill()
        p.wait()
        return {"ns": time.perf_counter_ns() - t0, "rc": -9, "timeout": True,
                "err": f"killed after {TIMEOUT:.0f} s (hung): {' '.join(argv)}"}
    rc = p.wait()
    ns = time.perf_counter_ns() - t0
    err = ""
    if rc != 0:
        ERR.seek(0)
        err = ERR.read()[-2000:].decode(errors="replace")
    return {"ns": ns, "rc": rc, "err": err}


def wait_exit(pid, timeout=10.0):
    """Wait until process `pid` has exited (a zombie counts), without reaping it."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        r, _, _ = select.select([fd], [], [], timeout)
        return bool(r)
    finally:
        os.close(fd)


def csd(req):
    out = []
    pidfile = req["pidfile"]
    try:
        os.unlink(pidfile)
    except FileNotFoundError:
        pass
    c = run(req["create"])
    out.append(c)
    if c["rc"] != 0:
        return out
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
        fd = os.pidfd_open(pid)
    except (OSError, ValueError) as e:
        out.append({"ns": 0, "rc": 1, "err": f"pid file {pidfile}: {e}"})
        return out
    try:
        s = run(req["start"])
        out.append(s)
        if s["rc"] != 0:
            return out
        select.select([fd], [], [], 10.0)
    finally:
        os.close(fd)
    out.append(run(req["delete"]))
    return out


def main():
    global TIMEOUT
    for line in sys.stdin:
        req = json.loads(line)
        TIMEOUT = float(req.get("timeout", TIMEOUT))
        op = req["op"]
        if op == "exit":
            break
        if op == "run":
            res = []
            for argv in req["cmds"]:
                if req.get("gap"):
                    time.sleep(req["gap"])  # untimed pause before each command
                r = run(argv)
                res.append(r)
                if r["rc"] != 0 and req.get("stop_on_error", True):
                    break
            ans = {"results": res}
        elif op == "csd":
            ans = {"results": csd(req)}
        elif op == "ping":
            ans = {"pid": os.getpid(), "mountns": os.readlink("/proc/self/ns/mnt"),
                   "unified": os.path.ismount("/sys/fs/cgroup/unified")}
        else:
            ans = {"error": f"unknown op {op}"}
        sys.stdout.write(json.dumps(ans) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
