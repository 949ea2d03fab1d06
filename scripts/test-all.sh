#!/usr/bin/env bash
# The project's test command: Rust unit/integration tests, then the real-client
# integration suite (tests/integration) against the ferrokeeper binary.
#
# Environment:
#   ZK_IMPLS         comma list of servers the pytest suite runs against
#                    (ferrokeeper, java); default: ferrokeeper
#   FERROKEEPER_BIN  server binary (default: target/release/ferrokeeper)
#   PYTEST_ARGS      extra arguments for pytest (e.g. "-x -k kazoo")
# Any arguments given to this script are passed on to pytest.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# --- test dependencies ------------------------------------------------------
if [ ! -f /usr/share/java/zookeeper.jar ] || [ ! -x /usr/lib/zookeeper/bin/cli_mt ]; then
    log "installing Java ZooKeeper and its C client (zookeeper, zookeeper-bin)"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y zookeeper zookeeper-bin
fi

missing_py=()
python3 -c 'import kazoo, sys; sys.exit(kazoo.version.__version__ != "2.11.0")' 2>/dev/null \
    || missing_py+=("kazoo==2.11.0")
python3 -c 'import pytest' 2>/dev/null || missing_py+=("pytest")
python3 -c 'import pytest_timeout' 2>/dev/null || missing_py+=("pytest-timeout")
python3 -c 'import prometheus_client' 2>/dev/null || missing_py+=("prometheus-client")
python3 -c 'import yaml' 2>/dev/null || missing_py+=("pyyaml")
if [ "${#missing_py[@]}" -gt 0 ]; then
    log "installing Python packages: ${missing_py[*]}"
    python3 -m pip install --quiet "${missing_py[@]}"
fi

# --- Rust -------------------------------------------------------------------
log "cargo build --release --workspace"
cargo build --release --workspace -j 2

log "cargo test --workspace --release"
cargo test --workspace --release -j 2 --no-fail-fast

# --- benchmark smoke (seconds per workload; checks the runner works, never asserts speed) ------
log "benchmark smoke: scripts/bench.sh --smoke"
BENCH_NO_BUILD=1 bash scripts/bench.sh --smoke

# --- real-client integration suite -----------------------------------------
pytest_args=(-q -p no:cacheprovider -rfE)
if python3 -c 'import pytest_timeout' 2>/dev/null; then
    pytest_args+=(--timeout=300)
fi
# shellcheck disable=SC2206
pytest_args+=(${PYTEST_ARGS:-} "$@")

log "pytest tests/integration (ZK_IMPLS=${ZK_IMPLS:-ferrokeeper})"
python3 -m pytest "${pytest_args[@]}" tests/integration

# --- fault injection: jepsen/ on a 3-node ferrokeeper ensemble (network namespaces, so root) ----
if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null; then
    log "jepsen/ci.sh --impl ferrokeeper (partitions, kill, pause, throttle, full disk)"
    bash jepsen/ci.sh --impl ferrokeeper
else
    log "SKIPPED jepsen/ci.sh: it needs root and iproute2 to build its network namespaces"
fi
