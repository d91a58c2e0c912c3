"""Run a command and report its wall time and peak RSS, from a process too small to skew them.

Linux carries the pre-exec peak RSS of a forked child into its rusage, so a child
forked straight from the benchmark runner (which holds every rendered page) would
report the runner's size. This launcher, started with ``python -I -S`` (about 8 MiB),
forks the contender instead.

    python -I -S benchmarks/launch.py RESULT_FILE COMMAND [ARGS...]
"""

import json
import os
import sys
import time


def main() -> None:
    result, argv = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    with open(result, "w") as out:
        json.dump(
            {
                "wall": wall,
                "cpu": usage.ru_utime + usage.ru_stime,
                "max_rss_kib": usage.ru_maxrss,
                "exit": os.waitstatus_to_exitcode(status),
            },
            out,
        )


if __name__ == "__main__":
    main()
