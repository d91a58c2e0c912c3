"""Run a command and report its own peak RSS: ``python -m tests.peak_rss OUT CMD...``.

A process's ru_maxrss (what wait4 reports) starts at its parent's RSS when it was spawned:
Linux keeps the high-water mark across exec. A tap started straight from a large pytest
process would report pytest's memory; started from this small process, it reports its own.
The exit status is passed on (a signal death as the same signal).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def main() -> None:
    out, command = sys.argv[1], sys.argv[2:]
    child = subprocess.Popen(command)
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda received, _frame: child.send_signal(received))
    _, status, usage = os.wait4(child.pid, 0)
    with open(out, "w") as handle:
        handle.write(str(usage.ru_maxrss))  # KiB on Linux
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


if __name__ == "__main__":
    main()
