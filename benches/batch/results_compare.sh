#!/usr/bin/env bash
# Interleaved comparison of `parallel-batch results` and the official Python SDK writing the
# same group's runs to JSON Lines, both reading one recorded stream from a replay server
# (crates/parallel-client/examples/replay_server.py), so the server is out of the way.
#
#   results_compare.sh BASE_URL GROUP_ID ROUNDS [PYTHON]
#
# Needs target/release/parallel-batch (or $PARALLEL_BATCH) and a Python with `parallel-web`.
set -euo pipefail
base=$1 group=$2 rounds=$3 python=${4:-python3}
here=$(cd "$(dirname "$0")" && pwd)
tool=${PARALLEL_BATCH:-$here/../../target/release/parallel-batch}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for _ in $(seq "$rounds"); do
    rm -f "$dir/rust.jsonl" "$dir/py.jsonl"
    start=$(date +%s.%N)
    "$tool" --base-url "$base" --quiet results "$group" -o "$dir/rust.jsonl"
    rust=$(echo "$(date +%s.%N) - $start" | bc)
    py=$("$python" "$here/results_bench.py" "$base" "$group" "$dir/py.jsonl" | sed 's/.*secs=\([0-9.]*\).*/\1/')
    echo "$rust $py" >>"$dir/times"
done
echo "rows: rust $(wc -l <"$dir/rust.jsonl"), python $(wc -l <"$dir/py.jsonl")"
python3 - "$dir/times" <<'PY'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
for i, name in enumerate(["parallel-batch results", "Python SDK"]):
    col = [r[i] for r in rows]
    print(f"{name:24} median {statistics.median(col):.3f} s  min {min(col):.3f}  max {max(col):.3f}")
print(f"Python / Rust, median of rounds: {statistics.median(r[1] / r[0] for r in rows):.1f}x")
PY
