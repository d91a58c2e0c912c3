"""A full sync of the sandbox: every stream, two levels of children, exact counts."""

from __future__ import annotations

from tests.conftest import sandbox_config
from tests.helpers import run_tap


def test_full_sync_emits_every_record_once(sandbox, tmp_path):
    run = run_tap(tmp_path, sandbox_config(sandbox))
    assert run.returncode == 0, run.stderr
    assert run.counts() == sandbox.data.counts()
    items = run.records("order_items")
    assert all({"user_id", "order_id", "sku", "qty"} <= set(item) for item in items)
    assert len({(i["order_id"], i["sku"]) for i in items}) == len(items)
    assert sandbox.token_requests == 1
