#!/bin/bash
# Entrypoint of the redis:7 stand-in (see Dockerfile), after the official image's.
set -euo pipefail

if [ "${1:0:1}" = '-' ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' + 2>/dev/null || true
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
if [ "$1" = redis-server ]; then
    # Protected mode off unless a config file given as the first argument sets it.
    protected=1
    if [ -f "${2:-}" ] && grep -q '^protected-mode' "$2"; then protected=; fi
    if [ -n "$protected" ]; then
        shift
        if [ -f "${1:-}" ]; then conf="$1"; shift; set -- redis-server "$conf" "$@" --protected-mode no
        else set -- redis-server "$@" --protected-mode no; fi
    fi
fi
exec "$@"
