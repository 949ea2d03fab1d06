#!/bin/bash
# Setup of the ferrokeeper image, Bitnami-compatible flavour: validates the ZOO_* variables,
# creates the directories, writes zoo.cfg (only when absent) and myid (only when absent).
set -o errexit -o nounset -o pipefail

# shellcheck source=../zookeeper-env.sh
. /opt/bitnami/scripts/zookeeper-env.sh
# shellcheck source=../libzookeeper.sh
. /opt/bitnami/scripts/libzookeeper.sh

zookeeper_validate || exit 1

for dir in "$ZOO_DATA_DIR" "$ZOO_CONF_DIR" "$ZOO_LOG_DIR" ${ZOO_DATA_LOG_DIR:+"$ZOO_DATA_LOG_DIR"}; do
    mkdir -p "$dir"
    if am_i_root; then
        chown -R "$ZOO_DAEMON_USER" "$dir"
    fi
done

zookeeper_initialize

# Files written above as root belong to the user the server will run as (run.sh drops to it).
if am_i_root; then
    chown -R "$ZOO_DAEMON_USER" "$ZOO_CONF_DIR" "$ZOO_DATA_DIR" 2>/dev/null \
        || warn "could not hand every file of $ZOO_CONF_DIR and $ZOO_DATA_DIR to $ZOO_DAEMON_USER"
fi
