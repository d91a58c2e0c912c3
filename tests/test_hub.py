"""The Meltano Hub files under hub/ pass the Hub's own checks (schemas and yamllint rules vendored
in tests/hub_schema/, see SOURCE.md there) and carry what `--about` says."""

from __future__ import annotations

import json
import typing as t
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from yamllint import linter
from yamllint.config import YamlLintConfig

from tests.test_docs import update_docs

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "tests" / "hub_schema"
HUB = ROOT / "hub"
DEFINITION = HUB / "extractors" / "tap-restoauth" / "restoauth.yml"


def hub_validator() -> Draft7Validator:
    """The extractor schema with every schema registered under its `$id`, as the Hub's CI does."""
    resources = []
    for path in sorted(RULES.glob("*/*.schema.json")):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema, default_specification=DRAFT7)))
    schema = json.loads((RULES / "plugin_definitions" / "extractors.schema.json").read_text())
    return Draft7Validator(schema, registry=Registry().with_resources(resources))


def errors(definition: dict[str, t.Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in hub_validator().iter_errors(definition)]


@pytest.fixture(scope="module")
def definition() -> dict[str, t.Any]:
    return yaml.safe_load(DEFINITION.read_text())


@pytest.fixture(scope="module")
def about() -> dict[str, t.Any]:
    return json.loads(update_docs.about("json"))


def test_definition_passes_the_hubs_json_schema(definition):
    assert errors(definition) == []
    # The same validator refuses what the Hub refuses: no quality, an unknown key, a bad kind.
    assert errors({k: v for k, v in definition.items() if k != "quality"})
    assert errors({**definition, "homepage": "x"})
    bad_kind = [{**definition["settings"][0], "kind": "secret"}, *definition["settings"][1:]]
    assert errors({**definition, "settings": bad_kind})


@pytest.mark.parametrize("path", [DEFINITION, HUB / "maintainers.yml"], ids=lambda p: p.name)
def test_hub_files_pass_the_hubs_yamllint_rules(path):
    config = YamlLintConfig((RULES / "yamllint.yaml").read_text())
    problems = [f"{p.line}:{p.column} {p.rule}: {p.desc}" for p in linter.run(path.read_text(), config)]
    assert problems == []
    # The rules are live: the same content with its keys in reverse order fails them.
    data = yaml.safe_load(path.read_text())
    unsorted = yaml.safe_dump(dict(reversed(list(data.items()))), sort_keys=False)
    if len(data) > 1:
        assert any(p.rule == "key-ordering" for p in linter.run(unsorted, config))


def test_definition_has_what_the_hubs_ci_and_pages_need(definition):
    """Name matches its folder, the variant has a maintainers entry with the repo's owner URL,
    and the logo, quality and page texts are there."""
    assert definition["name"] == DEFINITION.parent.name
    assert DEFINITION.name == f"{definition['variant']}.yml"
    maintainers = yaml.safe_load((HUB / "maintainers.yml").read_text())
    entry = maintainers[definition["variant"].lower()]
    assert entry["url"] == "/".join(definition["repo"].split("/")[:-1])
    assert entry["label"] and entry["name"]
    assert definition["quality"] in {"gold", "silver", "bronze"}
    assert definition["logo_url"] == f"/assets/logos/extractors/{definition['variant']}.svg"
    assert ET.parse(HUB / "logo.svg").getroot().tag == "{http://www.w3.org/2000/svg}svg"
    for key in ("domain_url", "usage", "settings_preamble", "next_steps", "description", "label"):
        assert definition[key], key
    assert definition["pip_url"] == f"git+{definition['repo']}.git"


def test_definition_mirrors_about(definition, about):
    """Capabilities, Python versions, secrets as `kind: password`, and `value` for each default."""
    assert definition["capabilities"] == sorted(about["capabilities"])
    assert "batch" not in about["capabilities"]
    assert definition["supported_python_versions"] == about["supported_python_versions"]
    defaults = {}

    def walk(properties: dict[str, t.Any], prefix: str) -> None:
        for name, schema in properties.items():
            if schema.get("properties") and not isinstance(schema.get("additionalProperties"), dict):
                walk(schema["properties"], f"{prefix}{name}.")
            elif schema.get("default") is not None:
                defaults[prefix + name] = schema["default"]

    walk(about["settings"]["properties"], "")
    settings = {s["name"]: s for s in definition["settings"]}
    assert [s["name"] for s in definition["settings"]] == sorted(settings)
    assert {n: s["value"] for n, s in settings.items() if "value" in s} == defaults
    assert {n for n, s in settings.items() if s["kind"] == "password"} == {
        n for n, s in settings.items() if s.get("sensitive")
    }
    assert {"auth.client_secret", "auth.refresh_token", "auth.password"} <= {
        n for n, s in settings.items() if s["kind"] == "password"
    }
