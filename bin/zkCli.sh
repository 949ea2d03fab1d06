#!/usr/bin/env bash
# zkCli.sh: ferrokeeper ships no client of its own; the Java client works against it unchanged.
# This passes every argument to the installed Apache ZooKeeper client
# ($ZKCLI, else /usr/share/zookeeper/bin/zkCli.sh, else zkCli.sh on PATH outside this directory).
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
cli="${ZKCLI:-}"
if [ -z "$cli" ] && [ -x /usr/share/zookeeper/bin/zkCli.sh ]; then
    cli=/usr/share/zookeeper/bin/zkCli.sh
fi
if [ -z "$cli" ]; then
    found="$(command -v -a zkCli.sh 2>/dev/null | while read -r p; do
        d="$(cd "$(dirname "$p")" && pwd -P)"; [ "$d" != "$here" ] && { echo "$p"; break; }; done)"
    cli="${found:-}"
fi
if [ -z "$cli" ]; then
    echo "zkCli.sh: the Apache ZooKeeper Java client is not installed (Debian: apt-get install zookeeper; or set ZKCLI=/path/to/zkCli.sh)" >&2
    exit 127
fi
exec "$cli" "$@"
