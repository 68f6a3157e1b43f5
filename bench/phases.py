#!/usr/bin/env python3
"""Split an `strace -f -tt -T` trace of one `hardened run` into phases (bench/profile.sh).

    phases.py TRACE [--json]

The trace should be taken with a filter of marker syscalls and --seccomp-bpf, so that the
syscalls in between run at full speed and the phase lengths are close to the real ones:

    strace -f --seccomp-bpf -tt -T -e trace=execve,execveat,fsopen,clone,clone3,pivot_root,\
seccomp,exit_group,mkdir,symlink,write,wait4,rt_sigtimedwait -o TRACE hardened run ...

Phases are found in order by marker (first match at or after the previous marker).
"""
import json
import re
import sys

LINE = re.compile(r"^(\d+)\s+(\d\d):(\d\d):(\d\d\.\d+)\s+(.*)$")

# (phase that ENDS at this marker, regex of the marker line, "start" or "end" of that syscall)
MARKERS = [
    ("process start → seal begins (runtime start-up, CLI parse, policy file, logging)",
     r'fsopen\("overlay"', "start"),
    ("CVE-2019-5736 seal: overlay mount, close, execveat of the sealed binary",
     r"execveat\(", "end"),
    ("re-executed binary start-up → shadow bundle written (policy load again, config.json, "
     "policy evaluation, audit log, shadow bundle)", r"symlink\(.*/bundle\"", "end"),
    ("libcontainer create in the runtime: state dir, youki_config.json, notify socket → fork of "
     "the intermediate process", r"clone3?\(", "end"),
    ("intermediate process: cgroups (mkdir + attach in every v1 hierarchy), resources, "
     "unshare(PID) → fork of init", r"clone3?\(.*CLONE_PARENT", "end"),
    ("init: namespaces, rootfs mounts (each checked through procfs) → pivot_root",
     r"pivot_root\(", "end"),
    ("init: after pivot_root: masked / read-only paths, devices, hostname, caps, rlimits → "
     "seccomp feature probes", r"seccomp\(SECCOMP_SET_MODE_STRICT|seccomp\(SECCOMP_GET", "start"),
    ("init: seccomp filter built (libseccomp) and loaded", r"seccomp\(SECCOMP_SET_MODE_FILTER, \d+, \{len=",
     "end"),
    ("start handshake → execve of the container's program", r'execve\("[^"]*", \[.*\) = 0', "end"),
    ("the container's program runs and exits", r"exit_group\(", "start"),
    ("reap + delete (cgroups, state dir, shadow bundle) → runtime exits", r"\+\+\+ exited", "last"),
]


def parse(path):
    events = []  # (t, pid, text, dur)
    pending = {}
    with open(path) as f:
        for raw in f:
            m = LINE.match(raw.rstrip("\n"))
            if not m:
                continue
            pid, hh, mm, ss, text = m.groups()
            t = int(hh) * 3600 + int(mm) * 60 + float(ss)
            dur = 0.0
            d = re.search(r"<(\d+\.\d+)>$", text)
            if d:
                dur = float(d.group(1))
            if text.endswith("<unfinished ...>"):
                pending[pid] = (t, text)
                continue
            if "resumed>" in text and pid in pending:
                t0, first = pending.pop(pid)
                text = first.replace("<unfinished ...>", "") + text.split("resumed>", 1)[1]
                dur = dur or (t - t0)
                t = t0
            events.append((t, int(pid), text, dur))
    events.sort(key=lambda e: e[0])
    return events


def phases(events):
    if not events:
        return [], 0.0
    t_prev = events[0][0]
    t_end = max(e[0] + e[3] for e in events)
    start_i = 0
    out = []
    first_pid = events[0][1]
    for label, rx, where in MARKERS:
        r = re.compile(rx)
        hit = None
        if where == "last":
            hits = [e for e in events if e[1] == first_pid and r.search(e[2])]
            hit = hits[-1] if hits else None
        else:
            for i in range(start_i, len(events)):
                if r.search(events[i][2]):
                    hit, start_i = events[i], i + 1
                    break
        if hit is None:
            out.append((label, None))
            continue
        t = hit[0] + (hit[3] if where == "end" else 0.0)
        out.append((label, (t - t_prev) * 1000))
        t_prev = t
    return out, (t_end - events[0][0]) * 1000


def main():
    path = sys.argv[1]
    evs = parse(path)
    ph, total = phases(evs)
    if "--json" in sys.argv:
        json.dump({"total_ms": total, "phases": ph}, sys.stdout, indent=1)
        return
    print("| phase | ms | share |")
    print("|---|---:|---:|")
    for label, ms in ph:
        if ms is None:
            print(f"| {label} | (marker not found) | |")
        else:
            print(f"| {label} | {ms:.1f} | {ms / total * 100:.0f}% |")
    print(f"| **total** | **{total:.1f}** | |")
    # The slowest single syscalls (blocking ones: waits, cgroup attach, mount release).
    slow = sorted(evs, key=lambda e: -e[3])[:8]
    print()
    print("Slowest traced syscalls: " + "; ".join(
        f"{e[2].split('(')[0]}({e[2].split('(', 1)[1][:50]}…) {e[3] * 1000:.1f} ms" for e in slow if e[3] > 0.0005))


if __name__ == "__main__":
    main()
