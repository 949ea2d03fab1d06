#!/usr/bin/env bash
# Short fault-injection CI: three runs of 25-30 s on a 3-node ensemble covering every nemesis
# (the four partition kinds; kill -9 and SIGSTOP pauses; tc throttling and a full dataLogDir),
# plus the checker's own tests. Exits non-zero on any anomaly, on an undecided check, on a
# requested fault that was never injected, or on a harness error.
#
#   jepsen/ci.sh [--impl java|ferrokeeper|mixed|LIST] [--nodes N] [--seed BASE] [--read-mode sync|barrier]
#
# Default --impl java (ferrokeeper ensembles need its quorum mode; `--impl ferrokeeper
# --nodes 1` exercises the standalone server with the faults that apply to one node).
set -uo pipefail

# count PATTERN FILE: matching lines, 0 if the file is missing.
count() {
    local n
    n=$(grep -c -- "$1" "$2" 2>/dev/null)
    echo "${n:-0}"
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
impl=java
nodes=3
seed=7100
read_mode=sync
while [ $# -gt 0 ]; do
    case "$1" in
        --impl) impl="$2"; shift 2 ;;
        --nodes) nodes="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --read-mode) read_mode="$2"; shift 2 ;;
        *) echo "usage: jepsen/ci.sh [--impl KIND] [--nodes N] [--seed BASE] [--read-mode sync|barrier]" >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    echo "jepsen/ci.sh: must run as root" >&2
    exit 3
fi

# Tools the harness needs (Debian package names).
missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v tc >/dev/null || missing+=(iproute2)
command -v nft >/dev/null || missing+=(nftables)
if [[ "$impl" != ferrokeeper && "$impl" != fk ]] && [ ! -f /usr/share/java/zookeeper.jar ]; then
    missing+=(zookeeper)
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

start=$(date +%s)
out="$here/results/ci-$(date -u +%Y%m%dT%H%M%S)"
mkdir -p "$out"

echo "== checker tests"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}" cargo test --quiet --manifest-path "$repo/Cargo.toml" \
    -p ferrokeeper-jepsen -j "${CARGO_BUILD_JOBS:-1}" 2>&1 | tail -n 3
test_rc=${PIPESTATUS[0]}

# name | nemesis | time | extra options
runs=(
    "partitions|partition|30|--quiet 1.5:3 --hold 3:5"
    "crash-pause|kill,pause|25|--quiet 1.5:3 --hold 3:5"
    "throttle-disk|throttle,disk|25|--quiet 1.5:3 --hold 3:5"
)
if [ "$nodes" -lt 2 ]; then
    runs=("crash-pause|kill,pause|25|--quiet 1.5:3 --hold 3:5" "throttle-disk|throttle,disk|25|--quiet 1.5:3 --hold 3:5")
fi

declare -a summary
failed=0
[ "$test_rc" -eq 0 ] || failed=1
i=0
for spec in "${runs[@]}"; do
    IFS='|' read -r name nemesis time opts <<<"$spec"
    i=$((i + 1))
    s=$((seed + i))
    dir="$out/$name"
    echo
    echo "== run $i/${#runs[@]}: $name — --impl $impl --nodes $nodes --nemesis $nemesis --time $time --seed $s --read-mode $read_mode"
    # shellcheck disable=SC2086
    "$here/run" --impl "$impl" --nodes "$nodes" --nemesis "$nemesis" --time "$time" --seed "$s" \
        --read-mode "$read_mode" --results-dir "$dir" $opts
    rc=$?
    verdict=$(case $rc in 0) echo valid ;; 1) echo INVALID ;; 2) echo unknown ;; 130) echo interrupted ;; *) echo "error($rc)" ;; esac)
    # Every requested fault kind must have been injected at least once.
    if [ "$rc" -eq 130 ]; then echo "interrupted"; exit 130; fi
    want=$(case "$nemesis" in
        *partition*) echo partition-halves partition-leader partition-ring partition-one-way ;; esac
        case "$nemesis" in *kill*) echo kill ;; esac
        case "$nemesis" in *pause*) echo pause ;; esac
        case "$nemesis" in *throttle*) echo throttle ;; esac
        case "$nemesis" in *disk*) echo disk-full ;; esac)
    if [ "$nodes" -lt 2 ]; then want=$(echo "$want" | tr ' ' '\n' | grep -v '^partition' || true); fi
    absent=""
    for k in $want; do
        grep -q "\"kind\":\"$k\"" "$dir/nemesis.jsonl" 2>/dev/null || absent="$absent $k"
    done
    ops=$(count . "$dir/history.jsonl")
    faults=$(count . "$dir/nemesis.jsonl")
    summary+=("$(printf '%-14s %-22s seed %-6s %5s faults %7s ops  %s%s' "$name" "$nemesis" "$s" "$faults" "$ops" "$verdict" "${absent:+  (never injected:$absent)}")")
    if [ "$rc" -ne 0 ] || [ -n "$absent" ]; then failed=1; fi
done

# Self-test of the whole pipeline (clients → history → checkers → exit code): fake stale reads
# and lost acknowledgements on the client side; the run must end INVALID with both anomalies.
echo
echo "== self-test: --client-bug stale-read,lost-ack must be caught"
dir="$out/self-test"
"$here/run" --impl "$impl" --nodes "$nodes" --nemesis none --time 10 --seed "$seed" \
    --workload register,set --client-bug stale-read,lost-ack --results-dir "$dir" >"$dir.log" 2>&1
rc=$?
[ "$rc" -eq 130 ] && exit 130
caught=""
grep -q '"kind": "not-linearizable"' "$dir/checks.json" 2>/dev/null && caught="$caught stale-read"
grep -q '"kind": "lost"' "$dir/checks.json" 2>/dev/null && caught="$caught lost-ack"
if [ "$rc" -eq 1 ] && [ "$caught" = " stale-read lost-ack" ]; then
    summary+=("$(printf '%-14s %-22s %s' self-test "client bugs" "caught:$caught (INVALID as expected)")")
else
    summary+=("$(printf '%-14s %-22s %s' self-test "client bugs" "NOT CAUGHT (exit $rc, caught:${caught:- none}; see $dir.log)")")
    failed=1
fi

echo
echo "== jepsen CI summary (impl $impl, $nodes nodes, reads $read_mode, $(($(date +%s) - start)) s; results in $out)"
echo "checker tests: $([ "$test_rc" -eq 0 ] && echo passed || echo FAILED)"
for l in "${summary[@]}"; do echo "  $l"; done
if [ "$failed" -ne 0 ]; then
    echo "jepsen CI: FAILED"
    exit 1
fi
echo "jepsen CI: passed"
# The plain closing line test runners print (runs + self-test + checker tests).
echo "jepsen: $((${#summary[@]} + 1)) passed, 0 failed"
