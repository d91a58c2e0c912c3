"""`--about` built without the tap (about.py) prints exactly what the SDK prints for the tap class."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tap_restoauth import about
from tap_restoauth.tap import TapRestOAuth
from tests.helpers import ISOLATED_ENV


@pytest.mark.parametrize("output_format", ["text", "json", "markdown"])
def test_fast_about_matches_the_sdks_about_of_the_tap(
    output_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    TapRestOAuth.print_about(output_format)
    expected = capsys.readouterr().out
    about.print_about(output_format)
    assert capsys.readouterr().out == expected


def test_the_tap_class_takes_its_identity_from_about() -> None:
    assert TapRestOAuth.name == about.NAME
    assert TapRestOAuth.__doc__ == about.DESCRIPTION
    assert TapRestOAuth.capabilities == about.CAPABILITIES


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--about"], "text"),
        (["--about", "--format=json"], "json"),
        (["--format", "markdown", "--about"], "markdown"),
        (["--about", "--format=JSON"], "json"),
        (["--about", "--format=yaml"], None),  # the SDK's command line says it is not a choice
        (["--about", "--config", "c.json"], None),
        (["--config", "c.json"], None),
        (["--discover"], None),
        ([], None),
    ],
)
def test_only_a_bare_about_takes_the_fast_path(argv: list[str], expected: str | None) -> None:
    assert about.about_format(argv) == expected


def _about(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m tap_restoauth --about ARGS` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "tap_restoauth", "--about", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **ISOLATED_ENV},
        timeout=120,
        check=False,
    )


def test_the_command_line_prints_the_json_about() -> None:
    done = _about("--format=json")
    assert done.returncode == 0, done.stderr
    assert '"name": "tap-restoauth"' in done.stdout
    assert '"client_secret"' in done.stdout


def test_an_unknown_format_gets_the_sdks_usage_error() -> None:
    done = _about("--format=yaml")
    assert done.returncode == 2
    assert "yaml" in done.stderr
