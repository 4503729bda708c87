#!/usr/bin/env bash
# `parallel-batch run` of a generated CSV on a fresh emulator per run (time scale 0, so the
# tool and the emulator are what is measured), for one or more builds of the tool, in
# interleaved rounds. Prints wall seconds, rows/s and the tool's peak resident memory.
#
#   run_compare.sh ROWS ROUNDS TOOL [TOOL...]
#
# Needs target/release/parallel-emulator (or $EMULATOR) and GNU time at /usr/bin/time.
set -euo pipefail
rows=$1 rounds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
emulator=${EMULATOR:-$here/../../target/release/parallel-emulator}
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
columns="ceo_name: Full name of the current CEO, founded_year: Year founded"
for round in $(seq "$rounds"); do
    n=0
    for tool in "$@"; do
        n=$((n + 1))
        "$emulator" --listen 127.0.0.1:0 --time-scale 0 --seed "$round" >"$dir/emu.out" &
        emu=$!
        until grep -q listening "$dir/emu.out"; do sleep 0.05; done
        url=$(sed 's/listening on //' "$dir/emu.out")
        # The output and the job's files (an earlier release kept its state beside the output).
        rm -rf "$dir/out.csv" "$dir/out.csv.state.json" "$dir/.out.csv.parallel-batch"
        /usr/bin/time -f "%e %M %U %S" -o "$dir/time" "$tool" --base-url "$url" --quiet \
            run "$dir/in.csv" -o "$dir/out.csv" --columns "$columns" >/dev/null
        kill "$emu"; wait "$emu" 2>/dev/null || true
        read -r secs kb usr sys <"$dir/time"
        lines=$(($(wc -l <"$dir/out.csv") - 1))
        echo "round $round tool $n ($tool): $lines rows, ${secs}s, $(echo "$lines / $secs" | bc) rows/s, peak ${kb} KiB, cpu ${usr}+${sys} s"
    done
done
