#!/usr/bin/env bash
# zkServer.sh for ferrokeeper: same arguments as Apache ZooKeeper's script
#   zkServer.sh [--config <conf-dir>] {start|start-foreground|stop|restart|status|print-cmd|version} [<config-file>]
# and the same environment (ZOOCFGDIR, ZOOCFG, ZOO_LOG_DIR, JVMFLAGS, SERVER_JVMFLAGS, java.env),
# all handled by the ferrokeeper binary itself. The binary is looked up as:
#   $FERROKEEPER_BIN, then <this dir>/ferrokeeper, then <repo>/target/release/ferrokeeper, then PATH.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
bin="${FERROKEEPER_BIN:-}"
if [ -z "$bin" ]; then
    for c in "$here/ferrokeeper" "$here/../target/release/ferrokeeper"; do
        if [ -x "$c" ]; then bin="$c"; break; fi
    done
fi
if [ -z "$bin" ]; then
    bin="$(command -v ferrokeeper || true)"
fi
if [ -z "$bin" ]; then
    echo "zkServer.sh: cannot find the ferrokeeper binary (set FERROKEEPER_BIN or build with: cargo build --release -p ferrokeeper)" >&2
    exit 1
fi
# zkServer.sh runs with ZOOBINDIR set to its own directory; the default config dir is ../conf.
export ZOOBINDIR="$here"
exec "$bin" "$@"
