#!/usr/bin/env python3
"""Side-by-side start-up speed and memory of hardened, runc, crun and youki (bench/run.sh).

Called by bench/run.sh, which installs the peers and tools, makes the temporary directory and
cleans up behind us. Everything this script creates (state roots, bundles, audit logs, policy
files, the private dockerd) lives under --tmp; the host's runtimes' default roots and the host's
Docker are never touched.

Timing is whole-process: a worker (bench/worker.py) spawns the runtime and waits for it, stdio on
/dev/null. Runtimes are alternated within every round (the order rotates each round), and a
sample is the mean over K containers; tables give medians of samples and ratios to hardened.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import stat
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

OURS = "hardened"
PERM = "hardened-permissive"


class BenchError(Exception):
    pass


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(argv, check=True, env=None, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, env=env, **kw)
    if check and r.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()[-1500:]}")
    return r


def first_line(argv):
    try:
        return sh(argv, check=False).stdout.strip().splitlines()[0]
    except (IndexError, OSError):
        return "?"


def private_null(tmp):
    """A null device of our own (char 1:3, 0666) in the temporary directory, for the runtimes'
    stdio: a runtime that chowns its stdio (crun with a user namespace) then changes this node,
    not the host's /dev/null. Where device nodes cannot be used there (a nodev mount), an empty
    regular file."""
    path = os.path.join(tmp, "null")
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.chmod(path, 0o666)
        os.close(os.open(path, os.O_WRONLY))
    except OSError:
        if os.path.lexists(path):
            os.unlink(path)
        with open(path, "w"):
            pass
        os.chmod(path, 0o666)
    return path


class Worker:
    """A bench/worker.py process, on the host or in crun's private mount namespace."""

    def __init__(self, private_ns, null):
        argv = [sys.executable, os.path.join(HERE, "worker.py")]
        if private_ns:
            # crun 1.8.1 refuses the hybrid layout (v1 controllers + a cgroup2 mount at
            # /sys/fs/cgroup/unified): give it a private mount namespace without that mount.
            argv = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                    'umount /sys/fs/cgroup/unified && exec "$0" "$@"'] + argv
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1, env={**os.environ, "BENCH_NULL": null})
        self.lock = threading.Lock()
        self.info = self.call({"op": "ping"})

    def call(self, req):
        with self.lock:
            self.p.stdin.write(json.dumps(req) + "\n")
            self.p.stdin.flush()
            line = self.p.stdout.readline()
        if not line:
            raise BenchError("timing worker died")
        return json.loads(line)

    def run(self, cmds, stop_on_error=True, gap=0.0):
        return self.call({"op": "run", "cmds": cmds, "stop_on_error": stop_on_error, "gap": gap})["results"]

    def kill(self):
        try:
            self.p.kill()
            self.p.wait(timeout=5)
        except Exception:  # noqa: BLE001
            pass

    def close(self):
        try:
            self.call({"op": "exit"})
        except Exception:
            pass
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()


class Runtime:
    def __init__(self, name, binary, argv, worker, note=""):
        self.name, self.binary, self.argv, self.worker, self.note = name, binary, argv, worker, note
        self.error = None  # set when it failed; it is then left out of later sections

    def cmd(self, *args):
        return self.argv + list(args)


def median(xs):
    return statistics.median(xs) if xs else None


def q(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = (len(xs) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = a.tmp
        self.state = a.state or a.tmp
        self.quick = a.quick
        self.samples = {}  # (section, runtime) -> [values]
        self.notes = []
        self.failures = []
        self.host = None
        self.crun_worker = None
        self.docker_dir = None
        self.docker_env = None
        self.runtimes = []
        self.meta = {}
        self.conc = {}  # (runtime, n) -> [seconds]
        self.hangs = {}  # (runtime, op) -> count of commands killed after the timeout
        self.flakes = {}  # (runtime, op) -> (count of failed commands, first error)
        self.attempts = {}  # (runtime, op) -> count of commands run
        self.seq = 0
        p = dict(
            run_k=20, run_s=10, apart_k=10, apart_s=6, apart_gap=0.1, csd_k=10, csd_s=8, exec_k=20, exec_s=8, rss_s=5,
            docker_s=30, conc_n=[10, 25, 50, 100], conc_reps=2, big_k=10, big_s=6,
            big_mb=1000, big_files=10000,
        )
        if a.quick:
            p.update(run_k=2, run_s=2, apart_k=2, apart_s=1, csd_k=2, csd_s=2, exec_k=2, exec_s=2, rss_s=1,
                     docker_s=2, conc_n=[3], conc_reps=1, big_k=2, big_s=1, big_mb=100,
                     big_files=100)
        self.p = p

    # ---- set-up -------------------------------------------------------------------------

    def uid(self, prefix):
        self.seq += 1
        return f"{prefix}-{self.seq}"

    def setup(self):
        a = self.a
        os.makedirs(f"{self.state}/roots", exist_ok=True)
        os.makedirs(f"{self.tmp}/policy", exist_ok=True)
        os.makedirs(f"{self.tmp}/audit", exist_ok=True)
        os.makedirs(f"{self.tmp}/rss", exist_ok=True)
        # Our default policy (every hardening on) with only the audit log moved, and permissive.
        self.pol_default = f"{self.tmp}/policy/default.toml"
        self.pol_perm = f"{self.tmp}/policy/permissive.toml"
        with open(self.pol_default, "w") as f:
            f.write(f'audit_log = "{self.tmp}/audit/default.log"\n')
        with open(self.pol_perm, "w") as f:
            f.write(f'mode = "permissive"\naudit_log = "{self.tmp}/audit/permissive.log"\n')

        self.null = private_null(self.tmp)
        self.host = Worker(False, self.null)
        r = lambda n: f"{self.state}/roots/{n}"
        rts = [
            Runtime(OURS, a.hardened, [a.hardened, "--root", r("hardened"), "--policy", self.pol_default], self.host),
            Runtime(PERM, a.hardened, [a.hardened, "--root", r("permissive"), "--policy", self.pol_perm], self.host),
            Runtime("runc", a.runc, [a.runc, "--root", r("runc")], self.host),
        ]
        if a.crun:
            try:
                self.crun_worker = Worker(True, self.null)
                if self.crun_worker.info.get("unified"):
                    raise BenchError("/sys/fs/cgroup/unified is still mounted in crun's namespace")
                rts.append(Runtime("crun", a.crun, [a.crun, "--root", r("crun")], self.crun_worker,
                                   note="private mount namespace, /sys/fs/cgroup/unified unmounted"))
            except Exception as e:  # noqa: BLE001
                self.failures.append(f"crun: could not set up its private mount namespace: {e}")
        if a.youki:
            rts.append(Runtime("youki", a.youki, [a.youki, "--root", r("youki")], self.host))
        self.runtimes = rts

        # Bundles: static busybox, `true` and a long sleep; a big rootfs for section 6.
        b = f"{self.tmp}/bundles"
        env = dict(os.environ, HARDENED=a.hardened)
        for name, args in (("true", ["true"]), ("sleep", ["sleep", "100000"])):
            sh([f"{REPO}/scripts/mkbundle.sh", f"{b}/{name}", *args], env=env)
        self.b_true, self.b_sleep = f"{b}/true", f"{b}/sleep"
        self.meta["bundle_kb"] = int(sh(["du", "-sk", f"{b}/true/rootfs"]).stdout.split()[0])
        # The same work for the peers: a bundle whose config.json is the spec our default policy
        # makes of the `true` bundle (seccomp filter, no capabilities, read-only root + scratch
        # tmpfs, masked paths, pids limit), taken from the shadow bundle of a created container.
        scratch = f"{self.state}/roots/spec-scratch"
        # (stdio on /dev/null: the waiting init would hold a pipe open)
        r = subprocess.run([a.hardened, "--root", scratch, "--policy", self.pol_default, "create", "--bundle",
                            self.b_true, "spec"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if r.returncode != 0:
            raise BenchError(f"hardened create (to get the hardened spec) failed with {r.returncode}")
        try:
            os.makedirs(f"{b}/hspec", exist_ok=True)
            with open(f"{scratch}/.bundles/spec/config.json") as f:
                hspec = json.load(f)
            # Without the user namespace: the peers cannot idmap the root filesystem (runc 1.1,
            # crun 1.8), so with the mappings the image's root-owned files would be out of reach
            # of the container's root (and crun chowns its stdio to the mapped root).
            linux = hspec.get("linux", {})
            linux["namespaces"] = [n for n in linux.get("namespaces", []) if n.get("type") != "user"]
            linux.pop("uidMappings", None)
            linux.pop("gidMappings", None)
            with open(f"{b}/hspec/config.json", "w") as f:
                json.dump(hspec, f)
        finally:
            sh([a.hardened, "--root", scratch, "delete", "--force", "spec"], check=False)
            shutil.rmtree(scratch, ignore_errors=True)
        self.b_hspec = f"{b}/hspec"

        versions = {
            OURS: first_line([a.hardened, "--version"]),
            "runc": first_line([a.runc, "--version"]),
        }
        if a.crun:
            # crun creates its default root /run/crun on any call without --root.
            versions["crun"] = first_line([a.crun, "--root", f"{self.state}/roots/crun", "--version"])
        if a.youki:
            versions["youki"] = first_line([a.youki, "--version"])
        self.meta["versions"] = versions
        self.meta["sizes"] = {rt.name: os.stat(rt.binary).st_size for rt in self.runtimes}

    # ---- helpers ------------------------------------------------------------------------

    def active(self, names=None):
        return [rt for rt in self.runtimes if rt.error is None and (names is None or rt.name in names)]

    def rotate(self, rts, i):
        i %= max(len(rts), 1)
        return rts[i:] + rts[:i]

    def fail(self, rt, what, res):
        msg = f"{rt.name}: {what} failed (exit {res['rc']}): {res['err'].strip()[-600:]}"
        log(msg)
        rt.error = msg
        self.failures.append(msg)

    def batch(self, rt, op, items, gap=0.0):
        """Time `items` = [(container id, argv)] back to back; returns the ms of each one that
        finished. A command that hung (killed after the timeout) is counted in self.hangs, its
        container force-deleted, and left out; any other failure takes rt out of the run."""
        res = rt.worker.run([argv for _, argv in items], stop_on_error=False, gap=gap)
        ok = []
        for (cid, _), r in zip(items, res):
            if r.get("timeout"):
                self.hang(rt, op, cid, r)
            elif r["rc"] != 0:
                if not self.flake(rt, op, cid, r):
                    return None
            else:
                ok.append(r["ns"] / 1e6)
        return ok

    def flake(self, rt, op, cid, r):
        """A failed command: counted, its container force-deleted, left out. The runtime is
        taken out of the run at its fourth failure. Returns False then."""
        n = self.flakes.get((rt.name, op), (0, ""))[0] + 1
        self.flakes[(rt.name, op)] = (n, self.flakes.get((rt.name, op), (0, r["err"].strip()))[1])
        log(f"{rt.name}: {op} failed (exit {r['rc']}): {r['err'].strip()[:300]}")
        if cid:
            rt.worker.run([rt.cmd("delete", "--force", cid)], stop_on_error=False)
        if sum(c for (name, _), (c, _) in self.flakes.items() if name == rt.name) > 3:
            self.fail(rt, op, r)
            self.cleanup_runtime(rt)
            return False
        return True

    def hang(self, rt, op, cid, r):
        self.hangs.setdefault((rt.name, op), 0)
        self.hangs[(rt.name, op)] += 1
        log(f"{rt.name}: {op} hung, killed after the timeout ({r['err'][:200]})")
        if cid:
            rt.worker.run([rt.cmd("delete", "--force", cid)], stop_on_error=False)

    def count(self, rt, op, n):
        self.attempts[(rt.name, op)] = self.attempts.get((rt.name, op), 0) + n

    def add(self, section, rt, value):
        self.samples.setdefault((section, rt), []).append(value)

    def cleanup_runtime(self, rt):
        """Delete every container left in rt's state root."""
        root = rt.argv[rt.argv.index("--root") + 1]
        if not os.path.isdir(root):
            return
        ids = [d for d in os.listdir(root) if not d.startswith(".")
               and os.path.isdir(os.path.join(root, d))]
        if ids:
            rt.worker.run([rt.cmd("delete", "--force", i) for i in ids], stop_on_error=False)

    # ---- 1. run ---------------------------------------------------------------------------

    def sec_run(self):
        k, s = self.p["run_k"], self.p["run_s"]
        log(f"1. run of /bin/true: {s} rounds x {k} containers per runtime (and the peers with our "
            "hardened spec)")
        for rnd in range(s):
            variants = [(rt, "run", self.b_true) for rt in self.active()]
            variants += [(rt, "run-hspec", self.b_hspec) for rt in self.active() if rt.name not in (OURS, PERM)]
            for rt, section, bundle in self.rotate(variants, rnd):
                if rt.error:
                    continue
                ids = [self.uid("run") for _ in range(k)]
                ms = self.batch(rt, "run", [(i, rt.cmd("run", "--bundle", bundle, i)) for i in ids])
                self.count(rt, "run", k)
                if ms:
                    self.add(section, rt.name, statistics.mean(ms))

    def sec_run_apart(self):
        """`run` with a pause before each container. Back to back, a runtime that starts the
        next container within a few ms finds the kernel's cgroup_threadgroup_rwsem still in its
        writer mode and skips the RCU grace period (~10-17 ms here) that moving a process into a
        cgroup v1 otherwise waits for: back-to-back numbers favour the fastest runtime. Docker
        and Kubernetes start containers far apart, so this is the number a user sees."""
        k, s, gap = self.p["apart_k"], self.p["apart_s"], self.p["apart_gap"]
        log(f"1b. run of /bin/true, {gap * 1000:.0f} ms apart: {s} rounds x {k} containers per runtime")
        for rnd in range(s):
            for rt in self.rotate(self.active(), rnd):
                ids = [self.uid("run") for _ in range(k)]
                ms = self.batch(rt, "run", [(i, rt.cmd("run", "--bundle", self.b_true, i)) for i in ids], gap=gap)
                self.count(rt, "run", k)
                if ms:
                    self.add("run-apart", rt.name, statistics.mean(ms))

    # ---- 2. create / start / delete, exec -------------------------------------------------

    def csd_once(self, rt, wrap=None):
        cid = self.uid("csd")
        pidfile = f"{self.tmp}/{cid}.pid"
        w = wrap or (lambda op, argv: argv)
        req = {
            "op": "csd", "pidfile": pidfile,
            "create": w("create", rt.cmd("create", "--bundle", self.b_true, "--pid-file", pidfile, cid)),
            "start": w("start", rt.cmd("start", cid)),
            "delete": w("delete", rt.cmd("delete", cid)),
        }
        res = rt.worker.call(req)["results"]
        self.count(rt, "create/start/delete", 1)
        for op, r in zip(("create", "start", "delete"), res):
            if r.get("timeout"):
                self.hang(rt, op, cid, r)
                return False
            if r["rc"] != 0:
                return False if self.flake(rt, op, cid, r) else None
        if len(res) != 3:
            self.fail(rt, "create/start/delete", res[-1])
            self.cleanup_runtime(rt)
            return None
        return res

    def sec_csd(self):
        k, s = self.p["csd_k"], self.p["csd_s"]
        log(f"2a. create -> start -> delete: {s} rounds x {k} containers per runtime")
        for rnd in range(s):
            for rt in self.rotate(self.active(), rnd):
                tot = [0, 0, 0]
                n = 0
                for _ in range(k):
                    res = self.csd_once(rt)
                    if res is False:
                        continue
                    if res is None:
                        break
                    for i in range(3):
                        tot[i] += res[i]["ns"]
                    n += 1
                if n and rt.error is None:
                    for i, op in enumerate(("create", "start", "delete")):
                        self.add(op, rt.name, tot[i] / n / 1e6)

    def start_sleeper(self, rt):
        cid = self.uid("exec")
        res = rt.worker.run([rt.cmd("run", "--detach", "--bundle", self.b_sleep, cid)])
        if res[-1]["rc"] != 0:
            self.fail(rt, "run --detach", res[-1])
            return None
        return cid

    def sec_exec(self):
        k, s = self.p["exec_k"], self.p["exec_s"]
        log(f"2b. exec of /bin/true into a running container: {s} rounds x {k} per runtime")
        sleepers = {}
        for rt in self.active():
            cid = self.start_sleeper(rt)
            if cid:
                sleepers[rt.name] = cid
        try:
            for rnd in range(s):
                for rt in self.rotate(self.active(list(sleepers)), rnd):
                    cid = sleepers[rt.name]
                    ms = self.batch(rt, "exec", [(None, rt.cmd("exec", cid, "true")) for _ in range(k)])
                    self.count(rt, "exec", k)
                    if ms:
                        self.add("exec", rt.name, statistics.mean(ms))
        finally:
            for rt in self.runtimes:
                if rt.name in sleepers:
                    rt.worker.run([rt.cmd("delete", "--force", sleepers[rt.name])], stop_on_error=False)
        self.sleepers = sleepers

    # ---- 3. peak RSS -------------------------------------------------------------------------

    def sec_rss(self):
        s = self.p["rss_s"]
        log(f"3. peak RSS (/usr/bin/time -v 'Maximum resident set size'): {s} rounds per runtime")
        timev = self.a.time

        def wrap_for(tag):
            def w(op, argv):
                return [timev, "-v", "-o", f"{self.tmp}/rss/{tag}-{op}.txt"] + argv
            return w

        def read(tag, op):
            with open(f"{self.tmp}/rss/{tag}-{op}.txt") as f:
                for line in f:
                    if "Maximum resident set size" in line:
                        return int(line.rsplit(":", 1)[1]) / 1024.0  # MiB
            raise BenchError(f"no RSS in {tag}-{op}")

        sleepers = {}
        for rt in self.active():
            cid = self.start_sleeper(rt)
            if cid:
                sleepers[rt.name] = cid
        try:
            for rnd in range(s):
                for rt in self.rotate(self.active(), rnd):
                    tag = self.uid(f"rss-{rt.name}")
                    w = wrap_for(tag)
                    ms = self.batch(rt, "run", [(tag, w("run", rt.cmd("run", "--bundle", self.b_true, tag)))])
                    self.count(rt, "run", 1)
                    if ms is None:
                        continue
                    if ms:
                        self.add("rss-run", rt.name, read(tag, "run"))
                    if not self.csd_once(rt, wrap=w):
                        continue
                    for op in ("create", "start", "delete"):
                        self.add(f"rss-{op}", rt.name, read(tag, op))
                    if rt.name in sleepers:
                        ms = self.batch(rt, "exec", [(None, w("exec", rt.cmd("exec", sleepers[rt.name], "true")))])
                        self.count(rt, "exec", 1)
                        if ms:
                            self.add("rss-exec", rt.name, read(tag, "exec"))
        finally:
            for rt in self.runtimes:
                if rt.name in sleepers:
                    rt.worker.run([rt.cmd("delete", "--force", sleepers[rt.name])], stop_on_error=False)

    # ---- 6b. big rootfs ----------------------------------------------------------------------

    def sec_big(self):
        """`run` of /bin/true from the busybox bundle vs one whose rootfs also holds big_mb files
        of 1 MiB and big_files small ones. Our default policy gives the container a user namespace
        with an idmapped rootfs: no copy, no chown, so the cost must not depend on the size."""
        k, s, mb, nfiles = self.p["big_k"], self.p["big_s"], self.p["big_mb"], self.p["big_files"]
        big = f"{self.tmp}/bundles/big"
        log(f"6b. rootfs with {mb} x 1 MiB + {nfiles} small files vs the {self.meta['bundle_kb']} KiB one")
        # Made once per run (the work dir is removed at the end), reused by every round.
        sh(["cp", "-a", self.b_true, big])
        per = 500
        for d in range(0, mb, per):
            dd = f"{big}/rootfs/usr/share/bench-big/{d // per}"
            os.makedirs(dd, exist_ok=True)
            for i in range(min(per, mb - d)):
                fd = os.open(f"{dd}/m{i}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    os.posix_fallocate(fd, 0, 1 << 20)
                finally:
                    os.close(fd)
        for d in range(0, nfiles, per):
            dd = f"{big}/rootfs/usr/share/bench/{d // per}"
            os.makedirs(dd, exist_ok=True)
            for i in range(min(per, nfiles - d)):
                with open(f"{dd}/f{i}", "w") as f:
                    f.write("x" * 64)
        self.meta["big_kb"] = int(sh(["du", "-sk", f"{big}/rootfs"]).stdout.split()[0])
        self.meta["big_inodes"] = int(sh(["find", f"{big}/rootfs", "-xdev"]).stdout.count("\n"))
        self.big_probe(big)
        rts = self.active([OURS, PERM, "runc", "crun"])
        variants = [(rt, tag, bundle) for rt in rts for tag, bundle in (("small", self.b_true), ("big", big))]
        for rnd in range(s):
            for rt, tag, bundle in self.rotate(variants, rnd):
                ids = [self.uid("big") for _ in range(k)]
                ms = self.batch(rt, "run", [(i, rt.cmd("run", "--bundle", bundle, i)) for i in ids])
                self.count(rt, "run", k)
                if ms:
                    self.add(f"rootfs-{tag}", rt.name, statistics.mean(ms))
        # For scale: what shifting the owners of this rootfs by chown would cost (a runtime
        # without idmapped mounts, or Docker's userns-remap at pull time), once.
        t0 = time.perf_counter()
        sh(["chown", "-R", "--no-dereference", "100000:100000", f"{big}/rootfs"])
        self.meta["big_chown_ms"] = (time.perf_counter() - t0) * 1000
        shutil.rmtree(big, ignore_errors=True)

    def big_probe(self, big):
        """Check that the big rootfs really runs in a user namespace, idmapped: a non-identity
        uid_map, and the image's root-owned files still owned by root inside."""
        probe = f"{self.tmp}/bundles/big-probe"
        os.makedirs(probe, exist_ok=True)
        with open(f"{big}/config.json") as f:
            cfg = json.load(f)
        cfg["root"]["path"] = f"{big}/rootfs"
        cfg["process"]["args"] = ["sh", "-c", "cat /proc/self/uid_map; stat -c %u /bin/busybox"]
        with open(f"{probe}/config.json", "w") as f:
            json.dump(cfg, f)
        rt = self.active([OURS])[0]
        r = sh(rt.cmd("run", "--bundle", probe, self.uid("big-probe")), check=False, stdin=subprocess.DEVNULL)
        lines = r.stdout.split("\n")
        fields = lines[0].split()
        self.meta["big_uid_map"] = " ".join(fields)
        if r.returncode != 0 or len(fields) != 3 or fields[1] == "0" or lines[1:2] != ["0"]:
            raise BenchError(f"the big rootfs does not run in an idmapped user namespace: exit {r.returncode}, "
                             f"stdout {r.stdout!r}, stderr {r.stderr.strip()[-400:]!r}")
        log(f"   uid_map of a container on the big rootfs: {self.meta['big_uid_map']}; /bin/busybox owned by 0")

    # ---- 4, 5. Docker ---------------------------------------------------------------------

    def docker(self, *args, check=True):
        return sh(["docker", *args], check=check, env=self.docker_env)

    def start_docker(self):
        self.docker_dir = f"{self.tmp}/docker"
        env = dict(os.environ, HARDENED=self.a.hardened)
        log("starting a private dockerd (scripts/daemons.sh)")
        out = sh([f"{REPO}/scripts/daemons.sh", "start", self.docker_dir], env=env).stdout
        denv = dict(os.environ)
        for line in out.splitlines():
            if line.startswith("export ") and "=" in line:
                k, v = line[len("export "):].split("=", 1)
                denv[k] = v
        self.docker_env = denv
        self.image = denv["HARDENED_TEST_IMAGE"]
        v = self.docker("version", "--format", "{{.Server.Version}}", check=False).stdout.strip()
        self.meta["docker"] = v
        info = self.docker("info", "--format", "{{json .Runtimes}}", check=False).stdout.strip()
        try:
            rts = json.loads(info)
            self.meta["docker_runc"] = rts.get("runc", {}).get("path", "runc")
        except ValueError:
            self.meta["docker_runc"] = "runc"

    def stop_docker(self):
        if self.docker_dir:
            log("stopping the private dockerd")
            sh([f"{REPO}/scripts/daemons.sh", "stop", self.docker_dir], check=False)
            self.docker_dir = None

    def docker_run_once(self, rt):
        t0 = time.perf_counter_ns()
        r = subprocess.run(["docker", "run", "--rm", "--network", "none", "--runtime", rt, self.image, "true"],
                           env=self.docker_env, capture_output=True, text=True)
        dt = (time.perf_counter_ns() - t0) / 1e6
        if r.returncode != 0:
            raise BenchError(f"docker run --runtime {rt} failed: {r.stderr.strip()[-800:]}")
        return dt

    def sec_docker_run(self):
        s = self.p["docker_s"]
        names = ["runc", OURS, PERM]
        log(f"4. docker run --rm --network none IMAGE true: {s} rounds, runtimes {names}")
        for n in names:  # warm-up: image layers, the shim binary, page cache
            self.docker_run_once(n)
        for rnd in range(s):
            for n in self.rotate(names, rnd):
                self.add("docker-run", n, self.docker_run_once(n))

    def conc_batch(self, rt, n, label):
        argv = ["docker", "run", "-d", "--network", "none", "--runtime", rt, "--label", f"bench={label}",
                self.image, "sleep", "300"]
        t0 = time.perf_counter()
        procs = [subprocess.Popen(argv, env=self.docker_env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True) for _ in range(n)]
        errs = []
        for p in procs:
            _, err = p.communicate()
            if p.returncode != 0:
                errs.append(err.strip()[-400:])
        running = 0
        deadline = time.time() + 120
        while not errs and time.time() < deadline:
            out = self.docker("ps", "-q", "--filter", f"label=bench={label}", "--filter", "status=running").stdout
            running = len(out.split())
            if running >= n:
                break
            time.sleep(0.05)
        dt = time.perf_counter() - t0
        ids = self.docker("ps", "-aq", "--filter", f"label=bench={label}").stdout.split()
        if ids:
            self.docker("rm", "-f", *ids, check=False)
        if errs:
            raise BenchError(f"{len(errs)}/{n} docker run -d --runtime {rt} failed: {errs[0]}")
        if running < n:
            raise BenchError(f"only {running}/{n} containers running after 120 s (--runtime {rt})")
        return dt

    def sec_conc(self):
        ns, reps = self.p["conc_n"], self.p["conc_reps"]
        names = ["runc", OURS]
        log(f"5. concurrent docker run -d x N, N in {ns}, {reps} repetitions, runtimes {names}")
        i = 0
        for rep in range(reps):
            for n in ns:
                for rt in self.rotate(names, i):
                    i += 1
                    dt = self.conc_batch(rt, n, f"{rt}-{n}-{rep}")
                    self.conc.setdefault((rt, n), []).append(dt)
                    log(f"   {rt:9s} N={n:3d}: {dt:6.2f} s")

    # ---- driver ---------------------------------------------------------------------------

    def run_all(self):
        self.meta["load_start"] = os.getloadavg()
        self.meta["started"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        self.setup()
        if self.a.rootfs_only:
            self.sec_big()
            self.meta["load_end"] = os.getloadavg()
            self.meta["ended"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
            return
        self.sec_run()
        self.sec_run_apart()
        self.sec_csd()
        self.sec_exec()
        self.sec_rss()
        if self.a.big:
            self.sec_big()
        if self.a.docker:
            try:
                self.start_docker()
                self.sec_docker_run()
                self.sec_conc()
            except BenchError as e:
                self.failures.append(f"docker: {e}")
                log(f"docker: {e}")
            finally:
                self.stop_docker()
        self.meta["load_end"] = os.getloadavg()
        self.meta["ended"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")

    def cleanup(self):
        """Delete every container left in any state root, stop the daemons. Runs after an
        interruption too, when a worker may be half-way through a request: the workers are
        stopped first and the deletes run directly (crun's in its own private namespace)."""
        for w in (self.crun_worker, self.host):
            if w:
                w.kill()
        for rt in self.runtimes:
            root = rt.argv[rt.argv.index("--root") + 1]
            if not os.path.isdir(root):
                continue
            for cid in os.listdir(root):
                if cid.startswith(".") or not os.path.isdir(os.path.join(root, cid)):
                    continue
                argv = rt.cmd("delete", "--force", cid)
                if rt.worker is self.crun_worker:
                    argv = ["unshare", "-m", "sh", "-c",
                            'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$0" "$@"'] + argv
                try:
                    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=30)
                except Exception as e:  # noqa: BLE001
                    log(f"cleanup of {rt.name} {cid}: {e}")
        self.stop_docker()

    # ---- report ---------------------------------------------------------------------------

    def med(self, section, rt):
        return median(self.samples.get((section, rt), []))

    def report(self):
        R = Report(self)
        return R.markdown(), R


def fstype(path):
    best, typ = "", "?"
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            mp = parts[1].replace("\\040", " ")
            if (path == mp or path.startswith(mp.rstrip("/") + "/")) and len(mp) >= len(best):
                best, typ = mp, parts[2]
    return typ


def fmt(x, unit="", nd=1):
    if x is None:
        return "–"
    return f"{x:.{nd}f}{unit}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fr(x):
    return "–" if x is None else f"{x:.2f}×"


class Report:
    def __init__(self, b):
        self.b = b

    def machine(self):
        b = self.b
        cpu = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        distro = "?"
        try:
            with open("/etc/os-release") as f:
                for line in f:
                    if line.startswith("PRETTY_NAME="):
                        distro = line.split("=", 1)[1].strip().strip('"')
        except OSError:
            pass
        if os.path.ismount("/sys/fs/cgroup/unified"):
            cg = "hybrid (cgroup v1 controllers + cgroup2 at /sys/fs/cgroup/unified)"
        elif os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            cg = "cgroup v2 (unified)"
        else:
            cg = "cgroup v1"
        return cpu, os.cpu_count(), mem, platform.release(), distro, cg

    def rootfs_table(self):
        """Section 6b: `run` from the big rootfs vs the small one (empty when not measured)."""
        b, p, L = self.b, self.b.p, []
        a = L.append
        if not b.samples.get(("rootfs-small", OURS)):
            return L
        a(f"### Root filesystem size: `run` /bin/true from a {b.meta.get('big_kb', 0) / 2**20:.2f} GiB rootfs "
          f"({p['big_mb']} files of 1 MiB + {p['big_files']} small ones, {b.meta.get('big_inodes', 0)} inodes) "
          f"vs the {b.meta['bundle_kb'] / 1024:.1f} MiB one (median ms)")
        a("")
        a(f"`{OURS}` (default policy) runs each container in a user namespace of its own with the root "
          f"filesystem idmapped (checked: uid_map `{b.meta.get('big_uid_map', '?')}`, image files still owned "
          f"by 0 inside); `{PERM}`, runc and crun run it without a user namespace.")
        a("")
        a("| runtime | small | big | big ÷ small |")
        a("|---|---:|---:|---:|")
        for n in [rt.name for rt in b.runtimes]:
            sm, bg = b.med("rootfs-small", n), b.med("rootfs-big", n)
            if sm is None:
                continue
            a(f"| {n} | {fmt(sm)} | {fmt(bg)} | {fr(ratio(bg, sm))} |")
        a("")
        if "big_chown_ms" in b.meta:
            a(f"For scale: `chown -R` of the big rootfs to another range (what shifting owners without "
              f"idmapped mounts costs, e.g. Docker's `userns-remap`) took {b.meta['big_chown_ms']:.0f} ms once.")
            a("")
        return L

    def rootfs_markdown(self):
        b = self.b
        mode = "quick (CI smoke run: the numbers mean nothing)" if b.quick else "full"
        la, le = b.meta["load_start"], b.meta["load_end"]
        head = [f"Generated by `bench/run.sh --rootfs-only` ({mode}) on {b.meta['started']} "
                f"(finished {b.meta['ended']}); load average {la[0]:.2f} at start, {le[0]:.2f} at the end; "
                f"`{OURS}`: {b.meta['versions'][OURS]}.", ""]
        return "\n".join(head + self.rootfs_table())

    def markdown(self):
        b = self.b
        rts = [rt.name for rt in b.runtimes]
        peers = [n for n in rts if n != OURS]
        cpu, ncpu, mem, kernel, distro, cg = self.machine()
        L = []
        a = L.append
        mode = "quick (CI smoke run: the numbers mean nothing)" if b.quick else "full"
        a(f"Generated by `bench/run.sh` ({mode}) on {b.meta['started']} (finished {b.meta['ended']}).")
        a("")
        a(f"- Machine: {cpu}, {ncpu} CPUs, {mem:.0f} GiB; {distro}; kernel {kernel}; {cg}.")
        la, le = b.meta["load_start"], b.meta["load_end"]
        a(f"- Load average at start {la[0]:.2f} / {la[1]:.2f} / {la[2]:.2f}, at the end "
          f"{le[0]:.2f} / {le[1]:.2f} / {le[2]:.2f} (other jobs may share the machine: medians, "
          "runtimes alternated round by round).")
        for n, v in b.meta["versions"].items():
            a(f"- `{n}`: {v} ({b.meta['sizes'].get(n, 0) / 2**20:.1f} MiB binary, "
              f"`{[rt.binary for rt in b.runtimes if rt.name == n][0]}`)")
        if "docker" in b.meta:
            a(f"- Docker {b.meta['docker']} (private `dockerd` from `scripts/daemons.sh`; its `runc` runtime: "
              f"`{b.meta.get('docker_runc', 'runc')}`)")
        a(f"- `{OURS}` runs with its default policy (every hardening on; only `audit_log` moved to the "
          f"temporary directory); `{PERM}` is the same binary with `mode = \"permissive\"`.")
        if any(rt.name == "crun" for rt in b.runtimes):
            a("- **crun 1.8.1 refuses this hybrid cgroup layout, so crun runs in a private mount namespace "
              "with `/sys/fs/cgroup/unified` unmounted** (`unshare -m`, then `umount`). The timing worker "
              "that spawns crun lives in that namespace for the whole run, so crun is not charged for "
              "the `unshare`; crun then sees a pure cgroup v1 host.")
        p = b.p
        a(f"- Bundle: static busybox (Debian's busybox-static) from `scripts/mkbundle.sh`, "
          f"{b.meta['bundle_kb'] / 1024:.1f} MiB rootfs on disk; each runtime with its own `--root` in "
          f"a temporary directory on {fstype(b.state)} (as `/run/<runtime>` is on a systemd host); audit logs "
          f"on {fstype(b.tmp)}. Whole-process wall time, spawn to exit, stdio on a private null device (never the host's `/dev/null`: crun chowns its stdio when the config has a user namespace).")
        a(f"- Samples: `run` {p['run_s']} rounds × {p['run_k']} containers back to back, and "
          f"{p['apart_s']} × {p['apart_k']} with {p['apart_gap'] * 1000:.0f} ms pauses (untimed) between "
          "containers; create/start/delete "
          f"{p['csd_s']} × {p['csd_k']}; `exec` {p['exec_s']} × {p['exec_k']}; RSS "
          f"{p['rss_s']} rounds; `docker run` {p['docker_s']} rounds. A sample is the mean per "
          "container over one round; the tables give the median of the samples.")
        a("")
        if b.hangs:
            a("**Hangs** (a command still running after the worker's timeout was killed with SIGKILL, "
              "its container force-deleted, and its time left out):")
            a("")
            for (n, op), c in sorted(b.hangs.items()):
                tot = b.attempts.get((n, op), b.attempts.get((n, "create/start/delete"), 0))
                known = " (youki 0.7 can wait forever in `sigtimedwait` after its container exits)" if n == "youki" and op == "run" else ""
                a(f"- `{n} {op}`: {c} of {tot}{known}")
            a("")
        if b.flakes:
            a("**Failed commands** (left out; a runtime is taken out of the run at its fourth):")
            a("")
            for (n, op), (c, err) in sorted(b.flakes.items()):
                first = " ".join(err.split())[:160]
                a(f"- `{n} {op}`: {c} (first: `{first}`)")
            a("")
        if b.failures:
            a("**Failures during this run:**")
            a("")
            for f in b.failures:
                a(f"- {' '.join(f.split())[:300]}")
            a("")

        # Times table
        a("### Start-up time (median ms per container)")
        a("")
        ops = [("run", "`run` /bin/true"), ("run-apart", f"`run`, {p['apart_gap'] * 1000:.0f} ms apart"),
               ("create", "create"), ("start", "start"), ("delete", "delete"), ("exec", "`exec` true")]
        a("| runtime | " + " | ".join(t for _, t in ops) + " |")
        a("|---|" + "---:|" * len(ops))
        for n in rts:
            cells = [fmt(b.med(op, n), "", 1) for op, _ in ops]
            a(f"| {n} | " + " | ".join(cells) + " |")
        a("")
        a(f"### Ratios: `{OURS}` ÷ peer (below 1.00× = `{OURS}` is faster / smaller)")
        a("")
        cols = ops + [("rss-run", "peak RSS `run`"), ("rss-exec", "peak RSS `exec`"), ("size", "binary size")]
        a("| peer | " + " | ".join(t for _, t in cols) + " |")
        a("|---|" + "---:|" * len(cols))
        for n in peers:
            cells = []
            for op, _ in cols:
                if op == "size":
                    cells.append(fr(ratio(b.meta["sizes"].get(OURS), b.meta["sizes"].get(n))))
                else:
                    cells.append(fr(ratio(b.med(op, OURS), b.med(op, n))))
            a(f"| {n} | " + " | ".join(cells) + " |")
        a("")
        if any(b.samples.get(("run-hspec", n)) for n in peers):
            a(f"### The same work: peers given the spec our default policy makes (median ms per `run`)")
            a("")
            a("The peers above run the bundle's config as it is (no seccomp filter, three capabilities). "
              f"Here they run the config `{OURS}`'s default policy makes: built-in seccomp filter "
              "(x86_64, x86, x32), no capabilities, read-only root with /tmp and /run tmpfs, 12 masked "
              "paths, pids limit; without its user namespace, which the peers cannot pair with an "
              f"idmapped root filesystem (`{OURS}` does run it: the comparison flatters the peers).")
            a("")
            a(f"| runtime | bundle's config | `{OURS}`'s hardened spec | cost of the hardening | `{OURS}` ÷ peer (same spec) |")
            a("|---|---:|---:|---:|---:|")
            a(f"| {OURS} | – | {fmt(b.med('run', OURS))} | {fr(ratio(b.med('run', OURS), b.med('run', PERM)))} "
              f"(vs permissive) | 1.00× |")
            for n in peers:
                hs = b.med("run-hspec", n)
                if hs is None:
                    continue
                a(f"| {n} | {fmt(b.med('run', n))} | {fmt(hs)} | {fr(ratio(hs, b.med('run', n)))} | "
                  f"{fr(ratio(b.med('run', OURS), hs))} |")
            a("")
        a("### Peak RSS of the runtime process (median MiB, `/usr/bin/time -v`)")
        a("")
        a("`Maximum resident set size` of the process `time` starts: the runtime, and for `run` the "
          "children it waits for itself (the largest of them counts).")
        a("")
        rops = [("rss-run", "run"), ("rss-create", "create"), ("rss-start", "start"),
                ("rss-delete", "delete"), ("rss-exec", "exec")]
        a("| runtime | " + " | ".join(t for _, t in rops) + " | binary |")
        a("|---|" + "---:|" * (len(rops) + 1))
        for n in rts:
            cells = [fmt(b.med(op, n), "", 1) for op, _ in rops]
            a(f"| {n} | " + " | ".join(cells) + f" | {b.meta['sizes'].get(n, 0) / 2**20:.1f} MiB |")
        a("")

        if b.samples.get(("docker-run", "runc")):
            a("### Through Docker: `docker run --rm --network none IMAGE true` (median ms)")
            a("")
            a("| runtime | median | p25–p75 | ÷ runc |")
            a("|---|---:|---:|---:|")
            for n in ("runc", OURS, PERM):
                xs = b.samples.get(("docker-run", n), [])
                a(f"| {n} | {fmt(median(xs))} | {fmt(q(xs, .25))}–{fmt(q(xs, .75))} | "
                  f"{fr(ratio(median(xs), b.med('docker-run', 'runc')))} |")
            a("")
        if b.conc:
            ns = sorted({n for _, n in b.conc})
            a("### Through Docker: N × `docker run -d --network none IMAGE sleep` in parallel, "
              "time until all N are running (median s)")
            a("")
            a("| runtime | " + " | ".join(f"N={n}" for n in ns) + f" | growth N={ns[0]}→{ns[-1]} | ms per container at N={ns[-1]} |")
            a("|---|" + "---:|" * (len(ns) + 2))
            for rt in ("runc", OURS):
                m = [median(b.conc.get((rt, n), [])) for n in ns]
                growth = ratio(m[-1], m[0])
                per = m[-1] / ns[-1] * 1000 if m[-1] else None
                a(f"| {rt} | " + " | ".join(fmt(x, "", 2) for x in m) + f" | {fr(growth)} | {fmt(per)} |")
            m_h = median(b.conc.get((OURS, ns[-1]), []))
            m_r = median(b.conc.get(("runc", ns[-1]), []))
            a(f"| {OURS} ÷ runc | " + " | ".join(
                fr(ratio(median(b.conc.get((OURS, n), [])), median(b.conc.get(("runc", n), []))))
                for n in ns) + f" | | {fr(ratio(m_h, m_r))} |")
            a("")

        a(f"### Hardening overhead: default policy ÷ permissive")
        a("")
        a("| measure | default (ms) | permissive (ms) | overhead |")
        a("|---|---:|---:|---:|")
        for op, t in ops + [("docker-run", "`docker run --rm`")]:
            d, pm = b.med(op, OURS), b.med(op, PERM)
            ov = ratio(d, pm)
            a(f"| {t} | {fmt(d)} | {fmt(pm)} | {'–' if ov is None else f'{(ov - 1) * 100:+.1f}%'} |")
        a("")
        L.extend(self.rootfs_table())

        # Targets
        a("### Targets")
        a("")
        a("| target | measured | met? |")
        a("|---|---:|---|")

        def target(name, val, limit, unit="×"):
            if val is None:
                a(f"| {name} | – | not measured |")
                return
            ok = val <= limit
            shown = f"{val:.2f}×" if unit == "×" else f"{(val - 1) * 100:+.1f}%"
            a(f"| {name} | {shown} | {'**met**' if ok else '**not met**'} |")
            self.targets.append((name, shown, ok))

        self.targets = []
        target("`run` ≤ 0.9× crun (back to back)", ratio(b.med("run", OURS), b.med("run", "crun")), 0.9)
        target("`run` ≤ 0.9× crun (100 ms apart)", ratio(b.med("run-apart", OURS), b.med("run-apart", "crun")), 0.9)
        target("`run` ≤ 0.5× runc (back to back)", ratio(b.med("run", OURS), b.med("run", "runc")), 0.5)
        target("`run` ≤ 0.5× runc (100 ms apart)", ratio(b.med("run-apart", OURS), b.med("run-apart", "runc")), 0.5)
        target("peak RSS (`run`) ≤ crun's", ratio(b.med("rss-run", OURS), b.med("rss-run", "crun")), 1.0)
        target("`docker run` no slower than with runc",
               ratio(b.med("docker-run", OURS), b.med("docker-run", "runc")), 1.0)
        target("hardening overhead ≤ 10% over permissive (`run`)",
               ratio(b.med("run", OURS), b.med("run", PERM)), 1.10, unit="%")
        target("hardening overhead ≤ 10% over permissive (`docker run`)",
               ratio(b.med("docker-run", OURS), b.med("docker-run", PERM)), 1.10, unit="%")
        a("")
        a("![start-up time, RSS and concurrency](img/performance.png)")
        return "\n".join(L) + "\n"

    def plot(self, path):
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            log("matplotlib is not installed: no plot")
            return False
        b = self.b
        rts = [rt.name for rt in b.runtimes]
        colors = {OURS: "#1f77b4", PERM: "#9ecae1", "runc": "#d62728", "crun": "#2ca02c", "youki": "#ff7f0e"}
        fig, axes = plt.subplots(2, 2, figsize=(13, 9))
        ax = axes[0][0]
        ops = ["run", "run-apart", "create", "start", "delete", "exec"]
        w = 0.8 / max(len(rts), 1)
        for i, n in enumerate(rts):
            vals = [b.med(op, n) or 0 for op in ops]
            ax.bar([x + i * w for x in range(len(ops))], vals, w, label=n, color=colors.get(n))
        ax.set_xticks([x + w * (len(rts) - 1) / 2 for x in range(len(ops))])
        ax.set_xticklabels(["run" if o == "run" else "run, apart" if o == "run-apart" else o for o in ops])
        ax.set_ylabel("median ms per container")
        ax.set_title("Start-up time (lower is better)")
        ax.legend(fontsize=8)
        ax = axes[0][1]
        vals = [b.med("rss-run", n) or 0 for n in rts]
        ax.bar(rts, vals, color=[colors.get(n) for n in rts])
        ax.set_ylabel("MiB")
        ax.set_title("Peak RSS of `run` (lower is better)")
        ax.tick_params(axis="x", labelsize=8)
        ax = axes[1][0]
        dn = [n for n in ("runc", OURS, PERM) if b.samples.get(("docker-run", n))]
        if dn:
            ax.boxplot([b.samples[("docker-run", n)] for n in dn])
            ax.set_xticks(range(1, len(dn) + 1))
            ax.set_xticklabels(dn)
            ax.set_ylabel("ms")
        ax.set_title("docker run --rm --network none IMAGE true")
        ax = axes[1][1]
        if b.conc:
            ns = sorted({n for _, n in b.conc})
            for rt in ("runc", OURS):
                ax.plot(ns, [median(b.conc.get((rt, n), [])) or 0 for n in ns], "o-", label=rt, color=colors.get(rt))
            ax.set_ylim(bottom=0)
            ax.set_xlabel("containers started in parallel")
            ax.set_ylabel("s until all running")
            ax.legend()
        ax.set_title("Concurrent docker run -d (lower is better)")
        fig.suptitle(f"hardened vs peers — {platform.release()}, {os.cpu_count()} CPUs, {b.meta['started'][:10]}"
                     + (" (quick run)" if b.quick else ""))
        fig.tight_layout()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fig.savefig(path, dpi=90)
        return True


BEGIN = "<!-- bench/run.sh: results begin (generated, do not edit by hand) -->"
END = "<!-- bench/run.sh: results end -->"
HEADER = """# Performance

Start-up speed and memory of `hardened` side by side with runc, crun and youki, and where the
time goes. The results section is written by `bench/run.sh` (`sudo bench/run.sh`, about four
minutes; `--quick` for CI, which only checks that it runs). The analysis after it is by hand.

"""


def write_md(path, body):
    block = f"{BEGIN}\n## Results\n\n{body}{END}\n"
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    if BEGIN in old and END in old:
        pre, rest = old.split(BEGIN, 1)
        _, post = rest.split(END, 1)
        new = pre + block + ("\n" + post.lstrip("\n") if post.strip() else "")
    else:
        new = HEADER + block + ("\n" + old if old else "")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(new)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--state", default="", help="directory for the state roots (tmpfs, like /run)")
    ap.add_argument("--hardened", required=True)
    ap.add_argument("--runc", required=True)
    ap.add_argument("--crun", default="")
    ap.add_argument("--youki", default="")
    ap.add_argument("--time", default="/usr/bin/time")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-docker", dest="docker", action="store_false")
    ap.add_argument("--no-big", dest="big", action="store_false")
    ap.add_argument("--rootfs-only", action="store_true",
                    help="only section 6b (big vs small rootfs); prints it, writes no document")
    ap.add_argument("--md", required=True)
    ap.add_argument("--png", required=True)
    ap.add_argument("--json", default="")
    a = ap.parse_args()

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)

    b = Bench(a)
    try:
        b.run_all()
    finally:
        b.cleanup()
    if a.rootfs_only:
        print(Report(b).rootfs_markdown())
        if any(rt.name == OURS and rt.error for rt in b.runtimes) or b.failures:
            for f in b.failures:
                log(f"failure: {f}")
            return 1
        return 0
    md, rep = b.report()
    write_md(a.md, md)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"meta": b.meta, "params": b.p, "failures": b.failures,
                       "samples": {f"{k[0]}|{k[1]}": v for k, v in b.samples.items()},
                       "concurrency": {f"{k[0]}|{k[1]}": v for k, v in b.conc.items()}}, f, indent=1)
    try:
        rep.plot(a.png)
    except Exception as e:  # noqa: BLE001 - a plot problem must not lose the numbers
        log(f"plot failed: {e!r}")
    print(md)
    log(f"wrote {a.md} and {a.png}")
    if any(rt.name == OURS and rt.error for rt in b.runtimes):
        return 1
    # A peer taken out of the run leaves the comparison empty: the bench did not do its job.
    out = [rt.name for rt in b.runtimes if rt.error]
    if out:
        log(f"FAILED: taken out of the run after repeated failures: {', '.join(out)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
