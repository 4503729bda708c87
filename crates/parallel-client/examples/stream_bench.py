"""The official Python SDK reading the same group as `stream_bench.rs stream`.

    python stream_bench.py http://127.0.0.1:8080 tgrp_...

Iterates `client.task_group.get_runs(id, include_input=True, include_output=True)` and prints
runs/s and the peak resident memory. (MB/s: divide the byte count printed by the Rust run
over the same group by these seconds.)
"""

import resource
import sys
import time

from parallel import Parallel


def main() -> None:
    base_url, group_id = sys.argv[1], sys.argv[2]
    client = Parallel(api_key="bench", base_url=base_url)
    started = time.perf_counter()
    count = 0
    checksum = 0
    for event in client.task_group.get_runs(group_id, include_input=True, include_output=True):
        count += 1
        checksum += len(event.run.run_id) + (1 if event.output is not None else 0)
    secs = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"runs={count} secs={secs:.3f} runs_per_sec={count / secs:.0f} vm_hwm_kb={peak_kb} checksum={checksum}")


if __name__ == "__main__":
    main()
