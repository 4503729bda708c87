#!/usr/bin/env bash
# The step that puts a finished `parallel-batch run` output in input order, at scale. A job
# of ROWS rows is run to its end once; its output is then shuffled (the worst case: runs
# that finished in no order at all) and the job's state set back to "every row written, not
# finished". The same command is then run again, in interleaved rounds, with
# `--order completion` (the file is left as it is) and with `--order input` (the file is
# written again in input order): the difference is the step's cost. Both runs also read the
# input and resume the group, with nothing left to send. Prints wall seconds and peak
# resident memory of each, for a CSV and a JSON Lines output.
#
#   order_finish.sh ROWS ROUNDS [TOOL]
#
# Needs target/release/parallel-emulator (or $EMULATOR), target/release/parallel-batch (or
# TOOL), python3 and GNU time at /usr/bin/time.
set -euo pipefail
rows=$1 rounds=$2
here=$(cd "$(dirname "$0")" && pwd)
tool=${3:-$here/../../target/release/parallel-batch}
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
"$emulator" --listen 127.0.0.1:0 --time-scale 0 >"$dir/emu.out" &
until grep -q listening "$dir/emu.out"; do sleep 0.05; done
url=$(sed 's/listening on //' "$dir/emu.out")
columns="ceo_name: Full name of the current CEO, founded_year: Year founded"
for ext in csv jsonl; do
    out="$dir/out.$ext" job="$dir/.out.$ext.parallel-batch"
    "$tool" --base-url "$url" --quiet run "$dir/in.csv" -o "$out" --columns "$columns" \
        --order completion >/dev/null 2>&1
    # Shuffled lines (no record of this data spans lines), the same length: the state's
    # checkpoint stays good but for its hash, which is dropped (a resume then checks the
    # length only).
    python3 - "$out" "$job/state.json" "$ext" <<'PY'
import json, random, sys
out, state_path, ext = sys.argv[1:]
with open(out, "rb") as f:
    lines = f.readlines()
head, body = (lines[:1], lines[1:]) if ext == "csv" else ([], lines)
random.Random(7).shuffle(body)
with open(out, "wb") as f:
    f.writelines(head + body)
with open(state_path) as f:
    state = json.load(f)
state.update(complete=False, output_hash=None)
with open(state_path, "w") as f:
    json.dump(state, f)
PY
    cp "$out" "$dir/shuffled.$ext"
    cp -r "$job" "$dir/job.$ext"
    for round in $(seq "$rounds"); do
        for order in completion input; do
            cp "$dir/shuffled.$ext" "$out"
            rm -rf "$job"
            cp -r "$dir/job.$ext" "$job"
            /usr/bin/time -f "%e %M" -o "$dir/time" "$tool" --base-url "$url" --quiet \
                run "$dir/in.csv" -o "$out" --columns "$columns" --order "$order" >/dev/null 2>&1
            read -r secs kb <"$dir/time"
            sorted=$(python3 - "$out" "$ext" <<'PY'
import json, sys
out, ext = sys.argv[1:]
with open(out, "rb") as f:
    lines = f.readlines()[1 if ext == "csv" else 0:]
rows = [int(l.split(b",", 1)[0]) if ext == "csv" else json.loads(l)["row"] for l in lines]
print("in input order" if rows == sorted(rows) else "not in input order", len(rows), "rows")
PY
)
            bytes=$(stat -c %s "$out")
            echo "$ext round $round --order $order: ${secs}s, peak ${kb} KiB, $sorted, $bytes bytes"
        done
    done
done
