# shellcheck shell=bash
# Shared helpers for scripts/*. Source it; it defines functions and REPO_ROOT only.

# shellcheck disable=SC2034  # used by the scripts that source this file
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Messages go to stderr so that stdout stays machine-readable (e.g. `devstack env`).
log()  { printf '%s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root for: $* (and sudo is not installed)"
    fi
}

# Where the local servers keep their data: <repo>/.devstack, or a folder under /var/tmp
# when the postgres user cannot enter the checkout (e.g. a clone under /root).
default_devstack_dir() { default_stack_dir .devstack order-service; }

# `default_stack_dir NAME PREFIX`: <repo>/NAME, or /var/tmp/PREFIX-<hash of the checkout's
# path> when the postgres user cannot enter the checkout.
default_stack_dir() {
    if runuser -u postgres -- test -x "$REPO_ROOT" 2>/dev/null || ! id postgres >/dev/null 2>&1; then
        echo "$REPO_ROOT/$1"
    else
        echo "/var/tmp/$2-$(printf '%s' "$REPO_ROOT" | md5sum | cut -c1-8)"
    fi
}

# Current time in milliseconds (for timings and deadlines).
now_ms() { date +%s%3N; }

# True when PID is a live process whose command name is NAME (guards against pid reuse).
pid_alive() {
    local pid="$1" name="${2:-}" comm
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ -d "/proc/$pid" ] || return 1
    # A zombie is gone for our purposes.
    local stat
    { read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
    stat="${stat##*) }"
    [ "${stat%% *}" != Z ] || return 1
    [ -n "$name" ] || return 0
    { read -r comm <"/proc/$pid/comm"; } 2>/dev/null || return 1
    [ "$comm" = "$name" ]
}

# Wait until PID has exited; returns 1 after TIMEOUT seconds (may be fractional-free integer).
wait_pid_gone() {
    local pid="$1" timeout="${2:-30}" deadline
    deadline=$(( $(now_ms) + timeout * 1000 ))
    while pid_alive "$pid"; do
        [ "$(now_ms)" -lt "$deadline" ] || return 1
        sleep 0.05
    done
    return 0
}

# True when a TCP socket listens on PORT (any address). Reads /proc/net/tcp{,6}
# rather than connecting, so servers don't log half-open probe connections.
port_listening() {
    local hex
    hex="$(printf '%04X' "$1")"
    if [ -r /proc/net/tcp ]; then
        grep -qE "^ *[0-9]+: [0-9A-F]+:$hex [0-9A-F]+:[0-9A-F]+ 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

# Percent-encode a string for use inside a URL.
urlencode() {
    local s="$1" out="" c i
    for (( i = 0; i < ${#s}; i++ )); do
        c="${s:i:1}"
        case "$c" in
            [a-zA-Z0-9.~_-]) out+="$c" ;;
            *) out+="$(printf '%%%02X' "'$c")" ;;
        esac
    done
    printf '%s' "$out"
}

# Short hash of the checkout's path: keeps throwaway stacks of two checkouts apart.
repo_hash() { printf '%s' "$REPO_ROOT" | md5sum | cut -c1-8; }

# Throwaway stacks of scripts/test, scripts/test-sanitize and bench/run. `use_stack NAME`
# exports DEVSTACK_DIR and every DEVSTACK_*_PORT for scripts/devstack. Stack N lives in
# the block 2N000: PostgreSQL 2N433, Redis 2N380 (task queue) and 2N381 (cache), RabbitMQ 2N673 (its distribution,
# epmd and rabbitmqctl ports are 2N674-2N686; the functional stack's management UI is
# 2N672, the others have none). All are below 32768, outside Linux's
# ephemeral range (32768-60999), so a client connection never takes a server's port
# while that server is stopped by a test; none is 8000/8001 (api) or 15673 (RabbitMQ UI).
#
#   functional  25xxx   env overrides TEST_DEVSTACK_DIR, TEST_PG_PORT, TEST_REDIS_PORT, TEST_RABBITMQ_PORT
#   long        26xxx   TEST_LONG_DEVSTACK_DIR, TEST_LONG_PG_PORT, ...
#   sanitize    27xxx   TEST_SANITIZE_DEVSTACK_DIR, TEST_SANITIZE_PG_PORT, ...
#   bench       28xxx   BENCH_DEVSTACK_DIR, BENCH_PG_PORT, ... (bench/run's api: 28000)
#   tls         29xxx   TEST_TLS_DEVSTACK_DIR, TEST_TLS_PG_PORT, ... (tests/functional/test_tls.py's
#                       own stack, TLS only: DEVSTACK_TLS_DIR)
use_stack() {
    local name="$1" prefix base dir v
    case "$name" in
        functional) prefix=TEST;          base=25000; dir="/tmp/order-service-test-$(repo_hash)" ;;
        long)       prefix=TEST_LONG;     base=26000; dir="/tmp/order-service-test-long-$(repo_hash)" ;;
        sanitize)   prefix=TEST_SANITIZE; base=27000; dir="/tmp/order-service-test-sanitize-$(repo_hash)" ;;
        bench)      prefix=BENCH;         base=28000; dir="/tmp/order-service-bench" ;;
        tls)        prefix=TEST_TLS;      base=29000; dir="/tmp/order-service-test-tls-$(repo_hash)" ;;
        *) die "use_stack: unknown stack '$name'" ;;
    esac
    v="${prefix}_DEVSTACK_DIR";  export DEVSTACK_DIR="${!v:-$dir}"
    v="${prefix}_PG_PORT";       export DEVSTACK_PG_PORT="${!v:-$((base + 433))}"
    v="${prefix}_REDIS_PORT";    export DEVSTACK_REDIS_PORT="${!v:-$((base + 380))}"
    export DEVSTACK_REDIS_CACHE_PORT=$((DEVSTACK_REDIS_PORT + 1))
    v="${prefix}_RABBITMQ_PORT"; export DEVSTACK_RABBITMQ_PORT="${!v:-$((base + 673))}"
    # Explicit, so that settings for the dev stack in the caller's environment don't leak in.
    export DEVSTACK_RABBITMQ_DIST_PORT=$((DEVSTACK_RABBITMQ_PORT + 1))
    export DEVSTACK_EPMD_PORT=$((DEVSTACK_RABBITMQ_PORT + 2))
    export DEVSTACK_RABBITMQ_CTL_PORT_MIN=$((DEVSTACK_RABBITMQ_PORT + 3))
    # The management UI only on the functional stack (its test checks it), at 2N672.
    if [ "$name" = functional ]; then
        v="${prefix}_RABBITMQ_MGMT_PORT"; export DEVSTACK_RABBITMQ_MGMT_PORT="${!v:-$((base + 672))}"
    else
        export DEVSTACK_RABBITMQ_MGMT_PORT=off
    fi
}

# Milliseconds as "12.3s".
fmt_ms() { printf '%d.%01ds' $(($1 / 1000)) $((($1 % 1000) / 100)); }

# Milliseconds elapsed since T0 (from now_ms), as "12.3s".
ms_since() { fmt_ms $(( $(now_ms) - $1 )); }

# First line of a pid file, digits only; empty if the file is missing.
read_pid() {
    local line=""
    { read -r line <"$1"; } 2>/dev/null || true
    printf '%s' "${line//[^0-9]/}"
}

# Direct children of PID, one a line (from /proc, so procps is not needed).
children_of() {
    local parent="$1" f stat rest ppid pid
    for f in /proc/[0-9]*/stat; do
        read -r stat 2>/dev/null <"$f" || continue
        rest="${stat##*) }"           # fields after "(comm) "
        read -r _ ppid _ <<<"$rest"
        if [ "$ppid" = "$parent" ]; then
            pid="${f#/proc/}"; echo "${pid%/stat}"
        fi
    done
}

# `fail_with_log WHAT LOGFILE MESSAGE`: the log's last lines on stderr, then die.
fail_with_log() {
    log "---- last lines of $2 ----"
    tail -n 40 "$2" >&2 2>/dev/null || log "(no log)"
    log "----"
    die "$1: $3"
}
