#!/usr/bin/env bash
# Entrypoint of the ferrokeeper image, official flavour: behaves like the entrypoint of the
# Docker Hub `zookeeper` image (3.8/3.9), so that compose files and manifests written for that
# image work unchanged.
#
# * Started as root with a `zkServer.sh ...` command: creates and chowns the data, datalog and
#   log directories (not the config directory) and runs itself again as `zookeeper` (uid 1000).
# * $ZOO_CONF_DIR/zoo.cfg is generated from the ZOO_* variables only when it does not exist;
#   once written (or mounted), the variables have no effect on it.
# * $ZOO_DATA_DIR/myid is written from ZOO_MY_ID (default 1) only when it does not exist.
# * Finally execs the command, so `zkServer.sh start-foreground` -> ferrokeeper is PID 1 and
#   receives SIGTERM directly.
#
# ZOO_SERVERS and ZOO_CFG_EXTRA are split on whitespace (no quoting), as in the official image.
set -eu
set -f  # no pathname expansion: values such as 4lw.commands.whitelist=* stay literal

: "${ZOO_CONF_DIR:=/conf}" "${ZOO_DATA_DIR:=/data}" "${ZOO_DATA_LOG_DIR:=/datalog}" "${ZOO_LOG_DIR:=/logs}"

mkdir -p "$ZOO_DATA_DIR" "$ZOO_DATA_LOG_DIR" "$ZOO_LOG_DIR"

# Root start of the server: hand the writable directories to the zookeeper user and drop root.
# Any other command (zkCli.sh, bash, ...) runs as whatever user the container was given.
if [ "${1:-}" = "zkServer.sh" ] && [ "$(id -u)" = "0" ]; then
    chown -R zookeeper "$ZOO_DATA_DIR" "$ZOO_DATA_LOG_DIR" "$ZOO_LOG_DIR"
    exec gosu zookeeper "$0" "$@"
fi

cfg="$ZOO_CONF_DIR/zoo.cfg"
if [ ! -f "$cfg" ]; then
    tmp="$cfg.tmp.$$"
    {
        printf 'dataDir=%s\n' "$ZOO_DATA_DIR"
        printf 'dataLogDir=%s\n' "$ZOO_DATA_LOG_DIR"
        printf 'tickTime=%s\n' "${ZOO_TICK_TIME:-2000}"
        printf 'initLimit=%s\n' "${ZOO_INIT_LIMIT:-5}"
        printf 'syncLimit=%s\n' "${ZOO_SYNC_LIMIT:-2}"
        printf 'autopurge.snapRetainCount=%s\n' "${ZOO_AUTOPURGE_SNAPRETAINCOUNT:-3}"
        printf 'autopurge.purgeInterval=%s\n' "${ZOO_AUTOPURGE_PURGEINTERVAL:-0}"
        printf 'maxClientCnxns=%s\n' "${ZOO_MAX_CLIENT_CNXNS:-60}"
        printf 'standaloneEnabled=%s\n' "${ZOO_STANDALONE_ENABLED:-true}"
        printf 'admin.enableServer=%s\n' "${ZOO_ADMINSERVER_ENABLED:-true}"
        # No clientPort line: the port comes from the ";2181" of this server's server.N line.
        # shellcheck disable=SC2086 # whitespace splitting is the documented format
        for line in ${ZOO_SERVERS:-server.1=localhost:2888:3888;2181}; do
            printf '%s\n' "$line"
        done
        if [ -n "${ZOO_4LW_COMMANDS_WHITELIST:-}" ]; then
            printf '4lw.commands.whitelist=%s\n' "$ZOO_4LW_COMMANDS_WHITELIST"
        fi
        # shellcheck disable=SC2086
        for line in ${ZOO_CFG_EXTRA:-}; do
            printf '%s\n' "$line"
        done
    } >"$tmp"
    mv -f "$tmp" "$cfg"
fi

if [ ! -f "$ZOO_DATA_DIR/myid" ]; then
    printf '%s\n' "${ZOO_MY_ID:-1}" >"$ZOO_DATA_DIR/myid"
fi

exec "$@"
