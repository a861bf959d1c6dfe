#!/usr/bin/env bash
# A RabbitMQ user for order-service, limited to its own vhost, instead of guest.
#
#   RABBITMQ_PASSWORD_FILE=/run/secrets/rabbitmq_password deploy/rabbitmq/setup-user.sh [vhost] [user]
#
# Runs rabbitmqctl on a node of the cluster (pass rabbitmqctl's options in RABBITMQCTL,
# e.g. RABBITMQCTL="rabbitmqctl -n rabbit@node1"). The user may configure, write and read
# only the service's resources in its vhost: the exchange (RABBITMQ_EXCHANGE, `orders`) and
# the queues new_order, new_order.retry and new_order.dlq (RABBITMQ_NEW_ORDER_QUEUE);
# `amq.default` is the default exchange (dead letters go through it). Nothing in any other
# vhost, no management tags. guest is deleted (it may log in from loopback only anyway).
# With other names, adjust RESOURCES below. Set the service's RABBITMQ_VHOST and
# RABBITMQ_USER to the same names.
set -euo pipefail
vhost="${1:-orders}"
user="${2:-orders}"
rmqctl=(${RABBITMQCTL:-rabbitmqctl})
[ -n "${RABBITMQ_PASSWORD_FILE:-}" ] || { echo "set RABBITMQ_PASSWORD_FILE" >&2; exit 2; }
RESOURCES='^(orders|new_order|new_order\.retry|new_order\.dlq)$'
WRITE='^(orders|new_order|new_order\.retry|new_order\.dlq|amq\.default)$'

"${rmqctl[@]}" list_vhosts name | grep -qx "$vhost" || "${rmqctl[@]}" add_vhost "$vhost"
if "${rmqctl[@]}" list_users name | grep -qx "$user"; then
    "${rmqctl[@]}" change_password "$user" "$(cat "$RABBITMQ_PASSWORD_FILE")" >/dev/null
else
    # The password on stdin, never on a command line (ps would show it).
    "${rmqctl[@]}" add_user "$user" <"$RABBITMQ_PASSWORD_FILE" >/dev/null
fi
"${rmqctl[@]}" set_user_tags "$user"
"${rmqctl[@]}" set_permissions -p "$vhost" "$user" "$RESOURCES" "$WRITE" "$RESOURCES"
if "${rmqctl[@]}" list_users name | grep -qx guest; then "${rmqctl[@]}" delete_user guest; fi
