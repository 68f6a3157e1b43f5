#!/usr/bin/env bash
# What hints cost (docs/learn.md): `hardened run` of /bin/true from a static-busybox bundle under
# the default policy, with hints on (the default) and off (`hints = false`), interleaved; prints
# the medians and the ratio. A container denied nothing: what every container pays. (The first container of a boot also makes the host's hints trace instance:
# one warm-up run each keeps that out of the numbers.) Hints on includes the system-call hints:
# the connection to the host's hints daemon, and, in the "daemon cold" row, its start (the first
# container after 2 s without any: each of those runs waits 2.5 s first).
#   sudo bench/hints.sh [RUNS]        (default 40 runs each; the cold row has a quarter of them)
# Everything lives in one temporary directory (removed on exit); the host's /run/hardened is
# not used for state (the hints tracker is /run/hardened/hints, the runtime's own).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-40}
hardened=${HARDENED:-$here/target/release/hardened}
for tool in hyperfine jq; do
  command -v "$tool" >/dev/null || { echo "hints.sh: $tool not found: apt-get install $tool" >&2; exit 1; }
done
[ -x "$hardened" ] || { echo "hints.sh: $hardened not built: cargo build --release" >&2; exit 1; }
tmp=$(mktemp -d /tmp/hardened-bench-hints.XXXXXX)
chmod 0711 "$tmp"
trap 'for r in on off; do for c in $("$hardened" --root "$tmp/root-$r" list -q 2>/dev/null); do "$hardened" --root "$tmp/root-$r" delete --force "$c" >/dev/null 2>&1 || true; done; done; rm -rf "${tmp:?}"' EXIT
HARDENED="$hardened" "$here/scripts/mkbundle.sh" "$tmp/bundle" /bin/true >/dev/null
printf 'audit_log = "%s/audit-on.log"\n' "$tmp" > "$tmp/on.toml"
printf 'audit_log = "%s/audit-off.log"\nhints = false\n' "$tmp" > "$tmp/off.toml"
cmd() { echo "$hardened --root $tmp/root-$1 --policy $tmp/$1.toml run --bundle $tmp/bundle c-$1"; }
# Interleaved (on, off, off, on, ...), not one command's runs after the other's: this host's
# speed drifts over a run by more than what is measured.
python3 - "$runs" "$(cmd on)" "$(cmd off)" <<'PY'
import shlex, statistics, subprocess, sys, time
n, on, off = int(sys.argv[1]), shlex.split(sys.argv[2]), shlex.split(sys.argv[3])
times = {"on": [], "off": []}
def once(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=60)
    return time.perf_counter() - t
once(on); once(off)  # warm-up: the first container of a boot makes the trace instance
for i in range(n):
    order = (("on", on), ("off", off)) if i % 2 == 0 else (("off", off), ("on", on))
    for k, cmd in order:
        times[k].append(once(cmd))
m = {k: statistics.median(v) * 1000 for k, v in times.items()}
print(f"hints on\tmedian {m['on']:.2f} ms")
print(f"hints off\tmedian {m['off']:.2f} ms")
print(f"hints on ÷ hints off: {m['on'] / m['off']:.3f} (interleaved, {n} each)")
PY
# After 2.5 s of quiet every run is slower (the VM's CPUs idle): the cold row is compared with
# hints off after the same quiet, not with the back-to-back runs.
cold_runs=$(( runs / 4 > 3 ? runs / 4 : 3 ))
hyperfine -N --prepare "sleep 2.5" --runs "$cold_runs" --export-json "$tmp/c.json" \
  -n "hints on, daemon cold" "$(cmd on)" -n "hints off, after quiet" "$(cmd off)" >/dev/null
jq -r '.results[] | "\(.command)\tmedian \(.median * 1000 | . * 100 | round / 100) ms"' "$tmp/c.json"
jq -r '(.results[0].median / .results[1].median) as $r | "after quiet, hints on (daemon cold) ÷ hints off: \($r * 1000 | round / 1000)"' "$tmp/c.json"
if ! grep -q ' /sys/kernel/tracing tracefs ' /proc/self/mounts; then
  echo "note: tracefs is not mounted at /sys/kernel/tracing here: each create and delete mounts it in its private mount namespace (docs/learn.md, Cost)"
fi
