#!/bin/bash
# Functions of the ferrokeeper image's Bitnami-compatible flavour: validation of the ZOO_*
# variables, zoo.cfg generation, myid, health check. Sourced after zookeeper-env.sh.

# --- logging (stderr, one line per message) ----------------------------------------------
zk_log() {
    local level="$1"
    shift
    printf '%s %s %-5s ==> %s\n' "${MODULE:-zookeeper}" "$(date '+%H:%M:%S.%2N')" "$level" "$*" >&2
}
info() { zk_log INFO "$@"; }
warn() { zk_log WARN "$@"; }
error() { zk_log ERROR "$@"; }
debug() {
    if is_boolean_yes "${BITNAMI_DEBUG:-false}"; then zk_log DEBUG "$@"; fi
}

# yes/true/1 (any case) -> success
is_boolean_yes() {
    case "${1,,}" in
        yes | true | 1) return 0 ;;
        *) return 1 ;;
    esac
}

am_i_root() { [ "$(id -u)" = "0" ]; }

# The ZOO_SERVERS entries, split on commas, semicolons and blanks like the Bitnami image.
zookeeper_server_entries() {
    local list="${ZOO_SERVERS//[;,]/ }"
    local entry
    # shellcheck disable=SC2086
    for entry in $list; do
        printf '%s\n' "$entry"
    done
}

# --- validation ---------------------------------------------------------------------------
zookeeper_validate() {
    local failed=0 var value entry with_ids=no
    fail() {
        error "$1"
        failed=1
    }

    for var in ZOO_PORT_NUMBER ZOO_PROMETHEUS_METRICS_PORT_NUMBER ZOO_ADMIN_SERVER_PORT_NUMBER; do
        value="${!var}"
        if ! [[ "$value" =~ ^[0-9]+$ ]] || ((value < 1 || value > 65535)); then
            fail "An invalid port was specified in the environment variable $var: $value"
        elif ((value < 1024)) && ! am_i_root; then
            fail "An invalid port was specified in the environment variable $var: $value is privileged"
        fi
    done
    if [ "$ZOO_PORT_NUMBER" = "$ZOO_PROMETHEUS_METRICS_PORT_NUMBER" ]; then
        fail "ZOO_PORT_NUMBER and ZOO_PROMETHEUS_METRICS_PORT_NUMBER are bound to the same port"
    fi
    if is_boolean_yes "$ZOO_ENABLE_ADMIN_SERVER"; then
        for var in ZOO_PORT_NUMBER ZOO_PROMETHEUS_METRICS_PORT_NUMBER; do
            if [ "${!var}" = "$ZOO_ADMIN_SERVER_PORT_NUMBER" ]; then
                fail "$var and ZOO_ADMIN_SERVER_PORT_NUMBER are bound to the same port"
            fi
        done
    fi

    # Like Bitnami: without authentication the container only starts when that is explicitly
    # allowed (ALLOW_EMPTY_PASSWORD in newer images, ALLOW_ANONYMOUS_LOGIN in older ones and in
    # the chart).
    if is_boolean_yes "$ALLOW_EMPTY_PASSWORD" || is_boolean_yes "$ALLOW_ANONYMOUS_LOGIN"; then
        warn "Anonymous login is allowed (ALLOW_ANONYMOUS_LOGIN/ALLOW_EMPTY_PASSWORD=yes). For safety reasons, do not use this in a production environment."
    elif ! is_boolean_yes "$ZOO_ENABLE_AUTH"; then
        fail "ZooKeeper authentication is disabled. Set ALLOW_ANONYMOUS_LOGIN=yes (or ALLOW_EMPTY_PASSWORD=yes) to allow starting ZooKeeper without authentication. This is only recommended for development environments."
    fi

    # Features ferrokeeper does not have yet: refuse rather than run without the protection asked for.
    if is_boolean_yes "$ZOO_ENABLE_AUTH"; then
        fail "ZOO_ENABLE_AUTH=yes (SASL client authentication) is not supported by ferrokeeper yet"
    fi
    if is_boolean_yes "$ZOO_ENABLE_QUORUM_AUTH"; then
        fail "ZOO_ENABLE_QUORUM_AUTH=yes (SASL quorum authentication) is not supported by ferrokeeper yet"
    fi
    if is_boolean_yes "$ZOO_TLS_CLIENT_ENABLE"; then
        fail "ZOO_TLS_CLIENT_ENABLE=true (TLS on the client port) is not supported by ferrokeeper yet"
    fi
    if is_boolean_yes "$ZOO_TLS_QUORUM_ENABLE"; then
        fail "ZOO_TLS_QUORUM_ENABLE=true (TLS between servers) is not supported by ferrokeeper yet"
    fi

    if [ -n "$ZOO_SERVERS" ]; then
        [[ "$ZOO_SERVERS" == *"::"* ]] && with_ids=yes
        while IFS= read -r entry; do
            if [ "$with_ids" = yes ]; then
                if ! [[ "$entry" =~ ^[^[:space:]]+:[0-9]+:[0-9]+(:observer|:participant)?::[0-9]+$ ]]; then
                    fail "Zookeeper server ${entry} should follow the syntax host:port:port[:role]::id, e.g. zookeeper:2888:3888::1 zookeeper:2888:3888:observer::4"
                fi
            elif ! [[ "$entry" =~ ^[^[:space:]]+:[0-9]+:[0-9]+(:observer|:participant)?$ ]]; then
                fail "Zookeeper server ${entry} should follow the syntax host:port:port[:role], e.g. zookeeper:2888:3888 zookeeper:2888:3888:observer"
            fi
        done < <(zookeeper_server_entries)
    fi

    if ! [[ "$ZOO_SERVER_ID" =~ ^[0-9]+$ ]]; then
        fail "ZOO_SERVER_ID must be a number, not '$ZOO_SERVER_ID'"
    fi
    case "$ZOO_PEER_TYPE" in
        "" | observer | participant) ;;
        *) fail "The ZOO_PEER_TYPE environment ${ZOO_PEER_TYPE} should be one of [observer/participant]" ;;
    esac
    for var in ZOO_TLS_CLIENT_AUTH ZOO_TLS_QUORUM_CLIENT_AUTH; do
        case "${!var}" in
            none | want | need) ;;
            *) fail "The allowed values for $var are: none want need" ;;
        esac
    done

    unset -f fail
    return "$failed"
}

# --- zoo.cfg ------------------------------------------------------------------------------
# zookeeper_conf_set FILE KEY VALUE: replaces the line "KEY=..." (also a commented-out one)
# or appends it. Empty values are not written.
zookeeper_conf_set() {
    local file="$1" key="$2" value="${3-}"
    [ -n "$value" ] || return 0
    local tmp="$file.tmp.$$"
    touch "$file"
    awk -v key="$key" -v line="$key=$value" '
        {
            k = $0
            sub(/^[ \t#]*/, "", k)
            eq = index(k, "=")
            if (!done && eq > 0) {
                name = substr(k, 1, eq - 1)
                sub(/[ \t]+$/, "", name)
                if (name == key) { print line; done = 1; next }
            }
            print
        }
        END { if (!done) print line }' "$file" >"$tmp"
    cat "$tmp" >"$file"
    rm -f "$tmp"
}

# Appends one -D flag (or any JVM flag) to JVMFLAGS and persists it in java.env, which
# ferrokeeper reads like zkEnv.sh does.
zookeeper_export_jvmflags() {
    export JVMFLAGS="${JVMFLAGS:+$JVMFLAGS }$1"
    printf 'export JVMFLAGS="%s"\n' "$JVMFLAGS" >"${ZOO_CONF_DIR}/java.env"
}

yes_no_bool() {
    if is_boolean_yes "$1"; then echo true; else echo false; fi
}

zookeeper_generate_conf() {
    local cfg="$ZOO_CONF_FILE" entry id hostports i
    {
        echo "# Generated by the ferrokeeper image (Bitnami-compatible flavour) from ZOO_* variables."
        echo "# It is regenerated only when this file does not exist."
    } >"$cfg"
    chmod 600 "$cfg"
    zookeeper_conf_set "$cfg" tickTime "$ZOO_TICK_TIME"
    zookeeper_conf_set "$cfg" initLimit "$ZOO_INIT_LIMIT"
    zookeeper_conf_set "$cfg" syncLimit "$ZOO_SYNC_LIMIT"
    zookeeper_conf_set "$cfg" preAllocSize "$ZOO_PRE_ALLOC_SIZE"
    zookeeper_conf_set "$cfg" snapCount "$ZOO_SNAPCOUNT"
    zookeeper_conf_set "$cfg" dataDir "$ZOO_DATA_DIR"
    zookeeper_conf_set "$cfg" dataLogDir "$ZOO_DATA_LOG_DIR"
    zookeeper_conf_set "$cfg" clientPort "$ZOO_PORT_NUMBER"
    zookeeper_conf_set "$cfg" maxCnxns "$ZOO_MAX_CNXNS"
    zookeeper_conf_set "$cfg" maxClientCnxns "$ZOO_MAX_CLIENT_CNXNS"
    zookeeper_conf_set "$cfg" reconfigEnabled "$(yes_no_bool "$ZOO_RECONFIG_ENABLED")"
    zookeeper_conf_set "$cfg" quorumListenOnAllIPs "$(yes_no_bool "$ZOO_LISTEN_ALLIPS_ENABLED")"
    zookeeper_conf_set "$cfg" autopurge.purgeInterval "$ZOO_AUTOPURGE_INTERVAL"
    zookeeper_conf_set "$cfg" autopurge.snapRetainCount "$ZOO_AUTOPURGE_RETAIN_COUNT"
    zookeeper_conf_set "$cfg" 4lw.commands.whitelist "$ZOO_4LW_COMMANDS_WHITELIST"
    zookeeper_conf_set "$cfg" maxSessionTimeout "$ZOO_MAX_SESSION_TIMEOUT"
    zookeeper_conf_set "$cfg" admin.serverAddress "$ZOO_ADMIN_SERVER_ADDRESS"
    zookeeper_conf_set "$cfg" admin.serverPort "$ZOO_ADMIN_SERVER_PORT_NUMBER"
    zookeeper_conf_set "$cfg" admin.enableServer "$(yes_no_bool "$ZOO_ENABLE_ADMIN_SERVER")"

    # server.N lines only for more than one server; one entry (a chart with replicaCount=1)
    # means standalone. "host:p:p[:role]::id" gives the id; otherwise the position (from 1).
    local entries=()
    mapfile -t entries < <(zookeeper_server_entries)
    if [ "${#entries[@]}" -gt 1 ]; then
        i=1
        for entry in "${entries[@]}"; do
            if [[ "$entry" == *"::"* ]]; then
                hostports="${entry%%::*}"
                id="${entry##*::}"
            else
                hostports="$entry"
                id="$i"
            fi
            info "Adding server: ${hostports} with id: ${id}"
            zookeeper_conf_set "$cfg" "server.${id}" "${hostports};${ZOO_PORT_NUMBER}"
            i=$((i + 1))
        done
    else
        info "No additional servers were specified. ZooKeeper will run in standalone mode..."
    fi

    if is_boolean_yes "$ZOO_ENABLE_PROMETHEUS_METRICS"; then
        info "Enabling Prometheus metrics..."
        zookeeper_conf_set "$cfg" metricsProvider.className \
            org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
        zookeeper_conf_set "$cfg" metricsProvider.httpPort "$ZOO_PROMETHEUS_METRICS_PORT_NUMBER"
        zookeeper_conf_set "$cfg" metricsProvider.exportJvmInfo true
    fi

    # ZOO_CFG_<KEY>=value -> <key with "_" as ".">=value, applied last so it can override.
    local var key
    for var in $(compgen -v ZOO_CFG_); do
        key="${var#ZOO_CFG_}"
        key="${key//_/.}"
        zookeeper_conf_set "$cfg" "$key" "${!var}"
    done
}

zookeeper_initialize() {
    info "Initializing ZooKeeper..."
    if [ ! -w "$ZOO_CONF_DIR" ] && [ ! -f "$ZOO_CONF_FILE" ]; then
        error "$ZOO_CONF_DIR is not writable and has no zoo.cfg: with a read-only root filesystem mount an emptyDir (or tmpfs) at $ZOO_CONF_DIR, as the bitnami/zookeeper chart does, or mount a zoo.cfg there"
        return 1
    fi
    if [ ! -f "$ZOO_CONF_FILE" ]; then
        info "No injected configuration file found, creating default config files..."
        zookeeper_generate_conf
        if [ -n "$ZOO_HEAP_SIZE" ]; then
            info "ZOO_HEAP_SIZE=${ZOO_HEAP_SIZE} ignored: ferrokeeper is native code and has no JVM heap to size"
        fi
        # As Bitnami: retry binding the election port forever (Kubernetes may be slow to
        # give the pod its address).
        zookeeper_export_jvmflags "-Dzookeeper.electionPortBindRetry=0"
    else
        info "User injected custom configuration detected!"
    fi

    # myid: Bitnami writes it when the data directory is empty; this image writes it whenever
    # it is missing (a data directory with files but no myid would otherwise not start in an
    # ensemble), and never replaces an existing one.
    if [ ! -f "$ZOO_DATA_DIR/myid" ]; then
        if [ -z "$(ls -A "$ZOO_DATA_DIR" 2>/dev/null)" ]; then
            info "Deploying ZooKeeper from scratch..."
        else
            info "Deploying ZooKeeper with persisted data (no myid yet)..."
        fi
        printf '%s\n' "$ZOO_SERVER_ID" >"$ZOO_DATA_DIR/myid"
    else
        info "Deploying ZooKeeper with persisted data..."
    fi

    if [ -n "$ZOO_PEER_TYPE" ]; then
        zookeeper_conf_set "$ZOO_CONF_FILE" peerType "$ZOO_PEER_TYPE"
    fi
}

# The FERROKEEPER_LOG level for ZOO_LOG_LEVEL (logback/log4j level names).
zookeeper_log_filter() {
    case "${1^^}" in
        ALL | TRACE) echo trace ;;
        DEBUG) echo debug ;;
        WARN | WARNING) echo warn ;;
        ERROR | FATAL) echo error ;;
        OFF) echo off ;;
        *) echo info ;;
    esac
}

# --- health -------------------------------------------------------------------------------
# Sends ruok to the client port. Healthy when the server answers imok -- or answers that ruok
# is not in 4lw.commands.whitelist (the image default "srvr, mntr" leaves it out; the process
# is up and serving the port, which is all ruok tells).
zookeeper_healthcheck() {
    local response
    response="$(echo ruok | timeout "$ZOO_HC_TIMEOUT" nc -q 1 -w "$ZOO_HC_TIMEOUT" localhost "$ZOO_PORT_NUMBER" 2>/dev/null || true)"
    if [[ "$response" == *imok* || "$response" == *"ruok is not executed because it is not in the whitelist"* ]]; then
        info "Zookeeper healthcheck succeeded"
        return 0
    fi
    error "Zookeeper healthcheck failed."
    return 1
}
