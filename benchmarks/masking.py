"""Cost of the message exit (`redaction.clean`) as secrets pile up, and of renewing large tokens.

    .venv/bin/python -m benchmarks.masking

Each figure is the median of several runs in one process; secrets are random.
- `clean` of a 480-character log line with 10, 1,000 and 10,000 secrets registered
  (matching cost should not depend on their number);
- 182 renewals of a 4 kB access token, each followed by one masked log line (issue 18:
  over 120 s before the hash index);
- `clean` of a 10 MB text (only the part that can be shown is scanned).
"""

from __future__ import annotations

import secrets
import statistics
import time
import typing as t

from tap_restoauth.http import redaction

LINE = "GET /v1/users?page=3&per_page=100 HTTP/1.1 200 " * 10


def _median(run: t.Callable[[], None], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    registered = 0
    for target in (10, 1_000, 10_000):
        redaction.register_all(secrets.token_urlsafe(24) for _ in range(target - registered))
        registered = target
        per_line = _median(lambda: [redaction.clean(LINE, redaction.LOG_LIMIT) for _ in range(1000)]) / 1000
        print(f"clean() of a {len(LINE)}-char line, {target:>6} secrets registered: {per_line * 1e6:7.1f} us")

    def renewals() -> None:
        for _ in range(182):
            token = secrets.token_urlsafe(3072)  # 4 kB
            redaction.register_token(token)
            redaction.clean(f"Authorization: Bearer {token}", redaction.LOG_LIMIT)

    print(f"182 renewals of a 4 kB token, one masked line each: {_median(renewals, 3):.2f} s")
    big = "y" * 10_000_000
    print(f"clean() of a 10 MB text: {_median(lambda: redaction.clean(big)) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
