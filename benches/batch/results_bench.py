"""The official Python SDK writing a group's runs to JSON Lines, as `parallel-batch results` does.

    python results_bench.py BASE_URL GROUP_ID OUT.jsonl

Iterates `client.task_group.get_runs(id, include_input=True, include_output=True)` and writes
`event.model_dump_json()` per line. Prints rows, seconds and peak resident memory.
"""

import resource
import sys
import time

from parallel import Parallel


def main() -> None:
    base_url, group_id, out = sys.argv[1], sys.argv[2], sys.argv[3]
    client = Parallel(api_key="bench", base_url=base_url)
    started = time.perf_counter()
    count = 0
    with open(out, "w", encoding="utf-8") as f:
        for event in client.task_group.get_runs(group_id, include_input=True, include_output=True):
            f.write(event.model_dump_json())
            f.write("\n")
            count += 1
    secs = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"rows={count} secs={secs:.3f} vm_hwm_kb={peak_kb}")


if __name__ == "__main__":
    main()
