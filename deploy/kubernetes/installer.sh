#!/usr/bin/env bash
# hardened's node installer, run by the DaemonSets of installer.yaml and uninstall.yaml:
#
#   installer.sh install     copy the binary to the host's /usr/local/bin/hardened, a policy to
#                            /etc/hardened/policy.toml if the host has none, register the
#                            containerd handler (`hardened install containerd`, run on the host),
#                            restart containerd if its config changed, label the node
#   installer.sh uninstall   remove the node label, then the handler (`hardened uninstall
#                            containerd`), restart containerd if its config changed; the binary
#                            and the policy stay (pods still running under hardened need them)
#
# Both are idempotent. The pod runs privileged with hostPID: commands that act on the host run
# in its namespaces through nsenter. Then the script sleeps (a DaemonSet's pod must keep running)
# and is ready once the work is done.
#
# Settings (environment; the defaults are what the DaemonSets need):
#   NODE_NAME           this node (the downward API's spec.nodeName); required
#   HANDLER             the containerd handler / RuntimeClass handler name (hardened)
#   CONTAINERD_CONFIG   containerd's config on the host (/etc/containerd/config.toml)
#   RESTART_CONTAINERD  how to restart containerd on the host (systemctl restart containerd)
#   HOST_ROOT           where the host's /usr/local/bin and /etc/hardened are mounted (/host;
#                       empty: they are this machine's own, as in the tests)
#   HOST_NSENTER        prefix that runs a command on the host (nsenter -t 1 -m -u -i -n -p --);
#                       empty: run it here (tests, which use a private mount namespace instead)
#   SLEEP_AFTER         sleep after the work (true)
#   SRC_BIN, SRC_POLICY the image's binary and the ConfigMap's policy; SA_DIR the service
#   account's token and CA; READY_FILE the readiness probe's file
set -euo pipefail

mode=${1:-install}
NODE_NAME=${NODE_NAME:?NODE_NAME is not set: give the pod env NODE_NAME from fieldRef spec.nodeName}
HANDLER=${HANDLER:-hardened}
CONTAINERD_CONFIG=${CONTAINERD_CONFIG:-/etc/containerd/config.toml}
RESTART_CONTAINERD=${RESTART_CONTAINERD:-systemctl restart containerd}
HOST_ROOT=${HOST_ROOT-/host}
HOST_NSENTER=${HOST_NSENTER-nsenter -t 1 -m -u -i -n -p --}
SLEEP_AFTER=${SLEEP_AFTER:-true}
SRC_BIN=${SRC_BIN:-/opt/hardened/bin/hardened}
SRC_POLICY=${SRC_POLICY:-/etc/hardened-installer/policy.toml}
SA_DIR=${SA_DIR:-/var/run/secrets/kubernetes.io/serviceaccount}
READY_FILE=${READY_FILE:-/tmp/hardened-installer.ready}
LABEL=hardened.dev/runtime
BIN=/usr/local/bin/hardened          # the binary's path on the host
POLICY=/etc/hardened/policy.toml     # the policy hardened reads under containerd

log() { echo "hardened-installer ($NODE_NAME): $*" >&2; }
die() { log "error: $*"; exit 1; }
# Run a command on the host.
on_host() { $HOST_NSENTER "$@"; }

# Set the node label to a JSON value ("\"true\"", or null to remove it), with the pod's
# service account (RBAC: patch nodes).
label() {
  local host=${KUBERNETES_SERVICE_HOST:?not running in a pod: KUBERNETES_SERVICE_HOST is not set}
  case $host in *:*) host="[$host]";; esac
  curl -fsS --max-time 30 --cacert "$SA_DIR/ca.crt" \
    -H "Authorization: Bearer $(cat "$SA_DIR/token")" \
    -H "Content-Type: application/merge-patch+json" \
    -X PATCH "https://$host:${KUBERNETES_SERVICE_PORT:-443}/api/v1/nodes/$NODE_NAME" \
    -d "{\"metadata\":{\"labels\":{\"$LABEL\":$1}}}" >/dev/null \
    || die "cannot set the label $LABEL on node $NODE_NAME (RBAC: the service account needs patch on nodes)"
}

config_sum() { on_host sh -c "sha256sum '$CONTAINERD_CONFIG' 2>/dev/null || true"; }

restart_containerd() {
  log "restarting containerd: $RESTART_CONTAINERD"
  # shellcheck disable=SC2086
  on_host $RESTART_CONTAINERD || die "could not restart containerd; its config is $CONTAINERD_CONFIG (a backup of the previous one is next to it)"
}

do_install() {
  [ -x "$SRC_BIN" ] || die "$SRC_BIN is missing from the image"
  # The binary: replaced atomically (a running container's shim may be calling it).
  install -D -m 0755 "$SRC_BIN" "$HOST_ROOT$BIN.new"
  mv -f "$HOST_ROOT$BIN.new" "$HOST_ROOT$BIN"
  on_host "$BIN" --version >/dev/null \
    || die "$BIN does not run on this node (it needs glibc and libseccomp2 as new as the image's build): nothing was configured"
  log "installed $BIN ($(on_host "$BIN" --version | head -1))"
  # The policy: the operator's own file is never overwritten.
  if [ -e "$HOST_ROOT$POLICY" ]; then
    log "keeping the node's $POLICY"
  else
    install -D -m 0644 "$SRC_POLICY" "$HOST_ROOT$POLICY"
    log "installed $POLICY from the ConfigMap"
  fi
  on_host "$BIN" policy validate "$POLICY" >&2 \
    || die "$POLICY is not a valid policy: hardened would fail every pod; fix it (hardened policy validate $POLICY)"
  local before after
  before=$(config_sum)
  on_host "$BIN" install containerd --config "$CONTAINERD_CONFIG" --name "$HANDLER" --path "$BIN" >&2
  after=$(config_sum)
  if [ "$before" != "$after" ]; then
    restart_containerd
  fi
  label '"true"'
  log "node labelled $LABEL=true: pods with runtimeClassName $HANDLER can run here"
}

do_uninstall() {
  label null
  log "label $LABEL removed: no new pods with runtimeClassName $HANDLER come here"
  if on_host test -x "$BIN"; then
    local before after
    before=$(config_sum)
    on_host "$BIN" uninstall containerd --config "$CONTAINERD_CONFIG" --name "$HANDLER" >&2
    after=$(config_sum)
    if [ "$before" != "$after" ]; then
      restart_containerd
    fi
  else
    log "$BIN is not on this node: no handler to remove"
  fi
  log "kept $BIN and $POLICY: delete them once no pod of RuntimeClass $HANDLER runs on this node"
}

case "$mode" in
  install) do_install ;;
  uninstall) do_uninstall ;;
  *) die "unknown mode $mode: use install or uninstall" ;;
esac
touch "$READY_FILE"
log "done ($mode)"
if [ "$SLEEP_AFTER" = true ]; then
  trap 'exit 0' TERM INT
  sleep infinity &
  wait
fi
