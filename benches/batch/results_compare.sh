#!/usr/bin/env bash
# Interleaved comparison of `parallel-batch results` and the official Python SDK writing the
# same group's runs to JSON Lines, both reading one recorded stream from a replay server
# (crates/parallel-client/examples/replay_server.py), so the server is out of the way.
#
#   results_compare.sh BASE_URL GROUP_ID ROUNDS [PYTHON]
#
# Needs target/release/parallel-batch (or $PARALLEL_BATCH: one or more builds, separated by
# spaces, to put before and after side by side) and a Python with `parallel-web`. Each round
# runs every build once, then the Python script. Times come from bash's own clock
# ($EPOCHREALTIME: no process is started to read it, so only the command is timed). A build's
# time is its whole process; the Python SDK's is given twice: its own measure (from the first
# request to the file closed, without starting the interpreter and importing the SDK) and its
# whole process.
set -euo pipefail
base=$1 group=$2 rounds=$3 python=${4:-python3}
here=$(cd "$(dirname "$0")" && pwd)
read -r -a tools <<<"${PARALLEL_BATCH:-$here/../../target/release/parallel-batch}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for _ in $(seq "$rounds"); do
    line=""
    for tool in "${tools[@]}"; do
        rm -f "$dir/rust.jsonl"
        start=$EPOCHREALTIME
        "$tool" --base-url "$base" --quiet results "$group" -o "$dir/rust.jsonl" 2>/dev/null
        end=$EPOCHREALTIME
        line="$line $(echo "$end - $start" | bc)"
    done
    rm -f "$dir/py.jsonl"
    start=$EPOCHREALTIME
    out=$("$python" "$here/results_bench.py" "$base" "$group" "$dir/py.jsonl")
    end=$EPOCHREALTIME
    py=$(echo "$out" | sed 's/.*secs=\([0-9.]*\).*/\1/')
    echo "$line $py $(echo "$end - $start" | bc)" >>"$dir/times"
done
echo "rows: rust $(wc -l <"$dir/rust.jsonl"), python $(wc -l <"$dir/py.jsonl")"
python3 - "$dir/times" "${tools[@]}" <<'PY'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
tools = sys.argv[2:]
names = [f"results ({t})" for t in tools] + ["Python SDK (own measure)", "Python SDK (process)"]
for i, name in enumerate(names):
    col = [r[i] for r in rows]
    print(f"{name:40} median {statistics.median(col):.3f} s  min {min(col):.3f}  max {max(col):.3f}")
n = len(tools)
for i, tool in enumerate(tools):
    own = statistics.median(r[n] / r[i] for r in rows)
    process = statistics.median(r[n + 1] / r[i] for r in rows)
    print(f"Python / {tool}, median of rounds: {own:.1f}x (own measure), {process:.1f}x (process)")
PY
