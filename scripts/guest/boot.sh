#!/bin/sh
# Installed in the guest image as /usr/local/sbin/hardened-guest-boot, run by
# hardened-guest.service: mount the payload disk (/dev/vdb) at /payload and run its run.sh,
# which writes its results to /payload/results. The unit powers the guest off afterwards.
set -u
echo "hardened-guest: userspace up after $(cut -d' ' -f1 /proc/uptime) s"
mkdir -p /payload
i=0
while [ ! -b /dev/vdb ] && [ "$i" -lt 60 ]; do sleep 0.5; i=$((i + 1)); done
if ! mount -t ext4 /dev/vdb /payload; then
  echo "hardened-guest: cannot mount the payload disk /dev/vdb"
  exit 1
fi
bash /payload/run.sh
rc=$?
echo "hardened-guest: run.sh exited $rc"
sync
umount /payload || sync
exit 0
