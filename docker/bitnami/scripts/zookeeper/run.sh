#!/bin/bash
# Starts the server in the foreground (/opt/bitnami/scripts/zookeeper/run.sh, also /run.sh):
# zkServer.sh start-foreground execs ferrokeeper, which becomes the container's main process and
# stops cleanly on SIGTERM. Started as root, it runs as the zookeeper user (uid 1001).
set -o errexit -o nounset -o pipefail

# shellcheck source=../zookeeper-env.sh
. /opt/bitnami/scripts/zookeeper-env.sh
# shellcheck source=../libzookeeper.sh
. /opt/bitnami/scripts/libzookeeper.sh

# ZOO_LOG_LEVEL (Bitnami edits logback.xml with it) becomes ferrokeeper's log filter, unless
# FERROKEEPER_LOG is set explicitly.
FERROKEEPER_LOG="${FERROKEEPER_LOG:-$(zookeeper_log_filter "$ZOO_LOG_LEVEL")}"
export FERROKEEPER_LOG

START_COMMAND=("${ZOO_BIN_DIR}/zkServer.sh" "start-foreground" "$@")
info "** Starting ZooKeeper **"
if am_i_root; then
    exec gosu "$ZOO_DAEMON_USER" "${START_COMMAND[@]}"
else
    exec "${START_COMMAND[@]}"
fi
