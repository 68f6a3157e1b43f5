#!/usr/bin/env bash
# Build the images of the real-workload suite (integration/workloads.rs) from Debian 12 packages
# and import them into the Docker daemon of $DOCKER_HOST (the private test dockerd).
#
#   DOCKER_HOST=unix://... scripts/workload-images.sh        # build if needed, import, tag
#   scripts/workload-images.sh --build-only                  # only the cached rootfs tarball
#
# One root filesystem holds every service, built in two cached stages:
#  1. target/workloads/packages-HASH.tar: debootstrap --variant=minbase bookworm, then one
#     `apt-get install --no-install-recommends` of integration/workloads/packages.txt in a
#     chroot, with a policy-rc.d that keeps services from starting (HASH: that list and the
#     build function); the downloaded .debs stay in target/workloads/debs;
#  2. target/workloads/rootfs-HASH.tar: stage 1 plus each image's files/ and setup.sh
#     (integration/workloads/images/NAME/; HASH: stage 1's and those files').
# Each image is that rootfs with its own CMD/ENTRYPOINT/USER/VOLUME/ENV/WORKDIR
# (images/NAME/image.conf, `docker commit --change` lines): hardened-workloads/NAME:latest. A
# second run reuses both stages and the images already in the daemon.
#
# Nothing is written outside target/workloads/ and a temporary directory; the chroot's mounts
# (proc, dev, the .deb cache) live in a private mount namespace (unshare -m) and vanish with it.
# Prints "rootfs TARBALL" and one "image NAME hardened-workloads/NAME:latest" line per image.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
recipe=$here/integration/workloads
out=$here/target/workloads
mirror=${WORKLOADS_MIRROR:-http://deb.debian.org/debian}
build_only=false
[ "${1:-}" = --build-only ] && build_only=true

if [ "$(id -u)" != 0 ]; then
  echo "workload-images.sh: building a root filesystem needs root" >&2
  exit 1
fi
command -v debootstrap >/dev/null || {
  echo "workload-images.sh: debootstrap not found: apt-get install debootstrap (scripts/deps.sh test)" >&2
  exit 1
}

mkdir -p "$out/debs"
# Two cached stages: the packages (debootstrap + apt-get install; keyed by this script and
# packages.txt) and the images' files on top (keyed by the whole recipe), so a change to an
# entrypoint downloads and installs nothing again.
# The chroot's commands get a clean environment (not the caller's TMPDIR, HOME, locale).
chroot_env=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
  LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)

build_packages() {
  local work r t0=$SECONDS
  work=$(mktemp -d "${TMPDIR:-/tmp}/workload-packages.XXXXXX")
  r=${work:?}/rootfs
  trap 'rm -rf --one-file-system "$work"' RETURN
  echo "workload-images.sh: building $packages (debootstrap and every package)" >&2
  # Everything that mounts runs in a private mount namespace: its mounts disappear with it.
  unshare --mount --propagation private -- bash -euo pipefail -c '
    r=${1:?} debs=${2:?} mirror=${3:?} list=${4:?}; shift 4; chroot_env=("$@")
    debootstrap --variant=minbase --cache-dir="$debs" bookworm "$r" "$mirror" >&2
    rm -f "$r"/var/cache/apt/archives/*.deb
    mount -t proc proc "$r/proc"
    mount --rbind /dev "$r/dev"
    mount --bind "$debs" "$r/var/cache/apt/archives"
    cp /etc/resolv.conf "$r/etc/resolv.conf"
    # The host'"'"'s sources (bookworm, -updates, -security) when it is Debian 12.
    if grep -qs bookworm /etc/apt/sources.list.d/debian.sources; then
      cp /etc/apt/sources.list.d/debian.sources "$r/etc/apt/sources.list.d/debian.sources"
      rm -f "$r/etc/apt/sources.list"
    fi
    # As Docker'"'"'s Debian images: maintainer scripts start no service.
    printf "#!/bin/sh\nexit 101\n" > "$r/usr/sbin/policy-rc.d"
    chmod 0755 "$r/usr/sbin/policy-rc.d"
    chroot "$r" "${chroot_env[@]}" apt-get update -qq >&2
    chroot "$r" "${chroot_env[@]}" apt-get install -y -qq --no-install-recommends \
      $(grep -v "^#" "$list") >&2
    # No apt-get clean: the .debs stay in target/workloads/debs (bind-mounted) for the next build.
  ' workload-packages "$r" "$out/debs" "$mirror" "$recipe/packages.txt" "${chroot_env[@]}"
  : > "${r:?}/etc/resolv.conf"
  rm -rf "${r:?}"/var/lib/apt/lists/* "${r:?}"/usr/share/doc/* "${r:?}"/usr/share/man/*
  tar --numeric-owner --xattrs -C "$r" -cf "$packages.tmp" .
  mv "$packages.tmp" "$packages"
  echo "workload-images.sh: built $packages ($(du -m "$packages" | cut -f1) MB) in $((SECONDS - t0)) s" >&2
  find "$out" -maxdepth 1 -name 'packages-*.tar' ! -name "packages-$hash_pkgs.tar" -delete
}

build_rootfs() {
  local work r d t0=$SECONDS
  work=$(mktemp -d "${TMPDIR:-/tmp}/workload-rootfs.XXXXXX")
  r=${work:?}/rootfs
  trap 'rm -rf --one-file-system "$work"' RETURN
  mkdir "$r"
  tar --numeric-owner --xattrs -C "$r" -xf "$packages"
  # Per image: its files (entrypoints, configs) copied in, then its setup.sh (directories and
  # owners, log symlinks) run in the chroot; it needs no mounts.
  for d in "$recipe"/images/*/; do
    if [ -d "$d/files" ]; then cp -a --no-preserve=ownership "$d/files/." "$r/"; fi
    if [ -f "$d/setup.sh" ]; then
      cp "$d/setup.sh" "$r/tmp/setup.sh"
      chroot "$r" "${chroot_env[@]}" /bin/sh -e /tmp/setup.sh >&2
      rm -f "$r/tmp/setup.sh"
    fi
  done
  tar --numeric-owner --xattrs -C "$r" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  echo "workload-images.sh: built $tarball in $((SECONDS - t0)) s" >&2
  find "$out" -maxdepth 1 -name 'rootfs-*.tar' ! -name "rootfs-$hash.tar" -delete
}

hash_pkgs=$( (declare -f build_packages; cat "$recipe/packages.txt") | sha256sum | cut -c1-16)
hash=$( (echo "$hash_pkgs"; declare -f build_rootfs; cd "$recipe" && find images -type f ! -name image.conf | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-16)
packages=$out/packages-$hash_pkgs.tar
tarball=$out/rootfs-$hash.tar

# One build at a time (two test processes may ask at once).
exec 9> "$out/.lock"
flock 9
[ -f "$tarball" ] || [ -f "$packages" ] || build_packages
[ -f "$tarball" ] || build_rootfs
echo "rootfs $tarball"
$build_only && exit 0

: "${DOCKER_HOST:?workload-images.sh: DOCKER_HOST is not set (the private test dockerd: scripts/daemons.sh)}"
base=hardened-workloads/rootfs:$hash
if ! docker image inspect "$base" >/dev/null 2>&1; then
  t0=$SECONDS
  docker import "$tarball" "$base" >/dev/null
  echo "workload-images.sh: imported $base in $((SECONDS - t0)) s" >&2
fi
for d in "$recipe"/images/*/; do
  name=$(basename "$d")
  tag=hardened-workloads/$name:$hash-$(sha256sum < "$d/image.conf" | cut -c1-8)
  if ! docker image inspect "$tag" >/dev/null 2>&1; then
    changes=()
    while IFS= read -r line; do
      case "$line" in ''|'#'*) continue;; esac
      changes+=(--change "$line")
    done < "$d/image.conf"
    # A container that is never started: its image plus the metadata becomes the image.
    c=$(docker create --network none "$base" /bin/true)
    docker commit "${changes[@]}" "$c" "$tag" >/dev/null
    docker rm "$c" >/dev/null
  fi
  docker tag "$tag" "hardened-workloads/$name:latest"
  echo "image $name hardened-workloads/$name:latest"
done
