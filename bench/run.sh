#!/usr/bin/env bash
# Start-up speed and memory of hardened side by side with runc, crun and youki, in one run:
#   1. `run` of /bin/true from a static-busybox bundle (20 containers per sample, back to back;
#      and 100 ms apart); the peers also with the spec our default policy makes (same work)
#   2. create -> start -> delete, and `exec` into a running container
#   3. peak RSS of the runtime process (/usr/bin/time -v) and binary size
#   4. `docker run --rm --network none IMAGE true` through a private dockerd, ours vs runc
#   5. N x `docker run -d` in parallel (N = 10 .. 100), time until all are running
#   6. our default policy vs permissive mode; a ~1 GB rootfs (1000 files of 1 MiB + 10000 small
#      ones) vs the 2 MiB one: with the user namespace and idmapped root of the default policy,
#      start-up must not depend on the image's size (no copy, no chown)
# Runtimes alternate within every round; medians and ratios to hardened are reported.
#
#   sudo bench/run.sh            full run (~4 min): writes docs/performance.md (between its
#                                markers) and docs/img/performance.png
#   sudo bench/run.sh --quick    a few runs of everything (CI: checks that it runs; the numbers
#                                mean nothing). Writes to a temp dir unless BENCH_OUT=DIR is set.
#   sudo bench/run.sh --rootfs-only [--quick]
#                                only 6's rootfs sizes (~1 min; --quick: 100 MB, seconds): prints
#                                its table, writes no document (paste it by hand)
# Options: --no-docker (skip 4 and 5), --no-big (skip the big rootfs), --json FILE (raw samples).
# Environment: HARDENED=binary (default target/release/hardened, built if missing),
#   YOUKI=binary (default /opt/youki/bin/youki; built with cargo install when missing, in --quick
#   only when BENCH_BUILD_YOUKI=1), YOUKI_ROOT=dir for that build (default /opt/youki).
#
# Every bundle, audit log, policy file and the private dockerd live in one temporary directory
# in /tmp, the state roots in one on tmpfs (/run, else /dev/shm); every container and daemon is
# stopped and both directories removed on exit (trap). The host's Docker, /run/runc, /run/crun,
# /run/youki and /run/hardened are never used. crun 1.8.1 refuses a hybrid cgroup layout: it runs
# in a private mount namespace with /sys/fs/cgroup/unified unmounted (the report says so).
# The analysis of where the time goes is bench/profile.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

quick=0 rootfs_only=0 args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; args+=(--quick) ;;
    --no-docker|--no-big) args+=("$1") ;;
    --rootfs-only) rootfs_only=1; args+=(--rootfs-only --no-docker) ;;
    --json) args+=(--json "$(realpath -m "${2:?--json FILE}")"); shift ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--quick] [--rootfs-only] [--no-docker] [--no-big] [--json FILE]" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: run as root (containers, cgroups, dockerd)" >&2; exit 1; }

log() { echo "[bench] $*" >&2; }

# ---- tools and peers ------------------------------------------------------------------------
apt_updated=0
need_pkg() { # need_pkg COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing Debian's $2 (for $1)"
  if [ $apt_updated = 0 ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need_pkg runc runc
need_pkg crun crun
[ -x /usr/bin/time ] || { need_pkg /usr/bin/time time; }
need_pkg jq jq
need_pkg unshare util-linux
need_pkg fallocate util-linux
need_pkg python3 python3
if ! file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; then
  log "installing Debian's busybox-static"
  if [ $apt_updated = 0 ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi
if [[ " ${args[*]-} " != *" --no-docker "* ]]; then
  need_pkg dockerd docker.io
fi
if [ $rootfs_only = 0 ] && ! python3 -c 'import matplotlib' 2>/dev/null; then
  log "installing matplotlib from PyPI (for the plot)"
  python3 -m pip install -q matplotlib >/dev/null 2>&1 || log "pip install matplotlib failed: no plot"
fi

youki=${YOUKI:-/opt/youki/bin/youki}
if [ $rootfs_only = 1 ]; then
  youki=""   # not part of the rootfs-size section
elif [ ! -x "$youki" ]; then
  if [ $quick = 1 ] && [ "${BENCH_BUILD_YOUKI:-0}" != 1 ]; then
    log "youki not found at $youki: left out of this quick run (BENCH_BUILD_YOUKI=1 builds it)"
    youki=""
  else
    yroot=${YOUKI_ROOT:-/opt/youki}
    log "building youki 0.7.0 from crates.io into $yroot (several minutes)"
    need_pkg pkg-config pkg-config
    dpkg -s libseccomp-dev >/dev/null 2>&1 || need_pkg __none__ libseccomp-dev
    dpkg -s libsystemd-dev >/dev/null 2>&1 || need_pkg __none__ libsystemd-dev
    dpkg -s libdbus-1-dev >/dev/null 2>&1 || need_pkg __none__ libdbus-1-dev
    cargo install youki --locked --version 0.7.0 --features v1,v2,systemd,seccomp --root "$yroot" >&2 \
      || cargo install youki --version 0.7.0 --features v1,v2,systemd,seccomp --root "$yroot" >&2
    youki=$yroot/bin/youki
  fi
fi

src=${HARDENED:-$here/target/release/hardened}
if [ ! -x "$src" ]; then
  log "building hardened (cargo build --release)"
  (cd "$here" && cargo build --release >&2)
fi

# ---- the temporary world, and its cleanup ----------------------------------------------------
tmp=$(mktemp -d /tmp/hardened-bench.XXXXXX)
# State roots on tmpfs, as /run/runc, /run/crun, /run/hardened are on a systemd host (on an
# ext4 /tmp, rewriting state.json with O_TRUNC can wait ~10 ms for the disk): /run when it is a
# tmpfs, else /dev/shm, else /tmp.
statebase=/tmp
for d in /run /dev/shm; do
  if [ "$(stat -f -c %T "$d" 2>/dev/null)" = tmpfs ]; then statebase=$d; break; fi
done
state=$(mktemp -d "$statebase/hardened-bench-state.XXXXXX")
pypid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$pypid" ] && kill -0 "$pypid" 2>/dev/null; then
    kill -TERM "$pypid" 2>/dev/null || true
    wait "$pypid" 2>/dev/null || true
  fi
  # Safety net behind bench.py's own cleanup: containers left in any state root, the daemons.
  [ -d "$tmp/docker" ] && "$here/scripts/daemons.sh" stop "$tmp/docker" >/dev/null 2>&1 || true
  for root in "$state"/roots/*; do
    [ -d "$root" ] || continue
    name=$(basename "$root")
    for c in "$root"/*; do
      [ -d "$c" ] || continue
      id=$(basename "$c")
      case "$name" in
        hardened|permissive) "$tmp/bin/hardened" --root "$root" delete --force "$id" ;;
        runc) runc --root "$root" delete --force "$id" ;;
        youki) [ -n "$youki" ] && "$youki" --root "$root" delete --force "$id" ;;
        crun) unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun "$@"' crun --root "$root" delete --force "$id" ;;
      esac >/dev/null 2>&1 || true
    done
  done
  awk -v d="$tmp" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$tmp" 2>/dev/null || rm -rf "$tmp" || true
  rm -rf --one-file-system "$state" 2>/dev/null || true
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A private copy of our binary, alone in its directory (the overlay seal's lower layer), so a
# concurrent `cargo build` cannot swap it in the middle of the run.
mkdir -p "$tmp/bin"
cp "$src" "$tmp/bin/hardened"

if [ $quick = 1 ] && [ -z "${BENCH_OUT:-}" ]; then
  out=$tmp/out
else
  out=${BENCH_OUT:-$here/docs}
fi
mkdir -p "$out/img"

log "machine load before: $(uptime)"
# The host's /dev/null must come out as it went in (no runtime may chown it): checked at the end.
null_before=$(stat -c '%u:%g:%a' /dev/null)
python3 "$here/bench/bench.py" --tmp "$tmp" --state "$state" --hardened "$tmp/bin/hardened" \
  --runc "$(command -v runc)" --crun "$(command -v crun)" --youki "$youki" \
  --md "$out/performance.md" --png "$out/img/performance.png" ${args[@]+"${args[@]}"} &
pypid=$!
set +e
wait "$pypid"
rc=$?
set -e
pypid=""
log "machine load after: $(uptime)"
null_after=$(stat -c '%u:%g:%a' /dev/null)
if [ "$null_after" != "$null_before" ]; then
  log "FAILED: the host's /dev/null changed during the run ($null_before -> $null_after): a runtime chowned or chmodded it"
  exit 1
fi
exit $rc
