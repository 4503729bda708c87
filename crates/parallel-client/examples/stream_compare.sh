#!/usr/bin/env bash
# Interleaved comparison of the Rust client and the official Python SDK reading the same
# group runs stream (see benches/README.md). Each round runs every Rust mode once and the
# Python SDK once, back to back, so that a change in machine load hits all of them alike;
# the ratio is taken within each round and its median reported.
#
#   stream_compare.sh BASE_URL GROUP_ID ROUNDS [PYTHON]
#
# Needs target/release/examples/stream_bench (or $STREAM_BENCH) and a Python with
# `parallel-web` installed (default: python3).
set -euo pipefail
base=$1 group=$2 rounds=$3 python=${4:-python3}
here=$(cd "$(dirname "$0")" && pwd)
bench=${STREAM_BENCH:-$here/../../../target/release/examples/stream_bench}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
secs() { sed 's/.*secs=\([0-9.]*\).*/\1/'; }
for _ in $(seq "$rounds"); do
    raw=$("$bench" stream "$base" "$group" raw | secs)
    typed=$("$bench" stream "$base" "$group" typed | secs)
    typed0=$(STREAM_BENCH_READ_AHEAD=0 "$bench" stream "$base" "$group" typed | secs)
    owned=$("$bench" stream "$base" "$group" owned | secs)
    py=$("$python" "$here/stream_bench.py" "$base" "$group" | secs)
    echo "$raw $typed $typed0 $owned $py" >>"$out"
done
python3 - "$out" <<'PY'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
names = ["raw", "typed", "typed, read_ahead 0", "owned", "Python SDK"]
for i, name in enumerate(names):
    col = [r[i] for r in rows]
    ratio = statistics.median(r[4] / r[i] for r in rows)
    print(f"{name:20} median {statistics.median(col):.3f} s  min {min(col):.3f}  "
          f"max {max(col):.3f}  Python/this, median of rounds {ratio:.1f}x")
PY
