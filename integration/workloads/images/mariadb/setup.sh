#!/bin/sh
set -e
rm -rf /var/lib/mysql
mkdir -p /var/lib/mysql /run/mysqld
chown mysql:mysql /var/lib/mysql /run/mysqld
chmod 1777 /run/mysqld
printf '[mariadbd]\nskip-host-cache\nskip-name-resolve\n' > /etc/mysql/mariadb.conf.d/05-skipcache.cnf
