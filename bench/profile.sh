#!/usr/bin/env bash
# Where the milliseconds of one `hardened run` go (the analysis in docs/performance.md).
#
#   sudo bench/profile.sh [--quick] [OUTDIR]      (default OUTDIR: a temp dir, printed at the end)
#
# 1. phases: `strace -f --seccomp-bpf` with only marker syscalls traced (the rest runs at full
#    speed), N runs, median length of each phase (bench/phases.py)
# 2. syscall counts: `strace -f -c` of one run: hardened (default policy, permissive), runc, crun
# 3. `perf stat -r N`: task-clock (CPU ms), context switches, page faults, wall time
# 4. `perf record` (cpu-clock, DWARF call graphs) over N runs of a symbolised build (same code
#    and [profile.release], symbols kept, built into PROFILE_TARGET, default
#    /tmp/hardened-profile-target): top functions and shares by component
# 5. `valgrind --tool=callgrind` of one `hardened create` (instructions by function)
#
# crun runs in a private mount namespace with /sys/fs/cgroup/unified unmounted (crun 1.8.1 refuses
# this hybrid layout). Everything lives under temp dirs (state roots on tmpfs); containers are
# deleted on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
n=15
if [ "${1:-}" = --quick ]; then n=3; shift; fi
out=${1:-}
[ "$(id -u)" = 0 ] || { echo "profile.sh: run as root" >&2; exit 1; }
need() { command -v "$1" >/dev/null || { apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need strace strace
need perf linux-perf
need valgrind valgrind
need runc runc
need crun crun

tmp=$(mktemp -d /tmp/hardened-profile.XXXXXX)
statebase=/tmp
for d in /run /dev/shm; do
  if [ "$(stat -f -c %T "$d" 2>/dev/null)" = tmpfs ]; then statebase=$d; break; fi
done
state=$(mktemp -d "$statebase/hardened-profile-state.XXXXXX")
cleanup() {
  for r in "$state"/*; do
    [ -d "$r" ] || continue
    for c in "$r"/*; do
      [ -d "$c" ] || continue
      case "$(basename "$r")" in
        crun) unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun "$@"' crun --root "$r" delete --force "$(basename "$c")" ;;
        runc) runc --root "$r" delete --force "$(basename "$c")" ;;
        *) "$tmp/bin/hardened" --root "$r" delete --force "$(basename "$c")" ;;
      esac >/dev/null 2>&1 || true
    done
  done
  rm -rf "$tmp" "$state"
}
trap cleanup EXIT
[ -n "$out" ] || out=$(mktemp -d /tmp/hardened-profile-out.XXXXXX)
mkdir -p "$out"

# The symbolised build: same sources and release profile, symbols and line tables kept.
ptarget=${PROFILE_TARGET:-/tmp/hardened-profile-target}
echo "building a symbolised copy into $ptarget (cargo build --release, strip off)..." >&2
(cd "$here" && CARGO_PROFILE_RELEASE_STRIP=none CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
  cargo build --release --target-dir "$ptarget" >&2)
mkdir -p "$tmp/bin" "$tmp/sbin"
cp "$ptarget/release/hardened" "$tmp/sbin/hardened"        # symbols, for perf/callgrind
cp "${HARDENED:-$here/target/release/hardened}" "$tmp/bin/hardened"   # the shipped binary
H=$tmp/bin/hardened
HS=$tmp/sbin/hardened
HARDENED=$H "$here/scripts/mkbundle.sh" "$tmp/b" true >/dev/null
printf 'audit_log = "%s/audit.log"\n' "$tmp" > "$tmp/default.toml"
printf 'mode = "permissive"\naudit_log = "%s/audit-p.log"\n' "$tmp" > "$tmp/permissive.toml"
crunns() { unshare -m sh -c 'umount /sys/fs/cgroup/unified && exec "$@"' sh "$@"; }
nid() { echo "p$RANDOM$RANDOM"; }

# ---- 1. phases ---------------------------------------------------------------------------------
markers=execve,execveat,fsopen,clone,clone3,pivot_root,seccomp,exit_group,mkdir,symlink,write,wait4,rt_sigtimedwait
phases_for() { # name policy
  local name=$1 policy=$2
  for k in $(seq 1 "$n"); do
    strace -f --seccomp-bpf -tt -T -e trace=$markers -o "$tmp/phases-$name-$k.txt" \
      "$H" --root "$state/h" --policy "$policy" run -b "$tmp/b" "$(nid)" </dev/null >/dev/null 2>&1
    python3 "$here/bench/phases.py" "$tmp/phases-$name-$k.txt" --json > "$tmp/phases-$name-$k.json"
  done
  python3 - "$tmp" "$name" "$n" > "$out/phases-$name.md" <<'PY'
import json, statistics, sys
tmp, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
runs = [json.load(open(f"{tmp}/phases-{name}-{k}.json")) for k in range(1, n + 1)]
labels = [p[0] for p in runs[0]["phases"]]
print(f"`hardened run` ({name} policy), median over {n} runs of `strace -f --seccomp-bpf` tracing marker syscalls only:\n")
print("| phase | median ms | min–max |")
print("|---|---:|---:|")
for i, l in enumerate(labels):
    xs = [r["phases"][i][1] for r in runs if r["phases"][i][1] is not None]
    if xs:
        print(f"| {l} | {statistics.median(xs):.1f} | {min(xs):.1f}–{max(xs):.1f} |")
tot = [r["total_ms"] for r in runs]
print(f"| **whole run (under strace)** | **{statistics.median(tot):.1f}** | {min(tot):.1f}–{max(tot):.1f} |")
PY
  cat "$out/phases-$name.md"; echo
}
phases_for default "$tmp/default.toml"
phases_for permissive "$tmp/permissive.toml"

# ---- 2. syscall counts --------------------------------------------------------------------------
sc() { # name, command...
  local name=$1; shift
  strace -f -c -o "$out/strace-c-$name.txt" "$@" </dev/null >/dev/null 2>&1 || true
  awk -v n="$name" '/total$/ {print n": " $(NF-2) " syscalls (" $(NF-1) " errors)"}' "$out/strace-c-$name.txt"
}
echo
echo "syscalls per run (strace -f -c):"
sc hardened "$H" --root "$state/h" --policy "$tmp/default.toml" run -b "$tmp/b" "$(nid)"
sc permissive "$H" --root "$state/hp" --policy "$tmp/permissive.toml" run -b "$tmp/b" "$(nid)"
sc runc runc --root "$state/runc" run -b "$tmp/b" "$(nid)"
crunns strace -f -c -o "$out/strace-c-crun.txt" crun --root "$state/crun" run --bundle "$tmp/b" "$(nid)" </dev/null >/dev/null 2>&1 || true
awk '/total$/ {print "crun: " $(NF-2) " syscalls (" $(NF-1) " errors)"}' "$out/strace-c-crun.txt"

# ---- 3. perf stat -------------------------------------------------------------------------------
echo
echo "perf stat -r $n (task-clock = CPU ms of the runtime and its children):"
pstat() { # name, [crunns], command...
  local name=$1; shift
  local pre=()
  if [ "$1" = crunns ]; then pre=(unshare -m sh -c 'umount /sys/fs/cgroup/unified && exec "$@"' sh); shift; fi
  "${pre[@]}" perf stat -r "$n" -x, -o "$out/perf-stat-$name.csv" -e task-clock,context-switches,page-faults \
    "$@" </dev/null >/dev/null 2>&1 || true
  awk -F, -v n="$name" '$3=="task-clock" {cpu=$1} $3=="context-switches" {cs=$1} $3=="page-faults" {pf=$1}
       END {printf "%-11s CPU %6.1f ms, %4d context switches, %5d page faults\n", n, cpu, cs, pf}' "$out/perf-stat-$name.csv"
}
cat > "$tmp/runone" <<SH
#!/bin/sh
# one container run with a fresh id: runone ROOTNAME ARGS...
r=\$1; shift
c=\$(cat "$tmp/ctr.\$r" 2>/dev/null || echo 0); c=\$((c + 1)); echo \$c > "$tmp/ctr.\$r"
exec "\$@" --root "$state/\$r" run --bundle "$tmp/b" "ps\$c"
SH
chmod +x "$tmp/runone"
# (the wrapper sh is in the numbers of every runtime alike: ~1 ms; perf stat itself runs in
# crun's namespace, so crun is not charged for the unshare)
pstat hardened "$tmp/runone" h-ps "$H" --policy "$tmp/default.toml"
pstat permissive "$tmp/runone" hp-ps "$H" --policy "$tmp/permissive.toml"
pstat runc "$tmp/runone" runc-ps runc
pstat crun crunns "$tmp/runone" crun-ps crun

# ---- 4. perf record -----------------------------------------------------------------------------
runs=$((n * 2))
echo
echo "perf record (cpu-clock 20 kHz, DWARF call graphs, $runs runs of the symbolised build)..."
cat > "$tmp/loop" <<SH
#!/bin/sh
for k in \$(seq 1 $runs); do
  "$HS" --root "$state/hs" --policy "$tmp/default.toml" run -b "$tmp/b" "rec\$k" </dev/null >/dev/null 2>&1
done
SH
chmod +x "$tmp/loop"
perf record -q -F 20000 -e cpu-clock --call-graph dwarf,16384 -o "$tmp/perf.data" "$tmp/loop" 2>/dev/null
# The re-executed binary is mapped from the detached overlay, which perf knows as "/hardened":
# a symfs that maps that name to the symbolised file (and everything else to the real root).
mkdir -p "$tmp/symfs"
ln -s "$HS" "$tmp/symfs/hardened"
for d in usr bin lib lib64 tmp etc proc sbin; do ln -sfn "/$d" "$tmp/symfs/$d"; done
perf report -i "$tmp/perf.data" --symfs "$tmp/symfs" --no-children --sort dso --stdio -q -g none 2>/dev/null \
  | grep -v '^$' | head -10 > "$out/perf-dso.txt" || true
perf script -i "$tmp/perf.data" --symfs "$tmp/symfs" --kallsyms /proc/kallsyms -F comm,pid,ip,sym,dso 2>/dev/null \
  | python3 "$here/bench/perfsplit.py" --runs "$runs" --freq 20000 > "$out/perf-components.md" || true
echo "CPU by shared object:"; cat "$out/perf-dso.txt"
echo; cat "$out/perf-components.md"

# ---- 5. seccomp filter cost, callgrind ------------------------------------------------------------
echo
echo "seccomp: the default policy's filter built with libseccomp as libcontainer does (bench/seccomp_cost.py):"
"$H" --root "$state/sc" --policy "$tmp/default.toml" create -b "$tmp/b" sc1 </dev/null >/dev/null 2>&1
cp "$state/sc/.bundles/sc1/config.json" "$out/hardened-spec.json"
"$H" --root "$state/sc" delete --force sc1 >/dev/null 2>&1 || true
py=$(python3 -c 'import sys; print(sys.executable)')
for arches in all native; do
  "$py" "$here/bench/seccomp_cost.py" "$out/hardened-spec.json" --runs 1 --arches "$arches" | sed "s/^/  fresh process, $arches: /"
  "$py" "$here/bench/seccomp_cost.py" "$out/hardened-spec.json" --runs 20 --arches "$arches" | sed "s/^/  warm, $arches: /"
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg-seccomp-$arches.out" "$py" "$here/bench/seccomp_cost.py" \
    "$out/hardened-spec.json" --runs 1 --arches "$arches" >/dev/null 2>&1 || true
  callgrind_annotate --threshold=100 "$tmp/cg-seccomp-$arches.out" 2>/dev/null \
    | awk -v m="$arches" '/libseccomp/ {gsub(",", "", $1); s += $1} END {printf "  callgrind, %s: %.1f M instructions in libseccomp\n", m, s / 1e6}'
done

echo
echo "valgrind --tool=callgrind of one create (symbolised build)..."
# valgrind 3.19 (Debian 12) does not know fsopen/fsconfig/fsmount/openat2, and lowers
# RLIMIT_NOFILE: the bundle drops rlimits, the init stops at its first procfs mount (ENOSYS), and
# the runtime process and the intermediate process (cgroups) are profiled whole. Under valgrind
# /proc/self/exe is not the sealed overlay: the binary runs from a read-only overlay mounted in a
# private mount namespace, so that the seal check passes without a re-exec.
cp -a "$tmp/b" "$tmp/bcg"
jq 'del(.process.rlimits)' "$tmp/b/config.json" > "$tmp/bcg/config.json"
mkdir -p "$tmp/ovl" "$tmp/cg" "$state/cg"
unshare -m --propagation private sh -c '
  mount -t overlay overlay -o ro,lowerdir="$1":"$2" "$3" &&
  valgrind --tool=callgrind --trace-children=no --callgrind-out-file="$4/callgrind.out.%p" \
    "$3/hardened" --root "$2" --policy "$5" create -b "$6" cg1' sh \
  "$tmp/sbin" "$state/cg" "$tmp/ovl" "$tmp/cg" "$tmp/default.toml" "$tmp/bcg" > "$out/callgrind.log" 2>&1 || true
"$H" --root "$state/cg" delete --force cg1 >/dev/null 2>&1 || true
for f in "$tmp"/cg/callgrind.out.*; do
  [ -s "$f" ] || continue
  tot=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  callgrind_annotate --inclusive=yes --auto=no "$f" 2>/dev/null > "$out/$(basename "$f").inclusive.txt" || true
  echo "  $(basename "$f"): $(awk -v t="$tot" 'BEGIN {printf "%.1f M", t / 1e6}') instructions"
  grep -E '^ *[0-9,]+ \(.*:(hardened::policy::evaluate|hardened::bundle::(write_shadow|load_spec)|hardened::policy::load::parse|libcgroups::common::create_cgroup_manager|libcgroups::v1::util::get_subsystem_mount_point|clap_builder::builder::command::Command::_do_parse|_dl_start|hardened::main) \[' \
    "$out/$(basename "$f").inclusive.txt" | sed -E 's/^ *([0-9,]+) \( *([0-9.]+)%\).*:([^ ]+) \[.*$/    \1 (\2%) \3/' | sort -u | sort -t'(' -k1 -rn | head -12
done
echo
echo "results in $out"
