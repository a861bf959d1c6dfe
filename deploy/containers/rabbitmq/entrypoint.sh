#!/bin/bash
# Entrypoint of the rabbitmq:3-management stand-in (see Dockerfile).
set -euo pipefail

if [ "$1" != rabbitmq-server ]; then exec "$@"; fi

if [ "$(id -u)" = 0 ]; then
    {
        echo "loopback_users.guest = false"
        echo "listeners.tcp.default = 5672"
        echo "management.tcp.port = 15672"
        echo "log.console = true"
        echo "log.console.level = info"
        echo "log.file = false"
        # Only used when the node starts with an empty database, as in the official image.
        [ -z "${RABBITMQ_DEFAULT_USER:-}" ] || echo "default_user = $RABBITMQ_DEFAULT_USER"
        [ -z "${RABBITMQ_DEFAULT_PASS:-}" ] || echo "default_pass = $RABBITMQ_DEFAULT_PASS"
        [ -z "${RABBITMQ_DEFAULT_VHOST:-}" ] || echo "default_vhost = $RABBITMQ_DEFAULT_VHOST"
        if [ -n "${RABBITMQ_DEFAULT_USER:-}" ]; then
            echo "default_permissions.configure = .*"
            echo "default_permissions.read = .*"
            echo "default_permissions.write = .*"
            echo "default_user_tags.administrator = true"
        fi
    } >/etc/rabbitmq/rabbitmq.conf
    chmod 644 /etc/rabbitmq/rabbitmq.conf
    mkdir -p /var/lib/rabbitmq /var/log/rabbitmq
    chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /var/log/rabbitmq
    exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$0" "$@"
fi
cd /var/lib/rabbitmq
exec /usr/lib/rabbitmq/bin/rabbitmq-server
