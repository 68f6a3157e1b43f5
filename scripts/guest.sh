#!/usr/bin/env bash
# The guest test stage: the project's own tests inside a Debian 12 QEMU guest whose host shape
# differs from this machine's: pure cgroup v2, AppArmor on, systemd as init (so dockerd uses the
# systemd cgroup driver). docs/hosts.md says what is tested where.
#
#   sudo scripts/guest.sh                      # the default set (scripts/guest/tests.txt)
#   sudo scripts/guest.sh --quick              # one hardened container through the guest's Docker
#   sudo scripts/guest.sh --test security [--test docker ...] [-- FILTER... / libtest args]
#
# The base image (kernel, systemd, docker.io, containerd, runc, apparmor, ...; see
# scripts/guest/packages.txt) is built once with debootstrap from the configured Debian mirror
# and cached under $HARDENED_GUEST_CACHE (default /var/cache/hardened-guest), keyed on a hash of
# its inputs (scripts/guest/packages.txt, build-image.sh, boot.sh, hardened-guest.service).
# Each run makes a small payload disk (the release binary, the chosen test binaries, the repo
# files the tests read, scripts/guest/run.sh), boots the guest with no network device
# (-nic none) on a throwaway snapshot of the base image, lets the guest run the set with private
# daemons (scripts/daemons.sh) and power off, then reads the results back from the payload disk
# (debugfs, no mount) and exits non-zero on any failure, on a missing result or on a timeout.
#
# Environment:
#   HARDENED_GUEST_CACHE    image cache directory (default /var/cache/hardened-guest)
#   HARDENED_GUEST_MIRROR   Debian mirror for debootstrap (default: the first from /etc/apt)
#   HARDENED_GUEST_ACCEL    qemu accelerator: tcg (default; a stock kernel hangs under kvm on
#                           the CI machines) or kvm
#   HARDENED_GUEST_MEM      guest RAM in MiB (default and maximum 2048)
#   HARDENED_GUEST_TIMEOUT  hard limit on the whole qemu run in seconds (default: quick 900,
#                           otherwise 3000)
#   HARDENED_GUEST_TEST_TIMEOUT  limit per test binary inside the guest (default 1200)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
gdir="$here/scripts/guest"
prog=scripts/guest.sh

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

mode=full
tests=()
args=()
while [ $# -gt 0 ]; do
  case "$1" in
  --quick) mode=quick; shift ;;
  --test)
    [ $# -ge 2 ] || { echo "$prog: --test needs a test binary name (e.g. --test security)" >&2; exit 2; }
    tests+=("$2"); shift 2 ;;
  --test=*) tests+=("${1#--test=}"); shift ;;
  -h|--help) usage; exit 0 ;;
  --) shift; args=("$@"); break ;;
  *) echo "$prog: unknown argument '$1' (see $prog --help)" >&2; exit 2 ;;
  esac
done
if [ "$mode" = quick ] && { [ ${#tests[@]} -gt 0 ] || [ ${#args[@]} -gt 0 ]; }; then
  echo "$prog: --quick runs no test binaries: drop --test and the filters, or drop --quick" >&2
  exit 2
fi
if [ "$(id -u)" != 0 ]; then
  echo "$prog: building the image (debootstrap) and the payload disk needs root: run as root" >&2
  exit 1
fi
for tool in qemu-system-x86_64 debootstrap mkfs.ext4 debugfs jq; do
  command -v "$tool" >/dev/null || {
    echo "$prog: $tool not found: run scripts/deps.sh test (qemu-system-x86, debootstrap, e2fsprogs, jq)" >&2
    exit 1
  }
done

cache=${HARDENED_GUEST_CACHE:-/var/cache/hardened-guest}
accel=${HARDENED_GUEST_ACCEL:-tcg}
mem=${HARDENED_GUEST_MEM:-2048}
case "$mem" in ''|*[!0-9]*) echo "$prog: HARDENED_GUEST_MEM must be MiB, a number (got '$mem')" >&2; exit 2 ;; esac
if [ "$mem" -gt 2048 ]; then
  echo "$prog: HARDENED_GUEST_MEM=$mem is above the 2048 MiB the stage may use" >&2; exit 2
fi
case "$accel" in tcg) accel_opt=tcg,thread=multi ;; kvm) accel_opt=kvm ;;
  *) echo "$prog: HARDENED_GUEST_ACCEL must be tcg or kvm (got '$accel')" >&2; exit 2 ;; esac
if [ "$mode" = quick ]; then deflimit=900; else deflimit=3000; fi
limit=${HARDENED_GUEST_TIMEOUT:-$deflimit}
test_limit=${HARDENED_GUEST_TEST_TIMEOUT:-1200}

# --- The base image, cached on a hash of its inputs -------------------------------------------
mirror=${HARDENED_GUEST_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE 'https?://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ' || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi
key=$(cat "$gdir/packages.txt" "$gdir/build-image.sh" "$gdir/boot.sh" "$gdir/hardened-guest.service" |
  sha256sum | cut -c1-16)
base="$cache/base-$key"
mkdir -p "$cache"
t0=$(date +%s)
(
  # One build at a time per cache; a second caller waits for it and then uses its image.
  exec 9>"$cache/lock"
  flock -w 3600 9 || { echo "$prog: timed out waiting for $cache/lock" >&2; exit 1; }
  if [ -f "$base/root.img" ] && [ -f "$base/vmlinuz" ] && [ -f "$base/initrd.img" ]; then
    exit 0
  fi
  echo "$prog: building the guest image $base (cold cache: debootstrap, several minutes)" >&2
  tmp="$cache/build-$key"
  rm -rf --one-file-system "${tmp:?}"
  "$gdir/build-image.sh" "$tmp" "$mirror"
  rm -rf --one-file-system "${base:?}"
  mv "$tmp" "$base"
  # Older images (other keys) are of no further use.
  for old in "$cache"/base-*; do
    [ "$old" = "$base" ] || rm -rf --one-file-system "${old:?}"
  done
) || exit 1
t_image=$(($(date +%s) - t0))

# --- What runs in the guest -------------------------------------------------------------------
work=$(mktemp -d /var/tmp/hardened-guest.XXXXXX)
qpid=
cleanup() {
  if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
    kill "$qpid" 2>/dev/null || true
    sleep 1
    kill -9 "$qpid" 2>/dev/null || true
  fi
  rm -rf --one-file-system "${work:?}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$here"
# scripts/test.sh has just built it (and exports HARDENED); otherwise build it here.
hardened=${HARDENED:-}
if [ -z "$hardened" ]; then
  timeout 3600 cargo build --release
  hardened="$here/target/release/hardened"
fi
[ -x "$hardened" ] || { echo "$prog: HARDENED=$hardened is not an executable" >&2; exit 1; }
payload="$work/payload"
mkdir -p "$payload"/{repo/target/release,bin,results}
cp -a "$here/scripts" "$here/integration" "$here/deploy" "$here/Cargo.toml" "$payload/repo/"
cp "$hardened" "$payload/repo/target/release/hardened"
cp "$gdir/run.sh" "$payload/run.sh"
: > "$payload/tests.txt"
if [ "$mode" = full ]; then
  # The default set: "NAME [libtest arguments]" a line; binaries chosen with --test run whole.
  declare -A line_args=()
  if [ ${#tests[@]} -eq 0 ]; then
    while read -r t rest; do
      case "$t" in ''|'#'*) continue ;; esac
      tests+=("$t")
      line_args[$t]=$rest
    done < "$gdir/tests.txt"
  fi
  targs=()
  for t in "${tests[@]}"; do
    [ -f "$here/integration/$t.rs" ] || {
      echo "$prog: no integration test '$t' (integration/$t.rs); the binaries: $(ls "$here/integration" | sed -n 's/\.rs$//p' | paste -sd' ')" >&2
      exit 2
    }
    targs+=(--test "$t")
  done
  timeout 3600 cargo test --release --no-run --message-format=json "${targs[@]}" > "$work/build.json"
  for t in "${tests[@]}"; do
    exe=$(jq -r --arg t "$t" 'select(.reason == "compiler-artifact" and .target.name == $t
      and (.target.kind | index("test")) and .executable != null) | .executable' "$work/build.json" | tail -1)
    [ -n "$exe" ] && [ -x "$exe" ] || { echo "$prog: cargo did not report the test binary of '$t'" >&2; exit 1; }
    cp "$exe" "$payload/bin/$t"
    printf '%s %s\n' "$t" "${line_args[$t]:-}" >> "$payload/tests.txt"
  done
  grep -v '^[[:space:]]*#' "$gdir/xfail.txt" | awk 'NF' > "$payload/xfail.txt" || true
fi
{
  printf 'MODE=%q\nHOST_REPO=%q\nCI=%q\nTEST_TIMEOUT=%q\n' "$mode" "$here" "${CI:-}" "$test_limit"
  printf 'ARGS=('; [ ${#args[@]} -eq 0 ] || printf '%q ' "${args[@]}"; printf ')\n'
} > "$payload/config.sh"
payload_mb=$(($(du -sm "$payload" | cut -f1) + 256))
mkfs.ext4 -q -F -L hardened-payload -E root_owner=0:0 -d "$payload" "$work/payload.img" "${payload_mb}M"

# --- Boot ---------------------------------------------------------------------------------------
echo "$prog: image $base ready in ${t_image} s; booting the guest ($accel, ${mem} MiB, limit ${limit} s)" >&2
t1=$(date +%s)
: > "$work/console.log"
# The root disk is a snapshot (snapshot=on: writes go to a temporary file under $TMPDIR, here
# $work); the payload disk is written (results). No network device; no display; the serial
# console goes to a file that is shown as it grows.
TMPDIR="$work" timeout -k 10 "$limit" qemu-system-x86_64 \
  -accel "$accel_opt" -cpu max -smp 2 -m "$mem" \
  -display none -monitor none -serial "file:$work/console.log" -nic none -no-reboot \
  -kernel "$base/vmlinuz" -initrd "$base/initrd.img" \
  -append "console=ttyS0 root=/dev/vda rw quiet loglevel=3 systemd.show_status=false panic=-1" \
  -drive "file=$base/root.img,format=raw,if=virtio,snapshot=on" \
  -drive "file=$work/payload.img,format=raw,if=virtio" &
qpid=$!
tail -n +1 -f --pid="$qpid" "$work/console.log" &
tpid=$!
set +e
wait "$qpid"
qrc=$?
set -e
qpid=
wait "$tpid" 2>/dev/null || true
t_guest=$(($(date +%s) - t1))

# --- Results ------------------------------------------------------------------------------------
rm -rf --one-file-system "${work:?}/results"
debugfs -R "rdump /results $work" "$work/payload.img" >/dev/null 2>&1 || true
status=0
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  echo "$prog: FAIL: the guest did not finish within ${limit} s (HARDENED_GUEST_TIMEOUT); qemu killed" >&2
  status=1
elif [ "$qrc" != 0 ]; then
  echo "$prog: FAIL: qemu exited $qrc" >&2
  status=1
fi
if [ ! -f "$work/results/done" ]; then
  echo "$prog: FAIL: the guest wrote no complete results (see the console output above)" >&2
  status=1
fi
echo
echo "== guest stage ($mode): image ${t_image} s, guest ${t_guest} s (boot to userspace: $(grep -o 'userspace up after [0-9.]* s' "$work/console.log" | grep -o '[0-9.]* s' || echo '?'))"
if [ -f "$work/results/summary.tsv" ]; then
  # name  status  seconds  detail
  column -t -s $'\t' "$work/results/summary.tsv" | sed 's/^/  /'
  while IFS=$'\t' read -r name st _ _; do
    case "$st" in
    PASS|XFAIL|XPASS) ;;
    *)
      status=1
      if [ -f "$work/results/$name.log" ]; then
        echo "--- $name: $st; the end of its log:"
        tail -n 150 "$work/results/$name.log"
      fi ;;
    esac
  done < "$work/results/summary.tsv"
fi
if [ "$status" = 0 ]; then echo "== guest stage: PASS"; else echo "== guest stage: FAIL"; fi
exit "$status"
