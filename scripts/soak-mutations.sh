#!/usr/bin/env bash
# The long part of the config-mutation suite (integration/badinput.rs), as root:
#   scripts/soak-mutations.sh [COUNT [SEED]]      (default 1000 mutations, seed 13)
# Every mutation runs `hardened create` and `delete --force` (or `hardened check` when it could
# reach outside the test's own cgroup) with a hard timeout; the summary line gives the figures
# that docs/reliability.md records (panics, hangs, leftovers, bad error lines, type errors that
# name no JSON path).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
if [ "$(id -u)" != 0 ]; then
  echo "scripts/soak-mutations.sh: the mutations run real containers: run as root" >&2
  exit 1
fi
work=$(mktemp -d /tmp/hardened-mutations.XXXXXX)
chmod 0711 "$work"
trap 'rm -rf --one-file-system "$work"' EXIT INT TERM
printf 'audit_log = "%s"\n' "$work/audit.log" > "$work/policy.toml"
export HARDENED_POLICY="$work/policy.toml" TMPDIR="$work"
export HARDENED_MUTATIONS="${1:-1000}" HARDENED_MUTATION_SEED="${2:-13}"
export HARDENED_MUTATION_REPORT="$work/report.txt"
status=0
cargo test --release --test badinput config_mutations_fail_cleanly -- --nocapture || status=$?
cat "$work/report.txt" 2>/dev/null || true
exit $status
