#!/bin/sh
set -e
mkdir -p /var/lib/rabbitmq /etc/rabbitmq
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
# The official image logs to stdout and keeps nothing under /var/log.
printf 'loopback_users.guest = false\nlisteners.tcp.default = 5672\n' > /etc/rabbitmq/rabbitmq.conf
