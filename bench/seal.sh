#!/usr/bin/env bash
# What the CVE-2019-5736 protection costs, side by side (ratios are the headline; absolute times
# depend on the machine).
#
#   sudo bench/seal.sh [--quick]        (--quick: a few runs only, for CI)
#
# hardened re-executes itself from a detached read-only overlayfs mount for create/run/exec
# (src/sealed.rs); runc and youki copy their whole binary into a sealed memfd instead. The
# overlay cost is measured in situ (`exec` of a missing container seals, then fails like `state`
# does, which does not seal). hardened cannot be made to use its memfd fallback without changing
# the code, so both mechanisms are also measured with a small C helper that re-executes the same
# binary either way, against the same helper executing it directly.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

runs=50 warmup=5
case "${1:-}" in
  --quick) runs=5 warmup=1 ;;
  "") ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
if [ "$(id -u)" != 0 ]; then
  echo "seal.sh: run as root (containers, and the overlay seal needs CAP_SYS_ADMIN)" >&2
  exit 1
fi
for tool in hyperfine jq cc; do
  command -v "$tool" >/dev/null || { echo "seal.sh: $tool is required" >&2; exit 1; }
done
src=${HARDENED:-$here/target/release/hardened}
[ -x "$src" ] || { echo "seal.sh: $src not found: cargo build --release first" >&2; exit 1; }

tmp=$(mktemp -d /tmp/hardened-seal-bench.XXXXXX)
cleanup() {
  "$tmp/bin/hardened" --root "$tmp/state" delete --force bench >/dev/null 2>&1 || true
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT INT TERM

# A private copy (the shared build may be replaced while we measure), alone in its directory
# as the overlay seal expects.
mkdir -p "$tmp/bin" "$tmp/state"
cp "$src" "$tmp/bin/hardened"
hd="$tmp/bin/hardened"
HARDENED=$hd "$here/scripts/mkbundle.sh" "$tmp/bundle" true >/dev/null

cat > "$tmp/reexec.c" <<'C'
/* reexec MODE BIN ARGS...: execute BIN (argv[0] = BIN) the way MODE says.
 *   direct   execv(BIN)
 *   overlay  execveat() it through a detached read-only overlayfs mount of its directory
 *   memfd    copy it into a memfd, seal it, execveat() the memfd (runc/youki) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

static void die(const char *what) { perror(what); exit(127); }

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: reexec direct|overlay|memfd BIN ARGS...\n"); return 2; }
    const char *mode = argv[1], *bin = argv[2];
    char **args = argv + 2;
    extern char **environ;
    int fd;
    if (!strcmp(mode, "direct")) {
        execv(bin, args);
        die("execv");
    } else if (!strcmp(mode, "overlay")) {
        char dir[4096], name[4096], lower[8300];
        snprintf(dir, sizeof dir, "%s", bin);
        snprintf(name, sizeof name, "%s", bin);
        const char *spare = getenv("SPARE");
        if (!spare) { fprintf(stderr, "overlay needs SPARE=<dir>\n"); return 2; }
        snprintf(lower, sizeof lower, "%s:%s", dirname(dir), spare);
        int fs = syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
        if (fs < 0) die("fsopen");
        if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir", lower, 0) < 0) die("fsconfig lowerdir");
        if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) die("fsconfig create");
        int mnt = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
                          MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (mnt < 0) die("fsmount");
        fd = openat(mnt, basename(name), O_PATH | O_CLOEXEC);
        if (fd < 0) die("openat");
    } else if (!strcmp(mode, "memfd")) {
        int in = open(bin, O_RDONLY | O_CLOEXEC);
        if (in < 0) die("open");
        fd = memfd_create("reexec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0) die("memfd_create");
        for (;;) {
            ssize_t n = sendfile(fd, in, NULL, 1 << 30);
            if (n < 0) die("sendfile");
            if (n == 0) break;
        }
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
            die("F_ADD_SEALS");
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    syscall(SYS_execveat, fd, "", args, environ, AT_EMPTY_PATH);
    die("execveat");
}
C
cc -O2 -o "$tmp/reexec" "$tmp/reexec.c"
rx="$tmp/reexec"
spare="$tmp/state"

# Sanity: each way of running the binary works, and the in-situ seal really is the overlay.
for mode in direct overlay memfd; do
  SPARE=$spare "$rx" "$mode" "$hd" --version >/dev/null || { echo "seal.sh: reexec $mode failed" >&2; exit 1; }
done

# name|command|allowed to fail
benches=(
  "state-nosuch|$hd --root $tmp/state state nosuch|yes"
  "exec-nosuch|$hd --root $tmp/state exec nosuch true|yes"
  "direct|$rx direct $hd --root $tmp/state state nosuch|yes"
  "overlay|$rx overlay $hd --root $tmp/state state nosuch|yes"
  "memfd|$rx memfd $hd --root $tmp/state state nosuch|yes"
  "run|$hd --root $tmp/state run -b $tmp/bundle bench|no"
  "features|$hd features|no"
  "hversion|$hd --version|no"
)
youki=/opt/youki/bin/youki
if [ -x "$youki" ]; then
  benches+=("yversion|$youki --version|no")
fi

declare -A mean sd
for b in "${benches[@]}"; do
  IFS='|' read -r name cmd fail <<<"$b"
  flags=(-N --style none --warmup "$warmup" --runs "$runs" --export-json "$tmp/$name.json")
  [ "$fail" = yes ] && flags+=(-i)
  SPARE=$spare hyperfine "${flags[@]}" "$cmd" >/dev/null 2>"$tmp/$name.err" || {
    echo "seal.sh: hyperfine failed for: $cmd" >&2; cat "$tmp/$name.err" >&2; exit 1; }
  mean[$name]=$(jq '.results[0].mean * 1000' "$tmp/$name.json")
  sd[$name]=$(jq '.results[0].stddev // 0 | . * 1000' "$tmp/$name.json")
done

f() { awk -v x="$1" 'BEGIN { printf "%.2f", x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'; }
pct() { awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN { printf "%+.1f%%", (a - b) / c * 100 }'; }
row() { printf '| %s | %s ± %s | %s |\n' "$1" "$(f "${mean[$2]}")" "$(f "${sd[$2]}")" "$3"; }
size_mb() { awk -v s="$(stat -c %s "$1")" 'BEGIN { printf "%.1f MB", s / 1048576 }'; }

echo "## Cost of the CVE-2019-5736 protection ($(uname -r), $(nproc) CPUs, ${runs} runs, warmup ${warmup})"
echo
echo "hardened binary: $(size_mb "$hd")"
echo
echo "| command | mean ± σ (ms) | ratio |"
echo "|---|---|---|"
row "\`hardened state <missing>\` (no seal: baseline)" state-nosuch "1.00×"
row "\`hardened exec <missing> true\` (overlay seal + re-exec, in situ)" exec-nosuch "$(ratio "${mean[exec-nosuch]}" "${mean[state-nosuch]}")"
row "helper: exec \`hardened state <missing>\` directly (helper baseline)" direct "1.00×"
row "helper: re-exec through a read-only overlay (hardened's way)" overlay "$(ratio "${mean[overlay]}" "${mean[direct]}")"
row "helper: copy into a sealed memfd, re-exec (runc/youki's way, $(size_mb "$hd"))" memfd "$(ratio "${mean[memfd]}" "${mean[direct]}")"
row "\`hardened features\` (no seal)" features "–"
row "\`hardened run\` of /bin/true (busybox bundle)" run "–"
row "\`hardened --version\` (no seal)" hversion "1.00×"
if [ -n "${mean[yversion]:-}" ]; then
  row "\`youki --version\` (memfd self-copy, $(size_mb "$youki"))" yversion "$(ratio "${mean[yversion]}" "${mean[hversion]}")"
fi
echo
echo "Seal overhead relative to a whole \`hardened run\`:"
echo "- overlay, in situ: $(pct "${mean[exec-nosuch]}" "${mean[state-nosuch]}" "${mean[run]}") of a run"
echo "- overlay, helper: $(pct "${mean[overlay]}" "${mean[direct]}" "${mean[run]}") of a run"
echo "- memfd copy of this binary, helper: $(pct "${mean[memfd]}" "${mean[direct]}" "${mean[run]}") of a run (paid once per create/run/exec)"
echo
echo "The in-situ row pays for a second start of the runtime (the re-exec) as well as the seal; the"
echo "helper rows start the runtime once each, so they isolate the mechanism (overlay mount vs copy)."
