#!/usr/bin/env bash
# Make an OCI bundle with a static busybox root filesystem (from Debian's busybox-static).
#   scripts/mkbundle.sh DIR [ARGS...]   -> DIR/rootfs, DIR/config.json (process.args = ARGS)
set -euo pipefail
dir=${1:?usage: mkbundle.sh DIR [ARGS...]}; shift || true
busybox=${BUSYBOX:-/bin/busybox}
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
  echo "mkbundle: $busybox is not a static busybox: apt-get install busybox-static" >&2
  exit 1
fi
here=$(cd "$(dirname "$0")/.." && pwd)
hardened=${HARDENED:-$here/target/release/hardened}
rootfs="$dir/rootfs"
mkdir -p "$rootfs"/{bin,sbin,etc,proc,sys,dev,tmp,run,root,home,var,usr/bin,usr/sbin}
cp "$busybox" "$rootfs/bin/busybox"
for applet in $("$rootfs/bin/busybox" --list); do
  [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
done
# Test probes (static C programs for what busybox cannot do), when a compiler is there.
if command -v gcc >/dev/null; then
  for src in "$here"/scripts/probes/*.c; do
    gcc -static -O2 -o "$rootfs/usr/bin/$(basename "$src" .c)-probe" "$src" 2>/dev/null || true
  done
fi
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"
# A root-only file, as images have (/etc/shadow): root in the container must read it.
printf 'secret\n' > "$rootfs/etc/secret-0600"
chmod 0600 "$rootfs/etc/secret-0600"
rm -f "$dir/config.json"
"$hardened" spec --bundle "$dir"
if [ $# -gt 0 ]; then
  # One JSON string per argument, exactly (arguments may hold newlines or start with '-').
  args=$(for a in "$@"; do printf '%s' "$a" | jq -Rs .; done | jq -s .)
  jq --argjson a "$args" '.process.args = $a | .process.terminal = false' "$dir/config.json" > "$dir/config.json.new"
  mv "$dir/config.json.new" "$dir/config.json"
fi
