#!/usr/bin/env bash
# The main job: build `hardened`, make a busybox root filesystem from Debian's busybox-static,
# run a container from it with `hardened run`, and show - from inside the container - what it
# runs with. No Docker needed.  Usage: sudo scripts/demo.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
if [ "$(id -u)" != 0 ]; then
  echo "scripts/demo.sh: creating containers needs root: sudo scripts/demo.sh" >&2
  exit 1
fi
"$here/scripts/deps.sh" build
cargo build --release
hardened="$here/target/release/hardened"
work=$(mktemp -d /tmp/hardened-demo.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT

# What the container reports about itself.
probe='
echo "== inside the container =="
echo "uid/gid:        $(id -u)/$(id -g)"
echo "uid_map:        $(cat /proc/self/uid_map | tr -s " " | sed "s/^ //")"
grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status | sed "s/\t/ /"
if touch /probe 2>/dev/null; then echo "root filesystem: WRITABLE"; else echo "root filesystem: read-only"; fi
for f in /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max; do
  [ -r "$f" ] && echo "pids.max:       $(cat $f)" && break
done
if [ -r /proc/kcore ] && [ -s /proc/kcore ]; then echo "/proc/kcore:    readable"; else echo "/proc/kcore:    masked or absent"; fi
if { echo 1 > /proc/sys/kernel/ns_last_pid; } 2>/dev/null; then echo "/proc/sys:      WRITABLE"; else echo "/proc/sys:      read-only"; fi
echo "open fds:       $(ls /proc/self/fd | tr "\n" " ")"
'
"$here/scripts/mkbundle.sh" "$work/bundle" sh -c "$probe" >/dev/null
# The built-in defaults, with the audit log kept in the demo's directory.
printf 'audit_log = "%s"\n' "$work/audit.log" > "$work/policy.toml"
"$hardened" --version
echo
echo "== hardened check: what the policy changes in the caller's config =="
"$hardened" --policy "$work/policy.toml" check "$work/bundle" || true
echo
"$hardened" --policy "$work/policy.toml" --root "$work/state" run --bundle "$work/bundle" "demo-$$"
echo
echo "== the audit log line of that container =="
cat "$work/audit.log"
