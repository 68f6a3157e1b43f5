#!/usr/bin/env python3
"""What building a container's seccomp filter with libseccomp costs (bench/profile.sh).

    seccomp_cost.py CONFIG.json [--runs N] [--arches all|native] [--export FILE]

Builds the filter of CONFIG.json's linux.seccomp the way libcontainer 0.7's initialize_seccomp
does (seccomp_init, one seccomp_arch_add per architecture, one seccomp_rule_add_array per
syscall name, separate rules for repeated argument indexes), then generates the BPF program
(seccomp_export_bpf, the same generator seccomp_load uses), N times, and prints the median CPU ms
of each step and the program length. Nothing is loaded into the kernel. --export writes the BPF
program: what a cache of compiled filters would store and load with one seccomp() call.
Run it under `valgrind --tool=callgrind` for instruction counts.
"""
import argparse
import ctypes
import ctypes.util
import json
import os
import statistics
import tempfile
import time

lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)
lib.seccomp_init.restype = ctypes.c_void_p
lib.seccomp_init.argtypes = [ctypes.c_uint32]
lib.seccomp_release.argtypes = [ctypes.c_void_p]
lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                       ctypes.POINTER(ArgCmp)]

SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_KILL = 0x00000000
SCMP_ACT_TRAP = 0x00030000
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_LOG = 0x7FFC0000
SCMP_FLTATR_CTL_NNP = 3
OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
       "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
ARCH = {"SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X86": "x86", "SCMP_ARCH_X32": "x32",
        "SCMP_ARCH_AARCH64": "aarch64", "SCMP_ARCH_ARM": "arm"}


def action(name, errno_ret, default_errno):
    if name == "SCMP_ACT_ALLOW":
        return SCMP_ACT_ALLOW
    if name == "SCMP_ACT_ERRNO":
        e = errno_ret if errno_ret is not None else (default_errno if default_errno is not None else 1)
        return 0x00050000 | (e & 0xFFFF)
    if name == "SCMP_ACT_LOG":
        return SCMP_ACT_LOG
    if name == "SCMP_ACT_KILL_PROCESS":
        return SCMP_ACT_KILL_PROCESS
    if name == "SCMP_ACT_TRAP":
        return SCMP_ACT_TRAP
    return SCMP_ACT_KILL


def build(sec, arches):
    default = action(sec["defaultAction"], sec.get("defaultErrnoRet"), sec.get("defaultErrnoRet"))
    t0 = time.process_time()
    ctx = lib.seccomp_init(default)
    if arches == "all":
        for a in sec.get("architectures") or []:
            tok = lib.seccomp_arch_resolve_name(ARCH.get(a, a.lower()).encode())
            lib.seccomp_arch_add(ctx, tok)  # native is already there: -EEXIST is fine
    lib.seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)
    rules = 0
    for sc in sec.get("syscalls") or []:
        act = action(sc["action"], sc.get("errnoRet"), sec.get("defaultErrnoRet"))
        if act == default:
            continue
        args = sc.get("args") or []
        cmps = [ArgCmp(a["index"], OPS[a["op"]],
                       a.get("valueTwo", 0) if a["op"] == "SCMP_CMP_MASKED_EQ" else a["value"],
                       a["value"] if a["op"] == "SCMP_CMP_MASKED_EQ" else a.get("valueTwo", 0))
                for a in args]
        dup = len({a["index"] for a in args}) != len(args)
        for name in sc["names"]:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0 and nr != -10000:  # __NR_SCMP_ERROR
                pass
            if nr == -10000:
                continue
            groups = [[c] for c in cmps] if dup else [cmps]
            for g in groups:
                arr = (ArgCmp * len(g))(*g) if g else None
                lib.seccomp_rule_add_array(ctx, act, nr, len(g), arr)
                rules += 1
    t1 = time.process_time()
    with tempfile.TemporaryFile() as f:
        lib.seccomp_export_bpf(ctx, f.fileno())
        t2 = time.process_time()
        size = os.fstat(f.fileno()).st_size
        f.seek(0)
        prog = f.read()
    lib.seccomp_release(ctx)
    return (t1 - t0) * 1000, (t2 - t1) * 1000, size // 8, rules, prog


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--arches", choices=["all", "native"], default="all")
    ap.add_argument("--export", default="")
    a = ap.parse_args()
    with open(a.config) as f:
        sec = json.load(f)["linux"]["seccomp"]
    adds, gens = [], []
    for _ in range(a.runs):
        t_add, t_gen, insns, rules, prog = build(sec, a.arches)
        adds.append(t_add)
        gens.append(t_gen)
    if a.export:
        with open(a.export, "wb") as f:
            f.write(prog)
    arches = len(sec.get("architectures") or []) if a.arches == "all" else 1
    print(f"{rules} rules x {arches} architectures -> {insns} BPF instructions; median CPU: "
          f"rules {statistics.median(adds):.2f} ms, BPF generation {statistics.median(gens):.2f} ms, "
          f"total {statistics.median(adds) + statistics.median(gens):.2f} ms ({a.runs} runs)")


if __name__ == "__main__":
    main()
