"""The README, meltano.yml and the Hub definition agree with `tap-restoauth --about`."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import typing as t
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tap_restoauth.config import parse_settings
from tests import readme_blocks
from tests.example_apis import EXAMPLES, ExampleApis, local_config, readme_examples
from tests.helpers import ISOLATED_ENV, run_tap

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _load_update_docs() -> t.Any:
    spec = importlib.util.spec_from_file_location("update_docs", ROOT / "scripts" / "update_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


update_docs = _load_update_docs()


@pytest.fixture(scope="module")
def about() -> dict[str, t.Any]:
    return json.loads(update_docs.about("json"))


def _tap(meltano: dict[str, t.Any]) -> dict[str, t.Any]:
    return next(p for p in meltano["plugins"]["extractors"] if p["name"] == "tap-restoauth")


@pytest.fixture(scope="module")
def definitions() -> dict[str, dict[str, t.Any]]:
    """The tap's plugin definition in meltano.yml and in the Hub file."""
    return {
        "meltano.yml": _tap(yaml.safe_load((ROOT / "meltano.yml").read_text())),
        "hub": yaml.safe_load(update_docs.HUB_FILE.read_text()),
    }


def test_generated_parts_are_current():
    stale = [str(path.relative_to(ROOT)) for path in update_docs.stale()]
    assert not stale, f"stale: {stale}; run .venv/bin/python scripts/update_docs.py"


def test_plugin_settings_mirror_about(about, definitions):
    """Same names, secrets marked sensitive, same descriptions; checked without the generator."""
    secrets: set[str] = set()
    descriptions: dict[str, str] = {}

    def walk(properties: dict[str, t.Any], prefix: str) -> None:
        for name, schema in properties.items():
            if schema.get("properties") and not isinstance(schema.get("additionalProperties"), dict):
                walk(schema["properties"], f"{prefix}{name}.")
                continue
            descriptions[prefix + name] = " ".join(schema.get("description", "").split())
            if schema.get("secret"):
                secrets.add(prefix + name)

    walk(about["settings"]["properties"], "")
    assert {"auth.client_secret", "auth.refresh_token", "auth.password", "auth.token"} <= secrets
    for where, plugin in definitions.items():
        settings = {s["name"]: s for s in plugin["settings"]}
        assert set(settings) == set(descriptions), where
        assert {n for n, s in settings.items() if s.get("sensitive")} == secrets, where
        assert {n: s["description"] for n, s in settings.items()} == descriptions, where
        assert all(s.get("label") and s.get("kind") for s in settings.values()), where
        # `kind: password` is deprecated in Meltano but the Hub's convention for secrets.
        passwords = {n for n, s in settings.items() if s["kind"] == "password"}
        assert passwords == (secrets if where == "hub" else set()), where
        assert sorted(plugin["capabilities"]) == sorted(about["capabilities"]), where


def test_meltano_yml_never_needs_the_hub():
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    assert "version" not in project
    assert project["send_anonymous_usage_stats"] is False
    assert project["cli"]["disable_version_check"] is True
    assert re.match(r"http://127\.0\.0\.1:\d+/", project["hub_url"])
    assert {e["name"] for e in project["environments"]} >= {"dev", "prod"}
    for plugins in project["plugins"].values():
        for plugin in plugins:
            assert "variant" not in plugin, plugin["name"]
            if "inherit_from" not in plugin:
                assert {"namespace", "pip_url", "executable"} <= set(plugin), plugin["name"]


def test_readme_config_examples_are_valid_configs():
    examples = readme_examples()
    assert {"full-config", "oauth-cursor", "basic-page-numbers", "refresh-link-header"} <= set(examples)
    for name, example in examples.items():
        config = example.get("config", example)  # a meltano.yml plugin entry or a bare config
        settings = parse_settings(config)
        assert settings.auth.type == config["auth"]["type"], name
        assert {s.name for s in settings.streams} == {s["name"] for s in config["streams"]}, name
        written = {stream["name"]: stream for stream in config["streams"]}
        for stream in settings.streams:
            pagination = written[stream.name].get("pagination") or config.get("pagination") or {}
            assert stream.paginator.type == pagination.get("type", "none"), (name, stream.name)
            assert stream.parent == written[stream.name].get("parent"), (name, stream.name)


@pytest.fixture
def example_apis() -> t.Iterator[ExampleApis]:
    server = ExampleApis().start()
    yield server
    server.shutdown()
    server.server_close()


def test_readme_worked_examples_extract_everything_from_apis_shaped_like_theirs(example_apis, tmp_path):
    """Each worked example, as printed, against a local API of the shape its text describes.

    `python -m tests.example_apis` writes the same configs for readers (see example_apis.local_config).
    """
    initial_refresh_token = example_apis.refresh_token
    runs = {}
    for name in EXAMPLES:
        config = local_config(name, example_apis, tmp_path / f"{name}.token")
        run = run_tap(tmp_path / name, config)
        assert run.returncode == 0, run.stderr[-2000:]
        runs[name] = run

    assert "access tokens" not in runs["basic-page-numbers"].stderr  # Basic auth has no tokens
    assert "1 access tokens obtained" in runs["oauth-cursor"].stderr
    counts = example_apis.counts()
    assert runs["oauth-cursor"].counts() == {"contacts": counts["contacts"], "deals": counts["deals"]}
    assert runs["basic-page-numbers"].counts() == {
        "employees": counts["employees"],
        "payslips": counts["payslips"],
    }
    tasks = runs["refresh-link-header"]
    assert tasks.counts() == {"projects": counts["projects"], "tasks": counts["tasks"]}
    assert all(task["project_id"] == task["id"] // 100 for task in tasks.records("tasks"))
    token_file = tmp_path / "refresh-link-header.token"
    assert token_file.read_text().strip() == example_apis.refresh_token  # the rotated one, saved
    assert example_apis.refresh_token != initial_refresh_token


def test_readme_links_and_commands_point_at_real_files():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) > 4
    missing = []
    for page in pages:
        for link in re.findall(r"\]\((?!https?://|#)([^)#\s]+)", page.read_text()):
            if not (page.parent / link).exists():
                missing.append(f"{page.relative_to(ROOT)}: {link}")
    assert not missing, f"links to missing files: {missing}"
    setup = re.search(r"<!-- setup -->\s*```sh\n(.*?)```", README, re.S)
    assert setup is not None
    assert setup.group(1).split("\n")[:-1] == ["bash scripts/demo.sh", "bash scripts/test.sh"]


def test_readme_worked_examples_block_runs_as_printed(tmp_path):
    """The shell block that starts the examples' APIs and runs example 1, in a fresh folder."""
    for name in (".venv", "tests"):
        (tmp_path / name).symlink_to(ROOT / name)
    names = ["worked-examples"]
    ports = {port: readme_blocks.free_port() for port in readme_blocks.printed_ports(names)}
    done = readme_blocks.run(names, tmp_path, {**os.environ, **ISOLATED_ENV}, ports)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = (tmp_path / "output" / "examples" / "crm.singer").read_text().splitlines()
    records = Counter(json.loads(line)["stream"] for line in lines if '"RECORD"' in line)
    assert records == {"contacts": 250, "deals": 30}
    written = sorted(path.name for path in (tmp_path / "output" / "examples").glob("*.json"))
    assert written == sorted(f"{name}.json" for name in EXAMPLES)
