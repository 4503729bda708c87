#!/usr/bin/env bash
# The batch engine at real latencies: ROWS rows of PROCESSOR (a name, or `mix`) through
# `batch_bench` on a fresh emulator at TIME_SCALE, for one or more builds of the bench, and
# what reading the results cost, from the emulator's own counters: result-reading requests
# (runs streams, events streams, single-run /result calls) and bytes, against the budget (one
# request per 100 rows plus one per 10 s of the job; 1.5x the bytes of one full runs stream,
# read once more after the job), the lag from a run finishing to its result being handed over,
# and the engine's CPU.
#
#   realtime.sh TIME_SCALE ROWS PROCESSOR BENCH [BENCH...]
#
# BENCH is a build of `cargo build --release -p parallel-client --example batch_bench`; needs
# target/release/parallel-emulator (or $EMULATOR), curl and python3.
set -euo pipefail
scale=$1 rows=$2 processor=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
emulator=${EMULATOR:-$here/../../target/release/parallel-emulator}
dir=$(mktemp -d)
trap 'rm -rf "$dir"; kill $(jobs -p) 2>/dev/null || true' EXIT
n=0
for bench in "$@"; do
    n=$((n + 1))
    # A file of its own per emulator: the address read is this one's, never the last one's.
    out="$dir/emu.$n.out"
    "$emulator" --listen 127.0.0.1:0 --time-scale "$scale" --seed 1 ${CAPACITY:+--capacity "$CAPACITY"} >"$out" 2>/dev/null &
    emu=$!
    until grep -q listening "$out" 2>/dev/null; do sleep 0.05; done
    url=$(sed 's/listening on //' "$out")
    "$bench" "$url" "$rows" "$processor" >"$dir/bench.out"
    curl -s "$url/_emulator/stats" >"$dir/stats.json"
    group=$(sed 's/.*group=\([^ ]*\).*/\1/' "$dir/bench.out")
    full=$(curl -s "$url/v1/tasks/groups/$group/runs?include_output=true" | wc -c)
    kill "$emu"; wait "$emu" 2>/dev/null || true
    python3 - "$dir/bench.out" "$dir/stats.json" "$full" "$bench" <<'PY'
import json, sys
bench = dict(kv.split("=", 1) for kv in open(sys.argv[1]).read().split())
stats = json.load(open(sys.argv[2]))
full = int(sys.argv[3])
reading = ["group_runs", "group_events", "run_result", "get_group_run", "get_run"]
requests = sum(stats["requests"][e] for e in reading)
read_bytes = sum(stats["bytes"][e] for e in ["group_runs", "run_result"])
rows, secs = int(bench["rows"]), float(bench["secs"])
budget = rows / 100 + secs / 10
print(f"{sys.argv[4]}: rows {rows}, {secs:.1f} s; requests {requests} "
      f"(runs {stats['requests']['group_runs']}, events {stats['requests']['group_events']}, "
      f"result {stats['requests']['run_result']}) = {requests / rows:.4f}/row, budget {budget:.0f}; "
      f"bytes {read_bytes / full:.2f}x the full stream ({read_bytes} / {full}); "
      f"lag p50 {bench['lag_p50']} s p95 {bench['lag_p95']} s; cpu {bench['cpu_secs']} s "
      f"({1e6 * float(bench['cpu_secs']) / rows:.0f} us/row); peak {bench['vm_hwm_kb']} KiB")
PY
done
