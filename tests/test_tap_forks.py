"""A tap forked from the pre-imported one (tests/tap_forks.py) behaves as `python -m tap_restoauth`.

Most tests run the tap through `helpers.run_tap`, which forks it; these runs compare the two
ways on what the other tests read: the records and state of a sync, the stderr of a usage
error (click's program name comes from `sys.argv` and `__main__`), and the one error line and
exit code of a bad config.
"""

from __future__ import annotations

import os
import re

from tests import tap_forks
from tests.conftest import sandbox_config
from tests.helpers import ISOLATED_ENV, run_tap

EXEC = {"TAP_TESTS_EXEC": "1"}


def untimed(log: str) -> str:
    return re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ", "", log, flags=re.MULTILINE)


def test_a_forked_sync_emits_what_an_execd_one_does(sandbox, tmp_path):
    config = sandbox_config(sandbox)
    config["streams"] = config["streams"][:2]  # users and a child stream per user
    forked = run_tap(tmp_path / "fork", config)
    execd = run_tap(tmp_path / "exec", config, env=EXEC)

    assert forked.returncode == execd.returncode == 0, forked.stderr[-2000:]
    assert forked.records("users") and forked.records("user_orders")
    for stream in ("users", "user_orders"):
        assert forked.records(stream) == execd.records(stream), stream
    assert forked.final_state == execd.final_state
    assert [m["type"] for m in forked.messages] == [m["type"] for m in execd.messages]


def test_usage_errors_and_bad_configs_read_the_same_forked_and_execd(tmp_path):
    config = {"api_url": "ftp://example.invalid", "streams": []}
    for args in (["--no-such-option"], []):
        forked = run_tap(tmp_path / "fork", config, args=args)
        execd = run_tap(tmp_path / "exec", config, args=args, env=EXEC)
        assert forked.returncode == execd.returncode != 0
        assert untimed(forked.stderr.replace("fork", "exec")) == untimed(execd.stderr)
        assert forked.stdout == execd.stdout == ""


def test_runs_fork_only_when_the_interpreter_would_start_the_same():
    server = {**os.environ, **ISOLATED_ENV}
    assert tap_forks.forkable({**server, "LOGLEVEL": "DEBUG", "TMPDIR": "/x"}, server)
    assert not tap_forks.forkable({**server, "PYTHONWARNINGS": "default"}, server)
    assert not tap_forks.forkable({**server, "TZ": "Asia/Tokyo"}, server)
    assert not tap_forks.forkable({**server, **EXEC}, server)
    assert not tap_forks.forkable({**server, "COVERAGE_PROCESS_CONFIG": "{}"}, server)
