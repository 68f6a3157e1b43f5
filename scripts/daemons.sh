#!/usr/bin/env bash
# Start (or stop) a private dockerd - with its own managed containerd - for the integration
# tests. Everything lives under one temporary directory; nothing of the host's Docker is touched
# (no /etc/docker/daemon.json, no /var/lib/docker, no default socket).
#
#   eval "$(scripts/daemons.sh start DIR)"   # prints the environment for the tests
#   scripts/daemons.sh stop DIR
#
# dockerd runs with --bridge=none --iptables=false; test containers use --network none.
set -euo pipefail
cmd=${1:?usage: daemons.sh start|stop DIR}
dir=${2:?usage: daemons.sh start|stop DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
hardened=${HARDENED:-$here/target/release/hardened}

stop() {
  if [ -f "$dir/docker.pid" ]; then
    pid=$(cat "$dir/docker.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      # Remove our test containers first, then stop the daemon (it stops its containerd).
      DOCKER_HOST="unix://$dir/docker.sock" docker ps -aq 2>/dev/null | xargs -r env DOCKER_HOST="unix://$dir/docker.sock" docker rm -f >/dev/null 2>&1 || true
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  # A containerd left behind by a killed dockerd.
  if [ -f "$dir/exec/containerd/containerd.pid" ]; then
    cpid=$(cat "$dir/exec/containerd/containerd.pid" 2>/dev/null || true)
    [ -n "$cpid" ] && kill "$cpid" 2>/dev/null || true
  fi
  # Unmount whatever the daemons left mounted below DIR (deepest first).
  if [ -d "$dir" ]; then
    awk -v d="$dir" '$5 ~ "^"d {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
      umount -l "$m" 2>/dev/null || true
    done
  fi
}

case "$cmd" in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  command -v dockerd >/dev/null || { echo "daemons.sh: dockerd not found: apt-get install docker.io" >&2; exit 1; }
  # Policies of the test runtimes; every audit log stays under DIR.
  mkdir -p "$dir/policy" "$dir/audit"
  cat > "$dir/policy/default.toml" <<TOML
# the built-in defaults; only the audit log is moved
audit_log = "$dir/audit/default.log"
TOML
  cat > "$dir/policy/allow.toml" <<TOML
audit_log = "$dir/audit/allow.log"
[defaults]
allow_capabilities = ["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE"]
allow_host_namespaces = ["pid", "ipc", "uts"]
allow_mounts = ["/etc", "/dev/shm"]
allow_devices = ["/dev/vda"]
allow_unconfined_seccomp = true
allow_unconfined_systempaths = true
TOML
  cat > "$dir/policy/audit.toml" <<TOML
mode = "audit"
audit_log = "$dir/audit/audit.log"
TOML
  cat > "$dir/policy/permissive.toml" <<TOML
mode = "permissive"
audit_log = "$dir/audit/permissive.log"
TOML
  cat > "$dir/policy/web.toml" <<TOML
audit_log = "$dir/audit/web.log"
[defaults]
allow_capabilities = ["NET_BIND_SERVICE"]
TOML
  rt() { printf '"%s": { "path": "%s", "runtimeArgs": ["--policy", "%s"] }' "$1" "$hardened" "$dir/policy/$2.toml"; }
  cat > "$dir/daemon.json" <<JSON
{
  "runtimes": {
    $(rt hardened default),
    $(rt hardened-allow allow),
    $(rt hardened-audit audit),
    $(rt hardened-permissive permissive),
    $(rt hardened-web web)
  },
  "storage-driver": "overlay2",
  "log-driver": "json-file"
}
JSON
  dockerd \
    --config-file "$dir/daemon.json" \
    --data-root "$dir/data" \
    --exec-root "$dir/exec" \
    --pidfile "$dir/docker.pid" \
    --host "unix://$dir/docker.sock" \
    --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
    > "$dir/dockerd.log" 2>&1 &
  for _ in $(seq 1 150); do
    if DOCKER_HOST="unix://$dir/docker.sock" docker info >/dev/null 2>&1; then break; fi
    sleep 0.2
  done
  if ! DOCKER_HOST="unix://$dir/docker.sock" docker info >/dev/null 2>&1; then
    echo "daemons.sh: dockerd did not start; its log:" >&2
    tail -30 "$dir/dockerd.log" >&2
    stop
    exit 1
  fi
  # The test image: a static busybox root filesystem, imported (nothing is pulled).
  img="$dir/image"
  rm -rf "$img"
  HARDENED="$hardened" "$here/scripts/mkbundle.sh" "$img" >/dev/null
  tar -C "$img/rootfs" -c . | DOCKER_HOST="unix://$dir/docker.sock" docker import \
    -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' - hardened-test/busybox:latest >/dev/null
  echo "export DOCKER_HOST=unix://$dir/docker.sock"
  echo "export HARDENED_TEST_DOCKER=unix://$dir/docker.sock"
  echo "export HARDENED_TEST_CONTAINERD=$dir/exec/containerd/containerd.sock"
  echo "export HARDENED_TEST_IMAGE=hardened-test/busybox:latest"
  echo "export HARDENED_TEST_BUNDLE_IMAGE=$img"
  echo "export HARDENED_BIN=$hardened"
  echo "export HARDENED_TEST_DAEMON_DIR=$dir"
  ;;
stop)
  stop
  ;;
*)
  echo "usage: daemons.sh start|stop DIR" >&2; exit 2;;
esac
