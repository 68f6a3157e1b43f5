#!/usr/bin/env python3
"""CPU time of `hardened run` by component, from `perf script` call chains (bench/profile.sh).

    perf script -F comm,pid,ip,sym,dso ... | perfsplit.py --runs N --freq HZ

Each sample is charged to the first component (in the order below) whose pattern matches one of
its frames; a second table charges cross-cutting mechanisms (procfs handles, mountinfo parsing,
JSON) wherever they are called from. ms per run = samples / freq / runs (cpu-clock sampling).
"""
import argparse
import re
import sys

SECCOMP_KERNEL = {"__x64_sys_seccomp", "do_seccomp", "seccomp_set_mode_filter", "bpf_prog_create_from_user",
                  "bpf_convert_filter", "do_jit", "bpf_int_jit_compile", "seccomp_check_filter", "bpf_check_classic"}
NS_KERNEL = {"ksys_unshare", "__x64_sys_unshare", "create_new_namespaces", "copy_net_ns", "copy_mnt_ns",
             "unshare_nsproxy_namespaces", "copy_namespaces"}

COMPONENTS = [
    ("seccomp filter: libseccomp rule building + BPF generation, kernel filter check + JIT (init)",
     lambda fr, comm: any("libseccomp" in d or "initialize_seccomp" in s or s in SECCOMP_KERNEL for s, d in fr)),
    ("kernel: new namespaces (net, mnt, pid, ipc, uts, cgroup), as for every runtime",
     lambda fr, comm: any(s in NS_KERNEL for s, _ in fr)),
    ("cgroup v1 manager: per-subsystem mount lookups, mkdir, attach, limits (libcgroups)",
     lambda fr, comm: any("libcgroups::" in s for s, _ in fr)),
    ("rootfs: the 9 cgroup v1 mounts of /sys/fs/cgroup (mount_cgroup_v1)",
     lambda fr, comm: any("mount_cgroup_v1" in s or "setup_namespaced_subsystem" in s for s, _ in fr)),
    ("rootfs: other mounts, devices, pivot_root (libcontainer::rootfs)",
     lambda fr, comm: any("libcontainer::rootfs" in s for s, _ in fr)),
    ("init after rootfs: masked/read-only paths, capabilities, hostname, rlimits (container_init_process)",
     lambda fr, comm: any("container_init_process" in s for s, _ in fr)),
    ("CVE-2019-5736 seal (hardened::sealed)",
     lambda fr, comm: any("hardened::sealed" in s for s, _ in fr)),
    ("policy load + evaluation, audit log, shadow bundle (hardened::policy/pipeline/audit/bundle)",
     lambda fr, comm: any(re.search(r"hardened::(policy|pipeline|audit|bundle|seccomp)", s) for s, _ in fr)),
    ("container delete (libcontainer delete: cgroups, state dir)",
     lambda fr, comm: any("container_delete" in s or ">::delete" in s for s, _ in fr)),
    ("libcontainer create in the runtime: state dir, config copy, notify socket, fork",
     lambda fr, comm: any("builder_impl" in s or "ContainerBuilder" in s or "container_main_process" in s
                          or "container_intermediate_process" in s for s, _ in fr)),
    ("CLI parse, logging set-up (clap, tracing)",
     lambda fr, comm: any(re.search(r"\bclap|tracing|hardened::logging|hardened::cli", s) for s, _ in fr)),
    ("dynamic loader (ld.so: mapping, relocations), twice per run because of the re-exec",
     lambda fr, comm: any("ld-linux" in d for _, d in fr)),
    ("kernel exec (runtime, re-exec, container program)",
     lambda fr, comm: any(s in ("do_execveat_common.isra.0", "bprm_execve", "do_execveat_common") for s, _ in fr)),
    ("kernel process exit, address-space teardown",
     lambda fr, comm: any(s in ("do_exit", "do_group_exit", "exit_mmap", "mmput") for s, _ in fr)),
    ("kernel fork/clone",
     lambda fr, comm: any(s in ("copy_process", "kernel_clone") for s, _ in fr)),
    ("the container's program (busybox true)", lambda fr, comm: comm == "true"),
    ("benchmark loop (sh, seq): not the runtime", lambda fr, comm: comm in ("loop", "sh", "seq", "dash")),
    ("other: hardened main/glue", lambda fr, comm: any("hardened" in d for _, d in fr)),
    ("other kernel", lambda fr, comm: all("kernel" in d for _, d in fr)),
    ("other user space (libc frames DWARF unwinding could not place; in init mostly malloc and "
     "strcmp, i.e. libseccomp's name lookups)", lambda fr, comm: True),
]

MECHANISMS = [
    ("pathrs procfs handles (ProcfsHandleBuilder::build: a private procfs per lookup)",
     lambda fr: any("ProcfsHandleBuilder" in s for s, _ in fr)),
    ("pathrs path resolution/verification (pathrs::, excluding the above)",
     lambda fr: any(s.startswith("pathrs::") for s, _ in fr)),
    ("kernel: generating /proc/*/mountinfo (show_mountinfo)",
     lambda fr: any(s in ("show_mountinfo", "show_mountinfo.part.0") for s, _ in fr)),
    ("kernel: page faults", lambda fr: any(s == "exc_page_fault" for s, _ in fr)),
    ("kernel: mount syscalls (fsopen/fsconfig/fsmount/move_mount/mount)",
     lambda fr: any(re.match(r"__x64_sys_(fsopen|fsconfig|fsmount|move_mount|mount|mount_setattr|open_tree|umount)", s)
                    for s, _ in fr)),
    ("serde_json (config.json, state.json, audit, shadow bundle)", lambda fr: any("serde_json" in s for s, _ in fr)),
    ("malloc/free", lambda fr: any(s in ("malloc", "free", "_int_malloc", "_int_free", "cfree@GLIBC_2.2.5",
                                         "__libc_calloc", "realloc", "_int_realloc") for s, _ in fr[:3])),
]


def samples(stream):
    comm, frames = None, []
    for line in stream:
        if not line.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
            continue
        if not line[0].isspace():
            parts = line.split()
            comm = " ".join(parts[:-1]) if len(parts) > 1 else parts[0]
            frames = []
            continue
        m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
        if m:
            frames.append((m.group(1), m.group(2)))
    if comm is not None:
        yield comm, frames


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--freq", type=float, required=True)
    a = ap.parse_args()
    comp = [0] * len(COMPONENTS)
    mech = [0] * len(MECHANISMS)
    total = 0
    for comm, fr in samples(sys.stdin):
        total += 1
        for i, (_, f) in enumerate(COMPONENTS):
            if f(fr, comm):
                comp[i] += 1
                break
        for i, (_, f) in enumerate(MECHANISMS):
            if f(fr):
                mech[i] += 1
    if not total:
        print("no samples")
        return
    per = lambda c: c / a.freq / a.runs * 1000
    print(f"CPU per run: {per(total):.1f} ms ({total} samples, {a.runs} runs, {a.freq:.0f} Hz)\n")
    print("| component (first match, in this order) | CPU ms per run | share |")
    print("|---|---:|---:|")
    for (name, _), c in sorted(zip(COMPONENTS, comp), key=lambda x: -x[1]):
        if c:
            print(f"| {name} | {per(c):.1f} | {c / total * 100:.0f}% |")
    print()
    print("| mechanism (wherever it is called from) | CPU ms per run | share |")
    print("|---|---:|---:|")
    for (name, _), c in zip(MECHANISMS, mech):
        print(f"| {name} | {per(c):.1f} | {c / total * 100:.0f}% |")


if __name__ == "__main__":
    main()
