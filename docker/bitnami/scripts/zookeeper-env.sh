#!/bin/bash
# Environment of the ferrokeeper image, Bitnami-compatible flavour: the variables, defaults
# and paths of the bitnami/zookeeper image (3.8/3.9), so that the bitnami/zookeeper Helm chart,
# compose files and scripts written for that image work with ferrokeeper. Sourced by every
# script under /opt/bitnami/scripts/zookeeper/.
#
# Every variable of the list below may instead be given as <NAME>_FILE=<path>: the file's
# content becomes the value (for Kubernetes secrets mounted as files).

# shellcheck disable=SC2034 # this file only defines variables for its callers

export BITNAMI_ROOT_DIR="/opt/bitnami"
export BITNAMI_VOLUME_DIR="/bitnami"
export MODULE="${MODULE:-zookeeper}"
export BITNAMI_DEBUG="${BITNAMI_DEBUG:-false}"

for __zk_var in \
    ZOO_DATA_LOG_DIR ZOO_PORT_NUMBER ZOO_SERVER_ID ZOO_SERVERS ZOO_ENABLE_ADMIN_SERVER \
    ZOO_ADMIN_SERVER_ADDRESS ZOO_ADMIN_SERVER_PORT_NUMBER ZOO_PEER_TYPE ZOO_TICK_TIME \
    ZOO_INIT_LIMIT ZOO_SYNC_LIMIT ZOO_MAX_CNXNS ZOO_MAX_CLIENT_CNXNS ZOO_AUTOPURGE_INTERVAL \
    ZOO_AUTOPURGE_RETAIN_COUNT ZOO_LOG_LEVEL ZOO_4LW_COMMANDS_WHITELIST ZOO_RECONFIG_ENABLED \
    ZOO_LISTEN_ALLIPS_ENABLED ZOO_ENABLE_PROMETHEUS_METRICS ZOO_PROMETHEUS_METRICS_PORT_NUMBER \
    ZOO_MAX_SESSION_TIMEOUT ZOO_PRE_ALLOC_SIZE ZOO_SNAPCOUNT ZOO_HC_TIMEOUT ZOO_FIPS_MODE \
    ZOO_TLS_CLIENT_ENABLE ZOO_TLS_PORT_NUMBER ZOO_TLS_CLIENT_KEYSTORE_FILE \
    ZOO_TLS_CLIENT_KEYSTORE_TYPE ZOO_TLS_CLIENT_KEYSTORE_PASSWORD ZOO_TLS_CLIENT_TRUSTSTORE_FILE \
    ZOO_TLS_CLIENT_TRUSTSTORE_TYPE ZOO_TLS_CLIENT_TRUSTSTORE_PASSWORD ZOO_TLS_CLIENT_AUTH \
    ZOO_TLS_QUORUM_ENABLE ZOO_TLS_QUORUM_KEYSTORE_FILE ZOO_TLS_QUORUM_KEYSTORE_TYPE \
    ZOO_TLS_QUORUM_KEYSTORE_PASSWORD ZOO_TLS_QUORUM_TRUSTSTORE_FILE \
    ZOO_TLS_QUORUM_TRUSTSTORE_TYPE ZOO_TLS_QUORUM_TRUSTSTORE_PASSWORD ZOO_TLS_QUORUM_CLIENT_AUTH \
    JVMFLAGS ZOO_HEAP_SIZE ZOO_ENABLE_AUTH ALLOW_EMPTY_PASSWORD ALLOW_ANONYMOUS_LOGIN \
    ZOO_CLIENT_USER ZOO_SERVER_USERS ZOO_CLIENT_PASSWORD ZOO_SERVER_PASSWORDS \
    ZOO_ENABLE_QUORUM_AUTH ZOO_QUORUM_LEARNER_USER ZOO_QUORUM_LEARNER_PASSWORD \
    ZOO_QUORUM_SERVER_USERS ZOO_QUORUM_SERVER_PASSWORDS; do
    __zk_file_var="${__zk_var}_FILE"
    if [ -n "${!__zk_file_var:-}" ]; then
        if [ -r "${!__zk_file_var}" ]; then
            export "${__zk_var}=$(<"${!__zk_file_var}")"
            unset "$__zk_file_var"
        else
            printf '%s WARN  ==> %s is not readable; %s left unset\n' \
                "$MODULE" "${!__zk_file_var}" "$__zk_var" >&2
        fi
    fi
done
unset __zk_var __zk_file_var

# Paths (fixed, as in the Bitnami image).
export ZOO_BASE_DIR="${BITNAMI_ROOT_DIR}/zookeeper"
export ZOO_VOLUME_DIR="${BITNAMI_VOLUME_DIR}/zookeeper"
export ZOO_DATA_DIR="${ZOO_VOLUME_DIR}/data"
export ZOO_DATA_LOG_DIR="${ZOO_DATA_LOG_DIR:-}"
export ZOO_CONF_DIR="${ZOO_BASE_DIR}/conf"
export ZOO_DEFAULT_CONF_DIR="${ZOO_BASE_DIR}/conf.default"
export ZOO_CONF_FILE="${ZOO_CONF_DIR}/zoo.cfg"
export ZOO_LOG_DIR="${ZOO_BASE_DIR}/logs"
export ZOO_LOG_FILE="${ZOO_LOG_DIR}/zookeeper.out"
export ZOO_BIN_DIR="${ZOO_BASE_DIR}/bin"
export ZOO_PID_FILE="${ZOO_DATA_DIR}/zookeeper_server.pid"

# The user the server runs as when the container is started as root.
export ZOO_DAEMON_USER="zookeeper"
export ZOO_DAEMON_GROUP="zookeeper"

# Server id. The bitnami/zookeeper chart computes it from the pod ordinal in its own command
# (ordinal + minServerId). Without ZOO_SERVER_ID, inside Kubernetes (KUBERNETES_SERVICE_HOST
# set) and with a StatefulSet-style host name "<name>-<ordinal>", this image does the same with
# ZOO_MIN_SERVER_ID (default 1); everywhere else the default stays Bitnami's 1.
if [ -z "${ZOO_SERVER_ID:-}" ] && [ -n "${KUBERNETES_SERVICE_HOST:-}" ]; then
    __zk_host="$(hostname -s 2>/dev/null || hostname)"
    if [[ "$__zk_host" =~ -([0-9]+)$ ]]; then
        ZOO_SERVER_ID="$((10#${BASH_REMATCH[1]} + ${ZOO_MIN_SERVER_ID:-1}))"
    fi
    unset __zk_host
fi

# Cluster.
export ZOO_PORT_NUMBER="${ZOO_PORT_NUMBER:-2181}"
export ZOO_SERVER_ID="${ZOO_SERVER_ID:-1}"
export ZOO_SERVERS="${ZOO_SERVERS:-}"
export ZOO_ENABLE_ADMIN_SERVER="${ZOO_ENABLE_ADMIN_SERVER:-no}"
export ZOO_ADMIN_SERVER_ADDRESS="${ZOO_ADMIN_SERVER_ADDRESS:-127.0.0.1}"
export ZOO_ADMIN_SERVER_PORT_NUMBER="${ZOO_ADMIN_SERVER_PORT_NUMBER:-8080}"
export ZOO_PEER_TYPE="${ZOO_PEER_TYPE:-}"

# Server settings.
export ZOO_TICK_TIME="${ZOO_TICK_TIME:-2000}"
export ZOO_INIT_LIMIT="${ZOO_INIT_LIMIT:-10}"
export ZOO_SYNC_LIMIT="${ZOO_SYNC_LIMIT:-5}"
export ZOO_MAX_CNXNS="${ZOO_MAX_CNXNS:-0}"
export ZOO_MAX_CLIENT_CNXNS="${ZOO_MAX_CLIENT_CNXNS:-60}"
export ZOO_AUTOPURGE_INTERVAL="${ZOO_AUTOPURGE_INTERVAL:-0}"
export ZOO_AUTOPURGE_RETAIN_COUNT="${ZOO_AUTOPURGE_RETAIN_COUNT:-3}"
export ZOO_LOG_LEVEL="${ZOO_LOG_LEVEL:-INFO}"
export ZOO_4LW_COMMANDS_WHITELIST="${ZOO_4LW_COMMANDS_WHITELIST:-srvr, mntr}"
export ZOO_RECONFIG_ENABLED="${ZOO_RECONFIG_ENABLED:-no}"
export ZOO_LISTEN_ALLIPS_ENABLED="${ZOO_LISTEN_ALLIPS_ENABLED:-no}"
export ZOO_ENABLE_PROMETHEUS_METRICS="${ZOO_ENABLE_PROMETHEUS_METRICS:-no}"
export ZOO_PROMETHEUS_METRICS_PORT_NUMBER="${ZOO_PROMETHEUS_METRICS_PORT_NUMBER:-7000}"
export ZOO_MAX_SESSION_TIMEOUT="${ZOO_MAX_SESSION_TIMEOUT:-40000}"
export ZOO_PRE_ALLOC_SIZE="${ZOO_PRE_ALLOC_SIZE:-65536}"
export ZOO_SNAPCOUNT="${ZOO_SNAPCOUNT:-100000}"
export ZOO_HC_TIMEOUT="${ZOO_HC_TIMEOUT:-5}"
export ZOO_FIPS_MODE="${ZOO_FIPS_MODE:-yes}"

# TLS (not available in ferrokeeper yet: setup.sh refuses to start when it is enabled).
export ZOO_TLS_CLIENT_ENABLE="${ZOO_TLS_CLIENT_ENABLE:-false}"
export ZOO_TLS_PORT_NUMBER="${ZOO_TLS_PORT_NUMBER:-3181}"
export ZOO_TLS_CLIENT_AUTH="${ZOO_TLS_CLIENT_AUTH:-need}"
export ZOO_TLS_QUORUM_ENABLE="${ZOO_TLS_QUORUM_ENABLE:-false}"
export ZOO_TLS_QUORUM_CLIENT_AUTH="${ZOO_TLS_QUORUM_CLIENT_AUTH:-need}"

# JVM settings: ferrokeeper reads the -D properties of JVMFLAGS; heap settings do not apply.
export JVMFLAGS="${JVMFLAGS:-}"
export ZOO_HEAP_SIZE="${ZOO_HEAP_SIZE:-1024}"

# Authentication (SASL is not available in ferrokeeper yet: setup.sh refuses ZOO_ENABLE_AUTH=yes
# and ZOO_ENABLE_QUORUM_AUTH=yes rather than start without the protection asked for).
export ZOO_ENABLE_AUTH="${ZOO_ENABLE_AUTH:-no}"
export ALLOW_EMPTY_PASSWORD="${ALLOW_EMPTY_PASSWORD:-no}"
export ALLOW_ANONYMOUS_LOGIN="${ALLOW_ANONYMOUS_LOGIN:-no}"
export ZOO_ENABLE_QUORUM_AUTH="${ZOO_ENABLE_QUORUM_AUTH:-no}"
