#!/usr/bin/env bash
# A clean Debian 12 root filesystem for the package test (integration/package.rs), as a cached
# tarball:
#
#   packaging/test-root.sh [CACHE_DIR]      (default /var/cache/hardened-package-test)
#
# debootstrap --variant=minbase bookworm, plus man-db (so that `man hardened` can be tried) and
# nothing else. The tarball is named after a hash of this script and the mirror, so a change to
# the recipe builds a new one; older ones are deleted. The downloaded .debs stay in
# CACHE_DIR/debs for the next build. Prints the tarball's path.
#
# Nothing is written outside CACHE_DIR and a temporary directory; the chroot's /proc is mounted
# in a private mount namespace (unshare -m) and vanishes with it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${1:-/var/cache/hardened-package-test}
mirror=${PACKAGE_TEST_MIRROR:-http://deb.debian.org/debian}

[ "$(id -u)" = 0 ] && command -v debootstrap >/dev/null || {
  echo "test-root.sh: building a root filesystem needs root and debootstrap (apt-get install" \
    "debootstrap, or scripts/deps.sh test)" >&2
  exit 1
}

hash=$( { cat "$here/test-root.sh"; echo "$mirror"; } | sha256sum | cut -c1-16)
tarball=$cache/bookworm-minbase-$hash.tar
if [ -s "$tarball" ]; then
  echo "$tarball"
  exit 0
fi

mkdir -p "$cache/debs"
work=$(mktemp -d "${TMPDIR:-/tmp}/package-test-root.XXXXXX")
trap 'rm -rf --one-file-system "${work:?}"' EXIT
r=$work/rootfs
t0=$SECONDS
echo "test-root.sh: building $tarball (debootstrap bookworm minbase, man-db)" >&2
unshare --mount --propagation private -- bash -euo pipefail -c '
  r=${1:?} debs=${2:?} mirror=${3:?}
  timeout 1200 debootstrap --variant=minbase --cache-dir="$debs" bookworm "$r" "$mirror" >&2
  mount -t proc proc "$r/proc"
  cp /etc/resolv.conf "$r/etc/resolv.conf"
  # The host'"'"'s sources (bookworm, -updates, -security) when it is Debian 12.
  if grep -qs bookworm /etc/apt/sources.list.d/debian.sources; then
    cp /etc/apt/sources.list.d/debian.sources "$r/etc/apt/sources.list.d/debian.sources"
    rm -f "$r/etc/apt/sources.list"
  fi
  env=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
  timeout 600 chroot "$r" "${env[@]}" apt-get update -qq >&2
  timeout 900 chroot "$r" "${env[@]}" apt-get install -y -qq --no-install-recommends man-db >&2
  timeout 300 chroot "$r" "${env[@]}" apt-get clean >&2
' test-root "$r" "$cache/debs" "$mirror"
: > "$r/etc/resolv.conf"
rm -rf "${r:?}"/var/lib/apt/lists/*
tar --numeric-owner --xattrs -C "$r" -cf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
find "$cache" -maxdepth 1 -name 'bookworm-minbase-*.tar' ! -name "bookworm-minbase-$hash.tar" -delete
echo "test-root.sh: built $tarball ($(du -m "$tarball" | cut -f1) MB) in $((SECONDS - t0)) s" >&2
echo "$tarball"
