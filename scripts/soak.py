#!/usr/bin/env python3
"""Kill-during-create fault suite: the driver behind scripts/soak.sh (read its header first).

Every iteration, for every variant in turn:
  1. write the bundle's config.json with linux.cgroupsPath = /<parent>/<id>, where <parent> is
     this run's own cgroup parent (hardened-soak-<pid>), and assert that path before the call;
  2. start `RUNTIME --root <tmp>/root-<variant> create --bundle B ID` (stdio: files in the temp
     dir), SIGKILL it after a seeded random delay (unless it finished first), record what
     existed at that moment (the phase of create that was hit);
  3. `RUNTIME --root ... delete --force ID` once (under `timeout -k 5 20`);
  4. count what is left, by kind: state dirs, shadow bundles, user-namespace range files, cgroup
     dirs under <parent> in every cgroup and cgroup2 hierarchy, mounts naming the temp dir or the
     id (host mount namespace), processes of the test (see owned_processes), a failed delete;
  5. remove whatever was found (processes, mounts, cgroups, files), and check that it is gone:
     every iteration starts from a clean host, and a leftover is never counted twice.

The pass criteria are counts. The only clocks are the kill delay (which phase is hit), each
command's timeout, and a bounded settle (up to 1 s) for processes that are already exiting.
"""

import argparse
import collections
import ctypes
import datetime
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PR_SET_CHILD_SUBREAPER = 36
TIMEOUT = ["timeout", "-k", "5", "20"]
# Directories a state root holds besides containers' state dirs.
HARDENED_ROOT_EXTRAS = {".seccomp", ".bundles", ".userns"}


def log(msg):
    print(f"[soak] {msg}", file=sys.stderr, flush=True)


def unescape(field):
    """mountinfo escapes space, tab, newline and backslash as octal."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


def cgroup_hierarchies():
    """Every cgroup (v1) and cgroup2 hierarchy mounted in this mount namespace, once each:
    [(name, mountpoint)], from /proc/self/mountinfo (a hierarchy mounted twice counts once)."""
    seen, out = set(), []
    for line in read("/proc/self/mountinfo").splitlines():
        pre, _, post = line.partition(" - ")
        f, p = pre.split(), post.split()
        if len(p) < 3 or p[0] not in ("cgroup", "cgroup2"):
            continue
        dev, root, mnt = f[2], unescape(f[3]), unescape(f[4])
        if root != "/" or dev in seen:
            continue
        seen.add(dev)
        if p[0] == "cgroup2":
            name = "unified"
        else:
            flags = {"rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "clone_children"}
            name = ",".join(o for o in p[2].split(",") if o not in flags) or mnt
        out.append((name, mnt))
    if not out:
        sys.exit("soak: no cgroup hierarchy in /proc/self/mountinfo")
    return out


class Proc:
    __slots__ = ("pid", "ppid", "state", "start", "comm", "cmdline", "cgroups")

    @staticmethod
    def load(pid):
        stat = read(f"/proc/{pid}/stat")
        if not stat:
            return None
        p = Proc()
        p.pid = pid
        p.comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        rest = stat[stat.rindex(")") + 2 :].split()
        p.state, p.ppid, p.start = rest[0], int(rest[1]), int(rest[19])
        p.cmdline = (read(f"/proc/{pid}/cmdline", "rb") or b"").replace(b"\0", b" ").decode(errors="replace").strip()
        p.cgroups = [
            line.split(":", 2)[2] for line in (read(f"/proc/{pid}/cgroup") or "").splitlines() if line.count(":") >= 2
        ]
        return p


def all_procs():
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            p = Proc.load(int(name))
            if p:
                out[p.pid] = p
    return out


class Soak:
    def __init__(self, args):
        self.args = args
        self.me = os.getpid()
        self.parent = f"hardened-soak-{self.me}"
        self.ancestors = self._ancestors()
        self.hier = cgroup_hierarchies()
        self.tmp = None
        self.cleanup_failures = []
        self.unattributed = {}
        self.start_ticks = proc_ticks_now()

    def _ancestors(self):
        out, pid = set(), self.me
        while pid > 1:
            out.add(pid)
            p = Proc.load(pid)
            if not p:
                break
            pid = p.ppid
        return out

    # ---- set-up -----------------------------------------------------------------------------

    def setup(self):
        base = os.environ.get("TMPDIR") or "/tmp"
        self.tmp = tempfile.mkdtemp(prefix="hardened-soak.", dir=base)
        # Searchable by the unprivileged host IDs a container's user namespace maps to.
        os.chmod(self.tmp, 0o711)
        self.btmp = self.tmp.encode()
        bundle = os.path.join(self.tmp, "bundle")
        # Every runtime call gets stdio of its own in the temp dir, never the host's /dev/null or
        # a terminal (a runtime may chown its stdio to the container's root).
        self.stdin = os.path.join(self.tmp, "stdin")
        with open(self.stdin, "w"):
            pass
        os.mkdir(os.path.join(self.tmp, "logs"))
        with open(self.stdin) as stdin, open(os.path.join(self.tmp, "logs", "mkbundle.out"), "w") as out:
            subprocess.run(
                TIMEOUT + [self.args.mkbundle, bundle, "sleep", "3600"],
                check=True,
                stdin=stdin,
                stdout=out,
                env=dict(os.environ, HARDENED=self.args.hardened),
            )
        with open(os.path.join(bundle, "config.json")) as f:
            self.config = json.load(f)
        self.config["root"]["path"] = os.path.join(bundle, "rootfs")
        self.config["process"]["terminal"] = False
        self.config.setdefault("linux", {})
        self.bundle = bundle
        self.variants = []
        for v in self.args.variants:
            root = os.path.join(self.tmp, f"root-{v}")
            if v == "runc":
                create = lambda r, b, i: ["runc", "--root", r, "create", "--bundle", b, i]
                delete = lambda r, i: ["runc", "--root", r, "delete", "--force", i]
                label = "runc " + runc_version() + " (the same config.json, no hardening)"
            else:
                policy = os.path.join(self.tmp, f"policy-{v}.toml")
                with open(policy, "w") as f:
                    f.write(f'audit_log = "{self.tmp}/audit-{v}.log"\n')
                    if v == "permissive":
                        f.write('mode = "permissive"\n')
                h = self.args.hardened
                create = lambda r, b, i, h=h, p=policy: [h, "--root", r, "--policy", p, "create", "--bundle", b, i]
                delete = lambda r, i, h=h, p=policy: [h, "--root", r, "--policy", p, "delete", "--force", i]
                label = {
                    "default": "hardened, default policy (user namespace, idmapped root)",
                    "permissive": 'hardened, mode = "permissive" (no hardening)',
                }[v]
            self.variants.append(Variant(v, label, root, create, delete, self.args))
        # Orphans of a killed create are reparented to us, as they are to containerd's shim (a
        # subreaper too): what is left can be told from the rest of the machine exactly.
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            sys.exit("soak: prctl(PR_SET_CHILD_SUBREAPER) failed")
        # The driver runs in the host's mount namespace: the runtimes' own namespaces die with
        # their processes (counted as processes), what they leave in the host's is seen here.
        self.host_mntns = ["/proc/self/mountinfo"]

    # ---- safety -----------------------------------------------------------------------------

    def cgroups_path(self, cid):
        return f"/{self.parent}/{cid}"

    def assert_cgroups_path(self, path, cid):
        """The only cgroup path a runtime of this test is ever given: two plain components under
        the test's own parent. Anything else stops the run before a runtime sees it."""
        parts = path.split("/") if isinstance(path, str) else None
        ok = (
            parts is not None
            and path == self.cgroups_path(cid)
            and len(parts) == 3
            and parts[0] == ""
            and parts[1] == self.parent
            and parts[2] == cid
            and all(x not in ("", ".", "..") for x in parts[1:])
            and os.path.normpath(path) == path
            and "\0" not in path
        )
        if not ok:
            raise SystemExit(f"soak: SAFETY: refusing to run a runtime with cgroupsPath {path!r}")

    def assert_state_cgroups(self, v, cid):
        """Before delete --force: every cgroup path the runtime recorded for the container is the
        one the test gave (hardened/libcontainer: youki_config.json; runc: state.json)."""
        d = os.path.join(v.root, cid)
        if v.name == "runc":
            raw = read(os.path.join(d, "state.json"))
            try:
                st = json.loads(raw) if raw else None
            except ValueError:
                st = None
            if not st:
                return
            paths = list((st.get("cgroup_paths") or {}).values())
            cfg = (((st.get("config") or {}).get("cgroups")) or {}).get("path")
            if cfg is not None:
                self.assert_cgroups_path(cfg, cid)
            for p in paths:
                if not any(p == os.path.join(m, self.parent, cid) for _, m in self.hier):
                    raise SystemExit(f"soak: SAFETY: runc recorded cgroup {p!r}: no delete --force")
        else:
            raw = read(os.path.join(d, "youki_config.json"))
            try:
                yc = json.loads(raw) if raw else None
            except ValueError:
                yc = None
            if yc is not None:
                self.assert_cgroups_path(yc.get("cgroup_path"), cid)

    # ---- observation ------------------------------------------------------------------------

    def owned_processes(self, procs, cid):
        """Processes of this test: orphans reparented to this subreaper and their descendants,
        anything in a cgroup under the test's parent, anything whose command line names the temp
        dir or the id (libcontainer's processes are forks of `hardened create`). Never this
        driver or its ancestors."""
        owned = set()
        for p in procs.values():
            if p.pid in self.ancestors:
                continue
            # The syscall hints daemon serves every container of the host and leaves 2 s after
            # the last one (integration/hints.rs checks that it does): not one container's.
            if "__syscall-hints" in p.cmdline.split():
                continue
            if (
                p.ppid == self.me
                or any(c == "/" + self.parent or c.startswith("/" + self.parent + "/") for c in p.cgroups)
                or (self.tmp is not None and self.tmp in p.cmdline)
                or cid in p.cmdline.split()
            ):
                owned.add(p.pid)
        changed = True
        while changed:
            changed = False
            for p in procs.values():
                if p.pid not in owned and p.ppid in owned and p.pid not in self.ancestors:
                    owned.add(p.pid)
                    changed = True
        return {pid: procs[pid] for pid in owned}

    def note_unattributed(self, procs, owned):
        """Runtime-looking processes whose parent is 1 and that started during this run but
        carry no sign of the test: reported (another test on the machine?), never touched."""
        for p in procs.values():
            if p.pid in owned or p.ppid != 1 or p.start < self.start_ticks:
                continue
            if p.comm.startswith("youki:") or p.cmdline.startswith("runc init"):
                self.unattributed[(p.pid, p.start)] = p

    def reap(self):
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def live(self, cid):
        self.reap()
        procs = all_procs()
        owned = self.owned_processes(procs, cid)
        self.note_unattributed(procs, owned)
        return procs, {pid: p for pid, p in owned.items() if p.state not in ("Z", "X")}

    def cgroup_dirs(self):
        """Directories under the test's parent in every hierarchy (the parent itself excluded)."""
        out = []
        for name, mnt in self.hier:
            top = os.path.join(mnt, self.parent)
            for dirpath, dirnames, _ in os.walk(top):
                for d in dirnames:
                    out.append((name, os.path.join(dirpath, d)))
        return out

    def mounts(self, cid):
        out = []
        for src in self.host_mntns:
            for line in (read(src) or "").splitlines():
                text = unescape(line)
                if self.tmp in text or cid in text.split() or f"/{cid}/" in text or text.endswith(f"/{cid}"):
                    out.append((src, line))
        return out

    def files(self, v, cid):
        """(state dirs, shadow bundles, range files) under the variant's state root."""
        state, shadows, ranges = [], [], []
        if os.path.isdir(v.root):
            for e in sorted(os.listdir(v.root)):
                if v.name != "runc" and e in HARDENED_ROOT_EXTRAS:
                    continue
                state.append(os.path.join(v.root, e))
        b = os.path.join(v.root, ".bundles")
        if v.name != "runc" and os.path.isdir(b):
            shadows = [os.path.join(b, e) for e in sorted(os.listdir(b))]
        u = os.path.join(v.root, ".userns")
        if v.name != "runc" and os.path.isdir(u):
            for dirpath, dirnames, filenames in os.walk(u):
                for fn in filenames:
                    path = os.path.join(dirpath, fn)
                    owner = (read(path) or "").strip()
                    ranges.append(f"{os.path.relpath(path, v.root)} (owner {owner!r})")
        return state, shadows, ranges

    def phase(self, v, cid, finished, rc):
        """What existed right after the kill: which phase of create was hit."""
        if finished:
            return f"create had exited ({'ok' if rc == 0 else 'rc=' + str(rc)})"
        parts = []
        _, shadows, ranges = self.files(v, cid)
        if ranges:
            parts.append("range" if any(f"'{cid}'" in r for r in ranges) else "ownerless range")
        if shadows:
            parts.append("shadow bundle")
        d = os.path.join(v.root, cid)
        if os.path.isdir(d):
            raw = read(os.path.join(d, "state.json"))
            try:
                status = json.loads(raw).get("status") if raw else "no state.json"
            except ValueError:
                status = "unreadable state.json"
            parts.append(f"state dir ({status})")
        n = sum(1 for _, m in self.hier if os.path.isdir(os.path.join(m, self.parent, cid)))
        if n:
            parts.append(f"cgroup x{n}")
        _, owned = self.live(cid)
        if owned:
            parts.append("procs " + ",".join(sorted(p.comm for p in owned.values())))
        return "killed: " + (" + ".join(parts) if parts else "nothing yet")

    # ---- cleanup ----------------------------------------------------------------------------

    def thaw(self):
        for name, mnt in self.hier:
            if "freezer" not in name.split(","):
                continue
            for dirpath, _, files in os.walk(os.path.join(mnt, self.parent)):
                if "freezer.state" in files:
                    try:
                        with open(os.path.join(dirpath, "freezer.state"), "w") as f:
                            f.write("THAWED")
                    except OSError:
                        pass

    def kill_owned(self, cid, rounds=20):
        for _ in range(rounds):
            _, owned = self.live(cid)
            if not owned:
                return True
            self.thaw()
            for p in owned.values():
                again = Proc.load(p.pid)
                # The same process (pid and start time), still ours.
                if again and again.start == p.start and again.pid in self.owned_processes({p.pid: again}, cid):
                    try:
                        os.kill(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            time.sleep(0.05)
        return not self.live(cid)[1]

    def umount(self, cid):
        for src, line in self.mounts(cid):
            pre = line.partition(" - ")[0].split()
            mnt = unescape(pre[4])
            if mnt.startswith(self.tmp + "/") or mnt == self.tmp:
                subprocess.run(TIMEOUT + ["umount", "-l", mnt], capture_output=True)
            else:
                self.cleanup_failures.append(f"mount not under the temp dir, left in place: {line}")

    def rm_cgroups(self, keep_parent=True):
        for _ in range(10):
            dirs = self.cgroup_dirs()
            if not keep_parent:
                dirs += [(n, os.path.join(m, self.parent)) for n, m in self.hier if os.path.isdir(os.path.join(m, self.parent))]
            if not dirs:
                return True
            for _, d in sorted(dirs, key=lambda x: -x[1].count("/")):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
            if not (self.cgroup_dirs() or (not keep_parent and any(os.path.isdir(os.path.join(m, self.parent)) for _, m in self.hier))):
                return True
            time.sleep(0.05)
        return False

    def clean(self, v, cid):
        self.kill_owned(cid)
        self.umount(cid)
        self.rm_cgroups()
        state, shadows, ranges = self.files(v, cid)
        for p in state + shadows:
            shutil.rmtree(p, ignore_errors=True) if os.path.isdir(p) else os.unlink(p)
        if ranges:
            shutil.rmtree(os.path.join(v.root, ".userns"), ignore_errors=True)

    # ---- one iteration ----------------------------------------------------------------------

    def iteration(self, v, i):
        cid = f"soak{self.me}-{v.name}-{i}"
        delay = v.rng.uniform(self.args.min_delay, self.args.max_delay) / 1000.0
        cfg = json.loads(json.dumps(self.config))
        cfg["linux"]["cgroupsPath"] = self.cgroups_path(cid)
        self.assert_cgroups_path(cfg["linux"]["cgroupsPath"], cid)
        cfg_path = os.path.join(self.bundle, "config.json")
        with open(cfg_path + ".new", "w") as f:
            json.dump(cfg, f)
        os.replace(cfg_path + ".new", cfg_path)
        # What the runtime will read, read back.
        with open(cfg_path) as f:
            self.assert_cgroups_path(json.load(f)["linux"]["cgroupsPath"], cid)

        env = dict(os.environ)
        env.pop("HARDENED_POLICY", None)
        out_path = os.path.join(self.tmp, "logs", f"{v.name}.create.out")
        with open(self.stdin) as stdin, open(out_path, "w") as out:
            t0 = time.monotonic()
            proc = subprocess.Popen(
                v.create(v.root, self.bundle, cid),
                stdin=stdin, stdout=out, stderr=out, env=env, start_new_session=True, close_fds=True,
            )
            pause = t0 + delay - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            finished = proc.poll() is not None
            if not finished:
                os.kill(proc.pid, signal.SIGKILL)
            try:
                rc = proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                raise SystemExit(f"soak: {cid}: create did not die 20 s after SIGKILL")
        create_msg = ""
        if finished and rc != 0:
            create_msg = (read(out_path) or "").strip().splitlines()[-1:] or [""]
            create_msg = create_msg[0][:300]
        phase = self.phase(v, cid, finished, rc)
        v.phases[phase] += 1
        if finished:
            v.first_finished = min(v.first_finished, delay)
        else:
            v.last_running = max(v.last_running, delay)

        self.assert_state_cgroups(v, cid)
        with open(self.stdin) as stdin:
            d = subprocess.run(
                TIMEOUT + v.delete(v.root, cid),
                stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
            )
        left = collections.OrderedDict()
        if d.returncode != 0:
            msg = d.stdout.decode(errors="replace").strip().splitlines()
            kind = "delete timed out" if d.returncode in (124, 137) else "delete --force failed"
            left[kind] = [f"rc={d.returncode}: {msg[-1][:300] if msg else ''}"]

        # Processes already exiting (SIGKILLed by the delete) get up to 1 s to go.
        for _ in range(10):
            _, owned = self.live(cid)
            if not owned:
                break
            time.sleep(0.1)
        procs, owned = self.live(cid)
        state, shadows, ranges = self.files(v, cid)
        cg = self.cgroup_dirs()
        mounts = self.mounts(cid)
        if state:
            left["state dirs"] = [os.path.relpath(s, v.root) for s in state]
        if shadows:
            left["shadow bundles"] = [os.path.relpath(s, v.root) for s in shadows]
        if ranges:
            left["userns ranges"] = ranges
        if cg:
            left["cgroup dirs"] = [f"{n}:{os.path.relpath(p, m)}" for (n, p), (_, m) in
                                   ((c, next(h for h in self.hier if h[0] == c[0])) for c in cg)]
        if mounts:
            left["mounts"] = [f"{src}: {line}" for src, line in mounts]
        if owned:
            left["processes"] = [describe(p, procs, self.me) for p in owned.values()]

        for kind, items in left.items():
            v.count(kind, items)
        if left:
            v.dirty += 1
            log(f"{v.name} #{i} ({cid}, kill at {delay * 1000:.1f} ms, {phase}"
                f"{': ' + create_msg if create_msg else ''}):")
            for kind, items in left.items():
                log(f"    {kind}: {'; '.join(items)}")
            v.examples.append({"iteration": i, "id": cid, "delay_ms": round(delay * 1000, 2),
                               "create": "exited" if finished else "killed", "create_rc": rc, "phase": phase,
                               "left": left})
        self.clean(v, cid)
        # Every iteration starts clean: if this one cannot be cleaned, stop.
        _, owned = self.live(cid)
        state, shadows, ranges = self.files(v, cid)
        rest = [x for x in (owned, state, shadows, ranges, self.cgroup_dirs(), self.mounts(cid)) if x]
        if rest:
            raise SystemExit(f"soak: {cid}: could not clean up what was left: {rest}")

    # ---- the run ----------------------------------------------------------------------------

    def run(self):
        for v in self.variants:
            v.rng = random.Random(f"{self.args.seed}:{v.name}")
        n = self.args.iterations
        for i in range(n):
            for v in self.variants:
                self.iteration(v, i)
            if (i + 1) % 50 == 0 or i + 1 == n:
                log(f"{i + 1}/{n}: " + ", ".join(f"{v.name} {v.dirty} with leftovers" for v in self.variants))

    def teardown(self):
        # Whatever is still ours: processes, mounts, cgroups (the parent too), files.
        self.kill_owned("\0none\0")
        if self.tmp:
            self.umount("\0none\0")
        if not self.rm_cgroups(keep_parent=False):
            self.cleanup_failures.append(f"cgroup parent {self.parent} not removed: {self.cgroup_dirs()}")
        if self.tmp and not self.args.keep:
            subprocess.run(["rm", "-rf", "--one-file-system", self.tmp])
        elif self.tmp:
            log(f"kept {self.tmp}")


class Variant:
    def __init__(self, name, label, root, create, delete, args):
        self.name, self.label, self.root, self.create, self.delete = name, label, root, create, delete
        self.phases = collections.Counter()
        self.iters = collections.Counter()  # kind -> iterations with that kind
        self.items = collections.Counter()  # kind -> items left
        self.what = collections.defaultdict(collections.Counter)  # kind -> item summary -> count
        self.dirty = 0
        self.first_finished, self.last_running = float("inf"), 0.0
        self.examples = []
        self.rng = None

    def count(self, kind, items):
        self.iters[kind] += 1
        self.items[kind] += len(items)
        for it in items:
            self.what[kind][summarise(kind, it)] += 1


KINDS = ["state dirs", "shadow bundles", "userns ranges", "cgroup dirs", "mounts", "processes",
         "delete --force failed", "delete timed out"]


def summarise(kind, item):
    """A leftover item without its per-iteration names (ids, pids), to group alike ones."""
    import re
    s = re.sub(r"soak\d+-[a-z]+-\d+", "ID", item)
    s = re.sub(r"\b\d+\b", "N", s) if kind in ("processes", "userns ranges") else s
    if kind == "cgroup dirs":
        s = s.split(":", 1)[0]
    return s[:200]


def describe(p, procs, me):
    parent = procs.get(p.ppid)
    pname = "this driver (subreaper: the killed create's orphans land here)" if p.ppid == me else (
        f"{parent.comm}" if parent else "?")
    wchan = (read(f"/proc/{p.pid}/wchan") or "?").strip() or "-"
    return f"pid {p.pid} {p.comm!r} state {p.state} wchan {wchan} parent {p.ppid} ({pname})"


def proc_ticks_now():
    """Now, in the clock of /proc/PID/stat's start time (ticks since boot)."""
    up = float(read("/proc/uptime").split()[0])
    return int(up * os.sysconf("SC_CLK_TCK")) - 1


def runc_version():
    try:
        out = subprocess.run(TIMEOUT + ["runc", "--version"], stdin=subprocess.PIPE, capture_output=True,
                             text=True).stdout
        return out.split()[2]
    except Exception:
        return "?"


def binary_commit(binary):
    """The commit `hardened --version` names (recorded when the binary was built)."""
    try:
        out = subprocess.run(TIMEOUT + [binary, "--version"], stdin=subprocess.PIPE, capture_output=True,
                             text=True).stdout
        return next((line.split()[1][:7] for line in out.splitlines() if line.startswith("commit:")), "?")
    except Exception:
        return "?"


def git_head(repo):
    try:
        h = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return h + ("+dirty" if dirty else "")
    except Exception:
        return "?"


def report(soak, args):
    lines = []
    for v in soak.variants:
        n = args.iterations
        lines.append(f"== {v.name}: {v.label}")
        lines.append(f"   {n} iterations, seed {args.seed}, SIGKILL at {args.min_delay:g}-{args.max_delay:g} ms; "
                     f"{v.dirty} left something")
        span = (f"earliest kill that found create finished: {v.first_finished * 1000:.1f} ms" if v.first_finished < 1e9
                else "no create finished before its kill") + (
                f"; latest that found it running: {v.last_running * 1000:.1f} ms" if v.last_running else "")
        lines.append(f"   {span}")
        lines.append("   phase hit (what existed right after the kill, before delete --force):")
        for ph, c in sorted(v.phases.items(), key=lambda x: -x[1]):
            lines.append(f"     {c:5d}  {ph}")
        for kind in KINDS:
            it, items = v.iters[kind], v.items[kind]
            what = "; ".join(f"{c}x {w}" for w, c in v.what[kind].most_common(4))
            lines.append(f"   {kind + ':':23s}{it:5d} of {n} iterations" + (f", {items} in all ({what})" if it else ""))
    # Seen during the run and still there at its end (another test's containers come and go).
    lasting = [p for p in soak.unattributed.values()
               if (q := Proc.load(p.pid)) and q.start == p.start and q.state not in ("Z", "X")]
    if lasting:
        lines.append("runtime processes with parent 1, started during the run, still alive at its end, with no "
                     "sign of this test (another test on the machine?): left alone, not counted:")
        for p in lasting:
            lines.append(f"     pid {p.pid} {p.comm!r} {p.cmdline[:120]!r}")
    return "\n".join(lines)


def markdown(soak, args, when, commit):
    rows = ["| leftover after one `delete --force` | " + " | ".join(v.name for v in soak.variants) + " |",
            "| --- |" + " --- |" * len(soak.variants)]
    for kind in KINDS:
        cells = []
        for v in soak.variants:
            it = v.iters[kind]
            cells.append(f"{it} ({v.items[kind]})" if it and v.items[kind] != it else str(it))
        rows.append(f"| {kind} | " + " | ".join(cells) + " |")
    rows.append("| **iterations with any leftover** | " + " | ".join(f"**{v.dirty}**" for v in soak.variants) + " |")
    head = (f"{args.iterations} iterations per column, seed {args.seed}, SIGKILL at {args.min_delay:g}-{args.max_delay:g} ms, "
            f"measured {when}, hardened at commit `{commit}`, columns interleaved in one run. "
            "A cell is the number of iterations that left that kind (items in all, when more).")
    return head + "\n\n" + "\n".join(rows) + "\n"


def main():
    ap = argparse.ArgumentParser(description="kill-during-create fault suite (see scripts/soak.sh)")
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runtime", choices=["hardened", "runc", "all"], default="hardened")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min-delay", type=float, default=1.0, help="ms")
    ap.add_argument("--max-delay", type=float, default=40.0, help="ms")
    ap.add_argument("--hardened", required=True)
    ap.add_argument("--mkbundle", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.iterations = 50
    if not 0 < args.iterations <= 100000:
        sys.exit("soak: --iterations must be 1..100000")
    if not 0 <= args.min_delay <= args.max_delay <= 10000:
        sys.exit("soak: need 0 <= --min-delay <= --max-delay <= 10000")
    args.variants = {"hardened": ["default", "permissive"], "runc": ["runc"],
                     "all": ["default", "permissive", "runc"]}[args.runtime]
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = binary_commit(args.hardened)
    tree = git_head(args.repo)
    if not tree.startswith(commit):
        commit = f"{commit} (binary's --version; the tree is at {tree})"

    soak = Soak(args)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    status = 0
    try:
        soak.setup()
        log(f"temp dir {soak.tmp}, cgroup parent /{soak.parent} in {len(soak.hier)} hierarchies "
            f"({', '.join(n for n, _ in soak.hier)}), {args.iterations} iterations of {', '.join(args.variants)}")
        soak.run()
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        status = 130
    finally:
        soak.teardown()
    if status:
        return status
    print(f"soak: {when}, hardened {commit}, {os.uname().release}")
    print(report(soak, args))
    if soak.cleanup_failures:
        print("soak: CLEANUP FAILED: " + "; ".join(soak.cleanup_failures))
        status = 3
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(soak, args, when, commit))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"when": when, "commit": commit, "seed": args.seed, "iterations": args.iterations,
                       "delay_ms": [args.min_delay, args.max_delay],
                       "variants": {v.name: {"label": v.label, "dirty": v.dirty, "phases": v.phases,
                                             "iterations_with": v.iters, "items": v.items,
                                             "examples": v.examples} for v in soak.variants}},
                      f, indent=1)
    # Judged: hardened's variants (runc alone when it is the only runtime measured).
    judged = [v for v in soak.variants if v.name != "runc"] or soak.variants
    if any(v.dirty for v in judged):
        status = status or 1
    return status


if __name__ == "__main__":
    sys.exit(main())
