#!/bin/bash
# Health check of the ferrokeeper image, Bitnami-compatible flavour, as the bitnami/zookeeper
# chart's probes run it: `ZOO_HC_TIMEOUT=3 /opt/bitnami/scripts/zookeeper/healthcheck.sh`.
# Exit 0 when the server answers ruok on ZOO_PORT_NUMBER within ZOO_HC_TIMEOUT seconds.
set -o errexit -o nounset -o pipefail

# shellcheck source=../zookeeper-env.sh
. /opt/bitnami/scripts/zookeeper-env.sh
# shellcheck source=../libzookeeper.sh
. /opt/bitnami/scripts/libzookeeper.sh

zookeeper_healthcheck
