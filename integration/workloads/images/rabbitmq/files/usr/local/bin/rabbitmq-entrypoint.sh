#!/bin/bash
# The official rabbitmq image's entrypoint, condensed (gosu replaced by setpriv).
set -euo pipefail
if [ "$1" = 'rabbitmq-server' ] && [ "$(id -u)" = '0' ]; then
  find /var/lib/rabbitmq \! -user rabbitmq -exec chown rabbitmq '{}' +
  exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "${BASH_SOURCE[0]}" "$@"
fi
exec "$@"
