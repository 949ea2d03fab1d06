#!/usr/bin/env bash
# The long campaign: many runs with consecutive seeds, one summary table (Markdown) at the end.
#
#   jepsen/campaign.sh [--runs 100] [--nodes 5] [--time 60] [--nemesis all] [--impl java] [--seed 1] [--read-mode sync|barrier]
#
# Writes jepsen/results/campaign-<utc>/ with one directory per run and summary.md (the table
# docs/reliability.md quotes). Exits 1 if any run was not valid.
set -uo pipefail

# count PATTERN FILE: matching lines, 0 if the file is missing.
count() {
    local n
    n=$(grep -c -- "$1" "$2" 2>/dev/null)
    echo "${n:-0}"
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
runs=100 nodes=5 time=60 nemesis=all impl=java seed=1 read_mode=sync
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --nodes) nodes="$2"; shift 2 ;;
        --time) time="$2"; shift 2 ;;
        --nemesis) nemesis="$2"; shift 2 ;;
        --impl) impl="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --read-mode) read_mode="$2"; shift 2 ;;
        *) echo "usage: jepsen/campaign.sh [--runs N] [--nodes N] [--time S] [--nemesis LIST] [--impl KIND] [--seed FIRST]" >&2; exit 2 ;;
    esac
done

out="$here/results/campaign-$(date -u +%Y%m%dT%H%M%S)"
mkdir -p "$out"
summary="$out/summary.md"
{
    echo "# jepsen campaign: impl $impl, $nodes nodes, nemesis $nemesis, reads $read_mode, $time s per run, seeds $seed..$((seed + runs - 1))"
    echo
    echo "| run | seed | verdict | faults | ops | anomalies | kinds |"
    echo "|---:|---:|---|---:|---:|---:|---|"
} >"$summary"

start=$(date +%s)
total_faults=0 total_ops=0 total_anomalies=0 bad=0
for ((i = 0; i < runs; i++)); do
    s=$((seed + i))
    dir="$out/s$s"
    "$here/run" --impl "$impl" --nodes "$nodes" --nemesis "$nemesis" --time "$time" --seed "$s" \
        --read-mode "$read_mode" --results-dir "$dir" >"$dir.log" 2>&1
    rc=$?
    [ "$rc" -eq 130 ] && { echo "interrupted"; exit 130; }
    verdict=$(case $rc in 0) echo valid ;; 1) echo INVALID ;; 2) echo unknown ;; *) echo "error($rc)" ;; esac)
    faults=$(count . "$dir/nemesis.jsonl")
    ops=$(count . "$dir/history.jsonl")
    anomalies=$(count '"kind":' "$dir/checks.json")
    kinds=$(grep -o '"kind":"[a-z-]*"' "$dir/nemesis.jsonl" 2>/dev/null | cut -d'"' -f4 | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')
    total_faults=$((total_faults + faults))
    total_ops=$((total_ops + ops))
    total_anomalies=$((total_anomalies + anomalies))
    [ "$rc" -eq 0 ] || bad=$((bad + 1))
    # Valid runs keep a compressed history (gunzip before `jepsen/run check`).
    [ "$rc" -eq 0 ] && gzip -9 -f "$dir/history.jsonl" 2>/dev/null
    echo "| $((i + 1)) | $s | $verdict | $faults | $ops | $anomalies | $kinds |" >>"$summary"
    echo "run $((i + 1))/$runs seed $s: $verdict, $faults faults, $ops ops, $anomalies anomalies"
done
{
    echo
    echo "**Total:** $runs runs in $(( ($(date +%s) - start) / 60 )) min, $total_faults faults injected, $total_ops operations checked, $total_anomalies anomalies, $bad runs not valid."
} >>"$summary"
tail -n 1 "$summary"
echo "summary: $summary"
[ "$bad" -eq 0 ]
