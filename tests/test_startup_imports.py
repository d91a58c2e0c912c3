"""Start-up imports only what the run needs: no JWT, crypto, Secret Manager or XML code for a plain OAuth run.

PyJWT with cryptography (~0.1 s), the Secret Manager client with grpc, and the XML
parser are imported by the code paths that use them (JWT logins, `sm://` references
or shared tokens, `format: xml`). A module-level import anywhere on the way to a
plain run brings one back; these tests see it in a real tap process's `sys.modules`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

from tap_restoauth.sandbox import SandboxServer
from tests.conftest import sandbox_config
from tests.helpers import ISOLATED_ENV

DEFERRED = (
    "jwt",
    "cryptography",
    "google.cloud.secretmanager",
    "google.cloud.secretmanager_v1",
    "grpc",
    "google_crc32c",
    "xml.etree.ElementTree",
    "yaml",
    "tap_restoauth.fetch.jobs",
    "tap_restoauth.fetch.graphql",
    "tap_restoauth.sync.plan",
    # singer-sdk's target side, loaded only by its package __init__ (lazy_sdk.py)
    "joblib",
    "singer_sdk.target_base",
    "singer_sdk.sinks",
    "singer_sdk.streams.rest",
)
# `--about` alone is answered without building the tap (about.py): none of the run's stack.
NOT_FOR_ABOUT = ("tap_restoauth.tap", "tap_restoauth.http.client", "requests", "singer_sdk.tap_base")

# Runs the tap's command line in this process, then lists which DEFERRED modules it imported.
CHILD = """
import json, sys
report, args = sys.argv[1], sys.argv[2:]
sys.argv = ["tap-restoauth", *args]
try:
    from tap_restoauth.__main__ import main
    main()
except SystemExit as exit:
    code = exit.code
else:
    code = 0
deferred = %r
with open(report, "w") as out:
    json.dump({"exit": code, "imported": [m for m in deferred if m in sys.modules]}, out)
"""


def _imported(tmp_path: Path, args: t.Sequence[str], watched: t.Sequence[str] = DEFERRED) -> list[str]:
    report = tmp_path / "imported.json"
    done = subprocess.run(
        [sys.executable, "-c", CHILD % (tuple(watched),), str(report), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **ISOLATED_ENV},
        timeout=120,
        check=False,
    )
    assert report.exists(), done.stderr[-2000:]
    result = json.loads(report.read_text())
    assert result["exit"] in (0, None), done.stderr[-2000:]
    return t.cast("list[str]", result["imported"])


def test_about_imports_no_jwt_crypto_secret_manager_or_xml(tmp_path: Path) -> None:
    assert _imported(tmp_path, ["--about"]) == []


def test_about_alone_does_not_build_the_tap(tmp_path: Path) -> None:
    assert _imported(tmp_path, ["--about", "--format=json"], NOT_FOR_ABOUT) == []


def test_about_with_other_options_goes_through_the_tap(tmp_path: Path) -> None:
    """The check is not blind: `--about --version`-style mixes take the SDK's command line."""
    assert "tap_restoauth.tap" in _imported(tmp_path, ["--about", "--config", "ENV"], NOT_FOR_ABOUT)


def test_an_oauth_sync_without_sm_references_imports_none_of_them(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(sandbox_config(sandbox)))
    imported = _imported(tmp_path, ["--config", str(config_file)])
    assert imported == []


def test_the_check_sees_a_deferred_module_when_it_is_imported(tmp_path: Path) -> None:
    """The child's report is not blind: a run that imports PyJWT shows it."""
    report = tmp_path / "imported.json"
    code = "import jwt\n" + CHILD % (DEFERRED,)
    subprocess.run(
        [sys.executable, "-c", code, str(report), "--about"],
        capture_output=True,
        env={**os.environ, **ISOLATED_ENV},
        timeout=120,
        check=True,
    )
    assert "jwt" in json.loads(report.read_text())["imported"]
