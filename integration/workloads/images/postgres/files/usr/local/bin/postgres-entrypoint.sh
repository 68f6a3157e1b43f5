#!/bin/bash
# The official postgres image's entrypoint, condensed (gosu replaced by setpriv; trust auth).
set -Eeo pipefail
if [ "$1" = 'postgres' ]; then
  if [ "$(id -u)" = '0' ]; then
    mkdir -p "$PGDATA"
    chown postgres "$PGDATA"
    chmod 00700 "$PGDATA"
    mkdir -p /var/run/postgresql
    chown postgres /var/run/postgresql
    chmod 03775 /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
  fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initdb --username=postgres --auth=trust -D "$PGDATA" >&2
    printf "listen_addresses = '127.0.0.1'\n" >> "$PGDATA/postgresql.conf"
  fi
fi
exec "$@"
