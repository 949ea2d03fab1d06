#!/bin/bash
# Entrypoint of the ferrokeeper image, Bitnami-compatible flavour
# (/opt/bitnami/scripts/zookeeper/entrypoint.sh, also /entrypoint.sh).
# Copies the default configuration files that are missing into the config directory (an
# emptyDir in the bitnami/zookeeper chart), runs setup.sh when the command is run.sh, then
# execs the command.
set -o errexit -o nounset -o pipefail

# shellcheck source=../zookeeper-env.sh
. /opt/bitnami/scripts/zookeeper-env.sh
# shellcheck source=../libzookeeper.sh
. /opt/bitnami/scripts/libzookeeper.sh

info "ferrokeeper $("$ZOO_BIN_DIR/ferrokeeper" version 2>/dev/null | sed 's/^Apache ZooKeeper, version //') -- native Apache ZooKeeper server, Bitnami-compatible image"

if [ -d "$ZOO_DEFAULT_CONF_DIR" ] && [ -w "$ZOO_CONF_DIR" ]; then
    debug "Copying files from $ZOO_DEFAULT_CONF_DIR to $ZOO_CONF_DIR"
    cp -nr "$ZOO_DEFAULT_CONF_DIR"/. "$ZOO_CONF_DIR"
fi

if [[ "$*" == *"/opt/bitnami/scripts/zookeeper/run.sh"* || "$*" == *"/run.sh"* ]]; then
    info "** Starting ZooKeeper setup **"
    /opt/bitnami/scripts/zookeeper/setup.sh
    info "** ZooKeeper setup finished! **"
fi

exec "$@"
