#!/usr/bin/env bash
# `parallel-batch run` on the same generated rows as CSV -> CSV and as Parquet -> Parquet, on a
# fresh emulator per run (time scale 0, as run_compare.sh), in interleaved rounds. Prints wall
# seconds, rows/s and the tool's peak resident memory.
#
#   parquet_compare.sh ROWS ROUNDS
#
# Needs release builds of the tool, the emulator and the csv_to_parquet example
# (`cargo build --release -p parallel-batch -p parallel-emulator --example csv_to_parquet`)
# and GNU time at /usr/bin/time.
set -euo pipefail
rows=$1 rounds=$2
here=$(cd "$(dirname "$0")" && pwd)
target=${CARGO_TARGET_DIR:-$here/../../target}
tool=${TOOL:-$target/release/parallel-batch}
emulator=${EMULATOR:-$target/release/parallel-emulator}
convert=${CONVERT:-$target/release/examples/csv_to_parquet}
dir=$(mktemp -d)
trap 'rm -rf "$dir"; kill $(jobs -p) 2>/dev/null || true' EXIT
python3 - "$rows" "$dir/in.csv" <<'PY'
import sys
rows, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("name,website\n")
    for i in range(rows):
        f.write(f"Company {i},https://c{i}.example\n")
PY
"$convert" "$dir/in.csv" "$dir/in.parquet"
columns="ceo_name: Full name of the current CEO, founded_year: Year founded"
for round in $(seq "$rounds"); do
    for ext in csv parquet; do
        "$emulator" --listen 127.0.0.1:0 --time-scale 0 --seed "$round" >"$dir/emu.out" &
        emu=$!
        until grep -q listening "$dir/emu.out"; do sleep 0.05; done
        url=$(sed 's/listening on //' "$dir/emu.out")
        rm -rf "$dir"/out.* "$dir"/.out.*
        /usr/bin/time -f "%e %M" -o "$dir/time" "$tool" --base-url "$url" --quiet \
            run "$dir/in.$ext" -o "$dir/out.$ext" --columns "$columns" >/dev/null
        kill "$emu"; wait "$emu" 2>/dev/null || true
        read -r secs kb <"$dir/time"
        echo "round $round $ext -> $ext: $rows rows, ${secs}s, $(echo "$rows / $secs" | bc) rows/s, peak ${kb} KiB, output $(stat -c %s "$dir/out.$ext") bytes"
    done
done
