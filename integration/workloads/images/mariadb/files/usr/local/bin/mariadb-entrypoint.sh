#!/bin/bash
# The official mariadb image's entrypoint, condensed (gosu replaced by setpriv).
set -eo pipefail
if [ "${1:0:1}" = '-' ]; then
  set -- mariadbd "$@"
fi
if [ "$1" = 'mariadbd' ]; then
  if [ "$(id -u)" = '0' ]; then
    find /var/lib/mysql /run/mysqld \! -user mysql -exec chown mysql: '{}' +
    exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
  fi
  if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --datadir=/var/lib/mysql --skip-test-db \
      --auth-root-authentication-method=socket --rpm >&2
  fi
fi
exec "$@"
