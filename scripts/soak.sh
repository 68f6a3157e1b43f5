#!/usr/bin/env bash
# Kill-during-create fault suite (issue 13): SIGKILL `create` at a seeded random instant, run
# `delete --force ID` once, and count what is left. As root:
#   sudo scripts/soak.sh                     1000 iterations of hardened, default policy and
#                                            permissive mode, interleaved (~10 min)
#   sudo scripts/soak.sh --quick             50 of each (scripts/test.sh runs this)
#   sudo scripts/soak.sh --runtime runc      the same against Debian's runc
#   sudo scripts/soak.sh --runtime all --markdown FILE
#                                            hardened (both) and runc interleaved in one run,
#                                            the table of docs/reliability.md written to FILE
# Options: --iterations N (default 1000), --seed S (default 1), --min-delay MS / --max-delay MS
#   (the kill instant, default 1-40 ms after the runtime is started: a create takes ~30 ms
#   here, so every phase is hit and about a quarter finish first; the report prints the
#   earliest kill that found create finished and the "phase hit" histogram: what existed right
#   after each kill), --json FILE (raw counts and
#   every iteration that left something, with its phase), --keep (keep the temp dir).
# Environment: HARDENED=binary (default target/release/hardened, built when missing).
#
# What is counted after the one `delete --force`, per iteration: state dirs under the test's
# --root; shadow bundles (<root>/.bundles/ID); user-namespace range files (<root>/.userns);
# cgroup dirs under the test's own parent (/hardened-soak-<pid>) in every cgroup and cgroup2
# hierarchy of /proc/self/mountinfo; mounts naming the temp dir or the id in the host's mount
# namespace; processes of the test (orphans reparented to the driver, which is a child
# subreaper as containerd's shim is, and their descendants; anything in a cgroup
# under the test parent, or naming the temp dir or the id); a `delete --force` that failed or timed out.
# One line per kind is printed at the end, with what was found; every leftover is then removed,
# so every iteration starts from a clean host and the host is left clean.
#
# Exit status: 0 when no hardened iteration left anything (with --runtime runc alone: runc's),
# 1 when one did, 3 when the driver could not clean up, 130 when interrupted. The counts are the
# criteria; the only clocks are the kill instant, each command's timeout (timeout -k 5 20; a
# `create` is SIGKILLed by the driver itself by --max-delay and waited for at most 20 s) and
# a 1 s settle for processes already exiting.
#
# Safety: every config sets linux.cgroupsPath to /hardened-soak-<pid>/<id>, asserted before every
# create, and the cgroup paths a runtime recorded are checked before every delete --force: no
# runtime call of this suite can name another cgroup. Every runtime call uses a --root, a
# --policy (audit log inside) and stdio files in a private temp dir (chmod 0711), never the
# host's /dev/null or a terminal; nothing outside it and the test's cgroup parent is changed.
# Processes are signalled only when they are the test's own (checked again, with their start
# time, just before the signal).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ]; then
  echo "scripts/soak.sh: creates containers and cgroups: run as root" >&2
  exit 1
fi
case " $* " in *" -h "*|*" --help "*) sed -n '2,41p' "$0"; exit 0 ;; esac
for cmd in python3 jq timeout umount; do
  command -v "$cmd" >/dev/null || { echo "scripts/soak.sh: $cmd is missing (scripts/deps.sh test)" >&2; exit 1; }
done
case " $* " in
  *" runc "*|*" all "*) command -v runc >/dev/null || { echo "scripts/soak.sh: runc is missing (scripts/deps.sh test)" >&2; exit 1; } ;;
esac
hardened=${HARDENED:-$here/target/release/hardened}
if [ ! -x "$hardened" ]; then
  (cd "$here" && cargo build --release)
fi
exec python3 "$here/scripts/soak.py" --hardened "$hardened" --mkbundle "$here/scripts/mkbundle.sh" \
  --repo "$here" "$@"
