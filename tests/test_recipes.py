"""Every recipe in examples/ runs offline as `bash scripts/try.sh NAME` runs it: against its
emulator from tests/api_zoo, with local credentials in place of its sm:// secrets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests import readme_blocks
from tests.api_zoo import recipes
from tests.helpers import ISOLATED_ENV, tap_command

ROOT = Path(__file__).resolve().parent.parent


def test_every_recipe_has_an_emulator():
    assert set(recipes.recipes()) == set(recipes.EMULATORS)
    assert len(recipes.recipes()) >= 16


@pytest.mark.parametrize("name", recipes.recipes())
def test_recipe_runs_against_its_emulator_as_try_runs_it(name, tmp_path):
    tried = recipes.try_recipe(name, tmp_path, run=tap_command)

    assert tried.returncode == 0, tried.stderr[-3000:]
    assert "tap-restoauth: error" not in tried.stderr
    streams = {
        stream["name"] for stream in json.loads((recipes.EXAMPLES / f"{name}.json").read_text())["streams"]
    }
    assert set(tried.counts) == streams  # every stream of the recipe gave records
    if tried.expected is not None:
        assert dict(tried.counts) == {s: n for s, n in tried.expected.items() if n}
    assert (tmp_path / "config.json").stat().st_mode & 0o077 == 0  # the local secrets are yours only
    report = tried.report()
    assert "exit 0" in report and all(stream in report for stream in streams)


def test_readme_try_a_recipe_block_runs_as_printed(tmp_path):
    for name in (".venv", "tests", "scripts"):
        (tmp_path / name).symlink_to(ROOT / name)
    done = readme_blocks.run(["try-a-recipe"], tmp_path, {**os.environ, **ISOLATED_ENV}, {})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "==> tap-restoauth --config output/try/stripe/config.json: exit 0" in done.stdout
    assert "customers                  7" in done.stdout
