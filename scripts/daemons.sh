#!/usr/bin/env bash
# Start (or stop) a private dockerd - with its own managed containerd - and a second private
# containerd with its CRI plugin (what the kubelet talks to) for the integration tests.
# Everything lives under one temporary directory; nothing of the host's Docker or containerd is
# touched (no /etc/docker/daemon.json, no /etc/containerd, no /var/lib/docker, /var/lib/containerd,
# /opt/containerd, /etc/cni, /var/run/netns, no default socket). Their containers' cgroups go
# below parents of their own (dockerd --cgroup-parent, the CRI pods' parent), which stop removes.
#
#   eval "$(scripts/daemons.sh start DIR)"   # prints the environment for the tests
#   scripts/daemons.sh stop DIR
#
# dockerd runs with --bridge=none --iptables=false; test containers use --network none. The CRI
# containerd's only CNI plugin is loopback: a pod's network namespace has `lo` and nothing else.
set -euo pipefail
cmd=${1:?usage: daemons.sh start|stop DIR}
dir=${2:?usage: daemons.sh start|stop DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
hardened=${HARDENED:-$here/target/release/hardened}

# Remove the (empty) cgroup PARENT and everything below it, in every hierarchy.
remove_cgroups() {
  local parent=$1
  [ -n "$parent" ] || return 0
  awk '$0 ~ / - cgroup2? / {print $5}' /proc/self/mountinfo | while read -r m; do
    [ -d "$m$parent" ] || continue
    find "$m$parent" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

# The CRI containerd (DIR/cri): its pods first (containers, tasks, shims), then the daemon, then
# whatever a crash left: runtime state, shims.
stop_cri() {
  local cri=$dir/cri sock=$dir/cri/containerd.sock pid id
  [ -d "$cri" ] || return 0
  pid=$(cat "$cri/containerd.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    ctr_() { timeout -k 5 30 ctr --address "$sock" --namespace k8s.io "$@"; }
    for id in $(ctr_ tasks ls -q 2>/dev/null || true); do
      ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
    for id in $(ctr_ containers ls -q 2>/dev/null || true); do
      ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true
      ctr_ containers rm "$id" >/dev/null 2>&1 || true
    done
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # Containers the runtime still knows (a killed daemon's pods).
  if [ -d "$cri/runtime-root/k8s.io" ] && [ -x "$hardened" ]; then
    for id in $(ls "$cri/runtime-root/k8s.io"); do
      "$hardened" --root "$cri/runtime-root/k8s.io" delete --force "$id" >/dev/null 2>&1 || true
    done
  fi
  # The pods' cgroups: the tests put every pod under one parent of this daemon's (as the kubelet
  # puts them under kubepods); a pod whose test was killed leaves its directory there.
  remove_cgroups "$(cat "$cri/cgroup-parent" 2>/dev/null || true)"
  # Shims of this containerd (they outlive it): found by the address they were given.
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -q -- "-address $sock "; then
      kill -9 "${p#/proc/}" 2>/dev/null || true
    fi
  done
}

stop() {
  stop_cri
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
  # The containers' cgroup parent of this dockerd (--cgroup-parent): empty once the containers
  # are gone, removed in every hierarchy.
  parent=$(cat "$dir/docker-cgroup-parent" 2>/dev/null || true)
  case "$parent" in *.slice) systemctl stop "$parent" 2>/dev/null || true; parent=/$parent ;; esac
  remove_cgroups "$parent"
  # Unmount whatever the daemons left mounted below DIR (deepest first).
  if [ -d "$dir" ]; then
    awk -v d="$dir" '$5 ~ "^"d {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
      umount -l "$m" 2>/dev/null || true
    done
  fi
}


# The CRI containerd: a second private containerd with its CRI plugin, as a Kubernetes node runs
# it, with `hardened` as the runtime handler "hardened" (a RuntimeClass's handler). Images are
# built here and imported; nothing is pulled.
start_cri() {
  local cri=$dir/cri sock=$dir/cri/containerd.sock
  command -v containerd >/dev/null || { echo "daemons.sh: containerd not found: apt-get install containerd" >&2; return 1; }
  [ -x /usr/lib/cni/loopback ] || { echo "daemons.sh: /usr/lib/cni/loopback not found: apt-get install containernetworking-plugins" >&2; return 1; }
  mkdir -p "$cri"/{root,state,opt,cni,runtime-root,images}
  # The cgroup parent of the test pods (the tests read it from HARDENED_TEST_CRI_CGROUP_PARENT).
  echo "/hardened-test-cri-$(basename "$(dirname "$dir")")-$$" > "$cri/cgroup-parent"
  # The sandbox ("pause") image: one static binary that holds the pod's namespaces and reaps;
  # like Kubernetes' own pause image, it runs as 65535 and has a PATH.
  rm -rf "$cri/images/pause"
  mkdir -p "$cri/images/pause"
  gcc -static -O2 -o "$cri/images/pause/pause" "$here/scripts/cri/pause.c"
  tar -C "$cri/images/pause" -c pause | DOCKER_HOST="unix://$dir/docker.sock" docker import \
    -c 'ENTRYPOINT ["/pause"]' -c 'USER 65535:65535' \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - hardened-test/pause:latest >/dev/null
  DOCKER_HOST="unix://$dir/docker.sock" docker save -o "$cri/images/images.tar" \
    hardened-test/busybox:latest hardened-test/pause:latest
  # The policy of the "hardened" handler: the built-in defaults, one operator profile, the audit
  # log under DIR. The runc v2 shim cannot pass runtime arguments: the runtime finds the policy
  # through HARDENED_POLICY, which containerd's environment gives to every shim it starts.
  cat > "$dir/policy/cri.toml" <<TOML
audit_log = "$dir/audit/cri.log"
[profiles.netadmin]
allow_capabilities = ["NET_ADMIN"]
# The pod's network namespace (made by containerd's CRI) belongs to the host's user namespace:
# NET_ADMIN in a user namespace of the pod's own would not reach it (docs/kubernetes.md).
user_namespace = false
TOML
  # CNI: the loopback plugin only; no bridge, no interface made, no address assigned: the
  # pod's network namespace has `lo` and nothing else. containerd 1.6's CRI plugin insists that
  # the default network reports an address on "eth0" (else RunPodSandbox fails: "failed to find
  # network info for sandbox"), and loopback reports "lo" only. So the plugin is given a fixed
  # previous result, which it passes through as its own (as it does in a chain), that files the
  # pod's loopback address under that name: the pod's IP then reads 127.0.0.1.
  cat > "$cri/cni/10-loopback.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "hardened-test-loopback-only",
  "plugins": [
    {
      "type": "loopback",
      "prevResult": {
        "cniVersion": "1.0.0",
        "interfaces": [ { "name": "eth0" } ],
        "ips": [ { "interface": 0, "address": "127.0.0.1/8" } ]
      }
    }
  ]
}
JSON
  cat > "$cri/config.toml" <<TOML
version = 2
root = "$cri/root"
state = "$cri/state"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.internal.v1.tracing",
]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  level = "info"
[plugins."io.containerd.internal.v1.opt"]
  path = "$cri/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/hardened-test/pause:latest"
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # This machine's capability bounding set lacks CAP_SYS_RESOURCE (shared/context.md): nothing
  # here may lower an oom_score_adj, runc neither ("failed to update /proc/self/oom_score_adj:
  # Permission denied" for the sandbox's -998). containerd then keeps scores at or above its own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$cri/cni"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$cri/runc-root"
TOML
  # The handler, as an operator adds it: `hardened install containerd` (the CRI tests then prove
  # that what it writes works). Its options table comes last; the shim's state root goes there,
  # under DIR (the default would be the host's /run/containerd/runc).
  "$hardened" install containerd --config "$cri/config.toml" --path "$hardened" >/dev/null
  tail -n 3 "$cri/config.toml" | grep -qF 'runtimes.hardened.options]' || {
    echo "daemons.sh: unexpected layout of the installed handler:" >&2; tail "$cri/config.toml" >&2; exit 1; }
  echo "Root = \"$cri/runtime-root\"" >> "$cri/config.toml"
  HARDENED_POLICY="$dir/policy/cri.toml" setsid containerd --config "$cri/config.toml" \
    < /dev/null > "$cri/containerd.log" 2>&1 &
  echo $! > "$cri/containerd.pid"
  for _ in $(seq 1 150); do
    if ctr --address "$sock" version >/dev/null 2>&1; then break; fi
    sleep 0.2
  done
  if ! ctr --address "$sock" plugins ls 2>/dev/null | grep -Eq '^io\.containerd\.grpc\.v1 +cri .* ok *$'; then
    echo "daemons.sh: the CRI containerd did not start with its CRI plugin; its log:" >&2
    tail -30 "$cri/containerd.log" >&2
    return 1
  fi
  # Into the CRI plugin's namespace, unpacked for its snapshotter.
  ctr --address "$sock" --namespace k8s.io images import "$cri/images/images.tar" >/dev/null
}

case "$cmd" in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  command -v dockerd >/dev/null || { echo "daemons.sh: dockerd not found: apt-get install docker.io" >&2; exit 1; }
  # Policies of the test runtimes; every audit log stays under DIR.
  mkdir -p "$dir/policy" "$dir/audit"
  # Its containers' cgroups go below a parent of its own (not the host's /docker), removed by stop.
  # On a cgroup v2 host with systemd as init, dockerd uses the systemd cgroup driver, whose parent
  # is a slice (no '-' in the name: systemd would nest it) at /sys/fs/cgroup/NAME.slice.
  if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && [ -d /run/systemd/system ]; then
    echo "hardened_test_docker_$$.slice" > "$dir/docker-cgroup-parent"
  else
    echo "/hardened-test-docker-$$" > "$dir/docker-cgroup-parent"
  fi
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
  # CHOWN only (Docker's default set asks for it; the default policy drops it): chown on tmpfs.
  cat > "$dir/policy/chown.toml" <<TOML
audit_log = "$dir/audit/chown.log"
[defaults]
allow_capabilities = ["CHOWN"]
TOML
  # A writable root filesystem under the policy's user namespace (the idmapped overlay's upper).
  cat > "$dir/policy/writable.toml" <<TOML
audit_log = "$dir/audit/writable.log"
[defaults]
readonly_rootfs = false
TOML
  # Containers may only have cgroups below the daemon's own parent (the cgroup-path rule).
  cat > "$dir/policy/parents.toml" <<TOML
audit_log = "$dir/audit/parents.log"
allowed_cgroup_parents = ["$(cat "$dir/docker-cgroup-parent")"]
TOML
  # Learn mode (integration/learn.rs): profiles learned into DIR/learned; the test adopts one
  # as "adopted" in DIR/adopted, which hardened-adopted runs every container under (Docker 20.10
  # passes no annotation to pick a profile).
  mkdir -p "$dir/learned" "$dir/adopted"
  cat > "$dir/policy/learn.toml" <<TOML
mode = "learn"
audit_log = "$dir/audit/learn.log"
learn_dir = "$dir/learned"
TOML
  cat > "$dir/policy/adopted.toml" <<TOML
audit_log = "$dir/audit/adopted.log"
profile_dirs = ["$dir/adopted"]
default_profile = "adopted"
TOML
  cat > "$dir/policy/hints.toml" <<TOML
audit_log = "$dir/audit/hints.log"
hints = true
TOML
  rt() { printf '"%s": { "path": "%s", "runtimeArgs": ["--policy", "%s"] }' "$1" "$hardened" "$dir/policy/$2.toml"; }
  # The workload suite's profiles (integration/workloads/profiles/NAME.toml, docs/workloads.md):
  # one runtime hardened-wl-NAME each, the audit log under DIR.
  wl=""
  for f in "$here"/integration/workloads/profiles/*.toml; do
    n=$(basename "$f" .toml)
    { printf 'audit_log = "%s"\n' "$dir/audit/workloads.log"; cat "$f"; } > "$dir/policy/wl-$n.toml"
    wl="$wl, $(rt "hardened-wl-$n" "wl-$n")"
  done
  # Per workload image, a runtime that runs the profile learned from it (integration/workloads.rs
  # adopts it into DIR/adopted-wl/NAME as [profiles.NAME]).
  for d in "$here"/integration/workloads/images/*/; do
    n=$(basename "$d")
    mkdir -p "$dir/adopted-wl/$n"
    cat > "$dir/policy/adopted-wl-$n.toml" <<TOML
audit_log = "$dir/audit/workloads.log"
profile_dirs = ["$dir/adopted-wl/$n"]
default_profile = "$n"
TOML
    wl="$wl, $(rt "hardened-adopted-$n" "adopted-wl-$n")"
  done
  cat > "$dir/daemon.json" <<JSON
{
  "runtimes": {
    $(rt hardened default),
    $(rt hardened-allow allow),
    $(rt hardened-audit audit),
    $(rt hardened-permissive permissive),
    $(rt hardened-web web),
    $(rt hardened-chown chown),
    $(rt hardened-writable writable),
    $(rt hardened-parents parents),
    $(rt hardened-learn learn),
    $(rt hardened-hints hints),
    $(rt hardened-adopted adopted)$wl
  },
  "storage-driver": "overlay2",
  "log-driver": "json-file"
}
JSON
  dockerd \
    --cgroup-parent "$(cat "$dir/docker-cgroup-parent")" \
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
  if ! start_cri; then
    stop
    exit 1
  fi
  echo "export DOCKER_HOST=unix://$dir/docker.sock"
  echo "export HARDENED_TEST_DOCKER=unix://$dir/docker.sock"
  echo "export HARDENED_TEST_CONTAINERD=$dir/exec/containerd/containerd.sock"
  echo "export HARDENED_TEST_IMAGE=hardened-test/busybox:latest"
  echo "export HARDENED_TEST_BUNDLE_IMAGE=$img"
  echo "export HARDENED_BIN=$hardened"
  echo "export HARDENED_TEST_DAEMON_DIR=$dir"
  echo "export HARDENED_TEST_CRI=$dir/cri/containerd.sock"
  echo "export HARDENED_TEST_CRI_IMAGE=docker.io/hardened-test/busybox:latest"
  echo "export HARDENED_TEST_CRI_RUNTIME_ROOT=$dir/cri/runtime-root/k8s.io"
  echo "export HARDENED_TEST_CRI_AUDIT=$dir/audit/cri.log"
  echo "export HARDENED_TEST_CRI_CGROUP_PARENT=$(cat "$dir/cri/cgroup-parent")"
  ;;
stop)
  stop
  ;;
*)
  echo "usage: daemons.sh start|stop DIR" >&2; exit 2;;
esac
