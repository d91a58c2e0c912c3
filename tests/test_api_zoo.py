"""Real APIs' shapes (tests/api_zoo): the example config a user would copy extracts the
API's records in order with the right final state, then reruns incrementally."""

from __future__ import annotations

import importlib
import json
import typing as t
from pathlib import Path

import pytest

from tests.api_zoo import PROVIDERS, Expected
from tests.helpers import run_tap

# End-to-end (two runs per provider): scripts/test.sh --quick skips them; tests/test_recipes.py
# still runs each recipe once in the quick tier.
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent


def merged(base: dict[str, t.Any], changes: dict[str, t.Any]) -> dict[str, t.Any]:
    result = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def bookmark(state: dict[str, t.Any], stream: str) -> t.Any:
    mark = state.get("bookmarks", {}).get(stream, {})
    if "partitions" in mark:
        return {
            json.dumps(p["context"], sort_keys=True): p.get("replication_key_value")
            for p in mark["partitions"]
        }
    return mark.get("replication_key_value")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_example_config_extracts_the_api_then_reruns_incrementally(provider, tmp_path):
    module = importlib.import_module(f"tests.api_zoo.{provider}")
    example = json.loads((ROOT / module.EXAMPLE).read_text())
    api = module.Api().start()
    try:
        state = None
        for number in (1, 2):
            if number == 2:
                api.update()
            run = run_tap(tmp_path / str(number), merged(example, api.overrides(number)), state=state)
            assert run.returncode == 0, run.stderr
            expected: dict[str, Expected] = api.expected(number)
            assert set(run.counts()) <= set(expected)
            for stream, want in expected.items():
                assert run.records(stream) == want.records, f"run {number}, {stream}"
                assert bookmark(run.final_state, stream) == want.bookmark, f"run {number}, {stream}"
            state = run.final_state
    finally:
        api.stop()
