#!/bin/sh
set -e
# As the official image: an empty, world-writable (sticky) /var/lib/rabbitmq owned by rabbitmq
# (the package's postinst left a mnesia directory there), the node's config in /etc/rabbitmq.
rm -rf /var/lib/rabbitmq/mnesia
mkdir -p /var/lib/rabbitmq /etc/rabbitmq
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /etc/rabbitmq
chmod 1777 /var/lib/rabbitmq
printf 'loopback_users.guest = false\nlisteners.tcp.default = 5672\n' > /etc/rabbitmq/rabbitmq.conf
