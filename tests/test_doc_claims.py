"""What the README and docs/ claim in numbers and lists, checked against the code."""

from __future__ import annotations

import json
import re
import typing as t
from pathlib import Path

import pytest

from tap_restoauth.auth.methods import AUTH_TYPES
from tap_restoauth.auth.registry import build_auth  # noqa: F401 - registers every auth type
from tap_restoauth.fetch.pagination import PAGINATORS
from tap_restoauth.tap import TapRestOAuth

ROOT = Path(__file__).resolve().parent.parent
PAGES = {
    path.relative_to(ROOT).as_posix(): path.read_text()
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
}
NUMBER_WORDS = {"six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}


def settings_defaults() -> dict[str, t.Any]:
    """{dotted setting name: default} from the tap's own schema (what --about prints)."""
    found: dict[str, t.Any] = {}

    def walk(properties: dict[str, t.Any], prefix: str) -> None:
        for name, schema in properties.items():
            if "default" in schema:
                found[prefix + name] = schema["default"]
            walk(schema.get("properties") or {}, f"{prefix}{name}.")

    walk(TapRestOAuth.config_jsonschema["properties"], "")
    return found


def test_defaults_the_docs_state_are_the_settings_defaults():
    """`NAME` (default N ...): N is NAME's default in the schema, wherever the docs say it."""
    defaults = settings_defaults()
    checked = []
    for page, text in PAGES.items():
        for name, written in re.findall(r"`([a-z_.]+)` \(default (\d[\d,]*(?:\.\d+)?)\b", text):
            value = written.replace(",", "")
            if name not in defaults:
                continue  # not a setting with a declared default (e.g. a JWT claim)
            assert float(value) == float(defaults[name]), (
                f"{page}: {name} default {value}, code {defaults[name]}"
            )
            checked.append(name)
    assert len(checked) >= 5, checked


def test_recipe_counts_and_tables_match_examples():
    examples = sorted(path.stem for path in (ROOT / "examples").glob("*.json"))
    for page, text in PAGES.items():
        for count in re.findall(r"\b(\d+) recipes\b", text):
            assert int(count) == len(examples), f"{page} says {count} recipes, examples/ has {len(examples)}"
    listed = re.findall(r"^\| \[(\w+)\]\(\.\./examples/\1\.json\)", PAGES["docs/recipes.md"], re.M)
    assert listed == examples
    assert f"{len(examples)} recipes" in PAGES["README.md"]


def test_auth_and_pagination_types_the_readme_lists_are_the_registered_ones():
    readme = PAGES["README.md"]
    auth = re.search(r"\*\*Authentication\*\* \(`auth.type`\): (.*?);", readme, re.S)
    pagination = re.search(r"\*\*Pagination\*\* .*?\):\s*(.*?)\.\n", readme, re.S)
    assert auth is not None and pagination is not None
    assert set(re.findall(r"`(\w+)`", auth.group(1))) == set(AUTH_TYPES)
    assert set(re.findall(r"`(\w+)`", pagination.group(1))) == set(PAGINATORS)
    said = re.search(r"`auth.type` picks one of (\w+) types", PAGES["docs/configuration.md"])
    assert said is not None and NUMBER_WORDS[said.group(1)] == len(AUTH_TYPES)


@pytest.mark.parametrize("page", ["README.md", "docs/testing.md"])
def test_setup_claims_name_what_the_scripts_install(page):
    """Not "only PyPI" while scripts/test.sh installs PostgreSQL with apt-get; venv is named."""
    text = PAGES[page]
    assert not re.search(r"only the package registries \(PyPI\)", text)
    assert not re.search(r"only `?python3`? and `?pip`?", text)
    if page == "README.md":
        assert "`venv` module" in text and "apt-get" in text


def test_examples_are_valid_json_configs():
    for path in sorted((ROOT / "examples").glob("*.json")):
        config = json.loads(path.read_text())
        assert {"api_url", "streams"} <= set(config), path.name
