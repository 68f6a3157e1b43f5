#!/usr/bin/env bash
# Build the guest's base image (called by scripts/guest.sh, which caches the result):
#   scripts/guest/build-image.sh OUT MIRROR
# OUT/root.img   ext4 root filesystem (Debian 12, packages.txt, systemd as init)
# OUT/vmlinuz, OUT/initrd.img   the kernel and initrd installed in it
# No loop mount: debootstrap into a directory, then `mkfs.ext4 -d`. Needs root.
set -euo pipefail
out=${1:?usage: build-image.sh OUT MIRROR}
mirror=${2:?usage: build-image.sh OUT MIRROR}
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "build-image.sh: debootstrap needs root" >&2; exit 1; }
mkdir -p "$out"
root="$out/root"
cleanup() { if [ -d "$root" ]; then rm -rf --one-file-system "${root:?}"; fi; }
trap cleanup EXIT
cleanup
include=$(grep -v '^[[:space:]]*#' "$here/packages.txt" | awk 'NF {print $1}' | paste -sd, -)
echo "build-image: debootstrap bookworm from $mirror ($include)" >&2
if ! timeout 2400 debootstrap --variant=minbase --components=main --include="$include" \
  bookworm "$root" "$mirror" > "$out/debootstrap.log" 2>&1; then
  echo "build-image: debootstrap failed; the end of its log ($out/debootstrap.log):" >&2
  tail -30 "$out/debootstrap.log" >&2
  [ -f "$root/debootstrap/debootstrap.log" ] && tail -30 "$root/debootstrap/debootstrap.log" >&2
  exit 1
fi

# The guest's configuration: a hostname, the root filesystem, the stage's unit; nothing that
# listens or waits for a network (the guest has no network device).
echo hardened-guest > "$root/etc/hostname"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' > "$root/etc/fstab"
install -m 0755 "$here/boot.sh" "$root/usr/local/sbin/hardened-guest-boot"
install -m 0644 "$here/hardened-guest.service" "$root/etc/systemd/system/hardened-guest.service"
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/hardened-guest.service \
  "$root/etc/systemd/system/multi-user.target.wants/hardened-guest.service"
# The system's Docker and containerd stay off: the tests start private daemons
# (scripts/daemons.sh), configured by the repository, as on the host. No logins, no timers.
for unit in docker.service docker.socket containerd.service serial-getty@ttyS0.service \
  getty@tty1.service apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer \
  fstrim.timer e2scrub_reap.service systemd-timesyncd.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
# Journal in memory only: nothing to flush, and the guest's disk writes go to a throwaway overlay.
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' > "$root/etc/systemd/journald.conf.d/volatile.conf"
rm -rf --one-file-system "${root:?}/var/cache/apt/archives/"*.deb "${root:?}/var/lib/apt/lists/"*

kernel=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -1)
initrd=$(ls "$root"/boot/initrd.img-* | sort -V | tail -1)
[ -f "$kernel" ] && [ -f "$initrd" ] || { echo "build-image: no kernel/initrd in $root/boot" >&2; exit 1; }
cp "$kernel" "$out/vmlinuz"
cp "$initrd" "$out/initrd.img"
# Room for the tests: Docker's and containerd's data roots live on this disk (the file is sparse,
# and each run writes to a throwaway snapshot of it).
used_mb=$(du -sm --one-file-system "$root" | cut -f1)
size_mb=$((used_mb + 4096))
rm -f "$out/root.img"
mkfs.ext4 -q -F -L hardened-guest -E root_owner=0:0 -d "$root" "$out/root.img" "${size_mb}M"
echo "build-image: $out/root.img (${used_mb} MB used of ${size_mb} MB), kernel $(basename "$kernel")" >&2
