#!/usr/bin/env bash
# Java ZooKeeper 3.8 vs ferrokeeper side-by-side benchmark (writes docs/benchmarks.md + PNG).
#   scripts/bench.sh                 # full comparison (~15-25 min on 2 cores)
#   scripts/bench.sh --smoke         # seconds per workload, for CI; exits 0 when all ran
#   scripts/bench.sh --b-cmd java    # Java vs Java dry run
# Any `compare` option may be appended (see: scripts/bench.sh --help).
# Needs the Debian Java ZooKeeper: apt-get install -y zookeeper (jar: /usr/share/java/zookeeper.jar).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -f /usr/share/java/zookeeper.jar ]] || ! command -v java >/dev/null; then
    echo "bench.sh: needs Java ZooKeeper: apt-get install -y zookeeper" >&2
    exit 2
fi
target="${CARGO_TARGET_DIR:-target}"
if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
    cargo build --release -p ferrokeeper -p ferro-bench
fi
# Later options override earlier ones, so a caller's --b-cmd wins over this default.
exec "$target/release/compare" --b-cmd "$target/release/ferrokeeper start-foreground {cfg}" "$@"
