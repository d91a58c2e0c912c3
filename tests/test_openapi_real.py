"""Real documents (tests/openapi_docs/SOURCES.md): the generated config runs as is against Prism.

For each document: generate the config, serve a trimmed copy of the document with Stoplight
Prism, sync a few generated streams that need no path parameter with the tap, check that
every record validates against the stream's declared schema and that Prism rejected no
request. One Prism process per document, all started at once.
"""

from __future__ import annotations

import gzip
import json
import typing as t
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from tap_restoauth.openapi.document import Document, LoadLimits, parse
from tap_restoauth.openapi.generate import Options, generate
from tests.helpers import run_tap
from tests.oauth_server import OAuthServer
from tests.openapi_prism import Prism, prism_binary, trimmed

DOCS = Path(__file__).parent / "openapi_docs"

# Document -> streams synced through Prism (root streams: no path parameter).
SYNCED = {
    "stripe_spec3.json": ["products", "prices", "events", "plans"],
    "github_api.json": ["gists", "issues", "organizations"],
    "pokeapi.yml": ["ability", "berry", "pokemon"],
    "paypal_invoicing_v2.json": ["invoices"],
    "paypal_customer_disputes_v1.json": ["disputes"],
}


def load(name: str) -> Document:
    data = gzip.decompress((DOCS / f"{name}.gz").read_bytes())
    return Document(parse(data, name), str(DOCS / name), LoadLimits())


@pytest.fixture(scope="module")
def prisms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Prism, dict[str, t.Any]]]]:
    binary = prism_binary()
    if binary is None:
        pytest.skip("npm is not installed: Stoplight Prism (npm @stoplight/prism-cli) cannot be installed")
    workdir = tmp_path_factory.mktemp("prism")
    started: dict[str, tuple[Prism, dict[str, t.Any]]] = {}
    try:
        for name, streams in SYNCED.items():
            document = load(name)
            config = generate(document, Options(api_url="http://127.0.0.1:1")).config
            chosen = [s for s in config["streams"] if s["name"] in streams]
            paths = {s["path"]: s.get("method", "GET") for s in chosen}
            started[name] = (Prism(binary, trimmed(document.root, paths), workdir), config)
        for prism, _ in started.values():
            prism.wait_ready()
        yield started
    finally:
        for prism, _ in started.values():
            prism.stop()


def test_auth_and_root_streams_guessed_from_real_documents() -> None:
    expectations = {
        "stripe_spec3.json": ("bearer", "customers", "cursor"),
        "pokeapi.yml": (None, "pokemon", "offset"),
        "paypal_invoicing_v2.json": ("oauth2_client_credentials", "invoices", "page_number"),
    }
    for name, (auth, stream, paging) in expectations.items():
        config = generate(load(name), Options()).config
        assert config.get("auth", {}).get("type") == auth, name
        by_name = {s["name"]: s for s in config["streams"]}
        assert by_name[stream]["pagination"]["type"] == paging, name


@pytest.mark.e2e
@pytest.mark.xdist_group("prism")  # with --dist loadgroup one worker starts the Prism processes once
@pytest.mark.parametrize("name", list(SYNCED))
def test_generated_config_syncs_through_prism_with_valid_records(
    name: str, prisms: dict[str, tuple[Prism, dict[str, t.Any]]], tmp_path: Path
) -> None:
    prism, generated = prisms[name]
    config = {**generated, "api_url": prism.url}  # the documents' servers have no base path
    config["streams"] = [
        {**s, "max_pages": _pages(s["pagination"]["type"])}
        for s in generated["streams"]
        if s["name"] in SYNCED[name]
    ]
    used = json.dumps(config["streams"])
    for key in [k for k, v in config.items() if v == "CHANGE_ME" and "{config." + k + "}" not in used]:
        del config[key]  # placeholders of the streams not synced here
    with OAuthServer() as oauth:
        config["auth"] = _test_auth(generated.get("auth"), oauth)
        run = run_tap(tmp_path, config, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    for stream in config["streams"]:
        records = run.records(stream["name"])
        assert records, f"{name}: {stream['name']} synced no record"
        validator = jsonschema.Draft7Validator(stream["schema"])
        errors = [f"{stream['name']}: {e.message}" for r in records for e in validator.iter_errors(r)]
        assert errors == [], errors[:5]
    assert prism.requests() >= len(config["streams"])
    assert prism.rejections() == []


def _pages(kind: str) -> int:
    """Pages to sync under Prism: with a fixed seed every answer is the same, so a cursor
    (or Link, or next URL) taken from it asks for the same page again; numbered pages
    and offsets are different requests."""
    return 2 if kind in {"offset", "page_number"} else 1


def _test_auth(auth: dict[str, t.Any] | None, oauth: OAuthServer) -> dict[str, t.Any]:
    """The generated auth with test credentials in place of its sm:// placeholders."""
    if auth is None:
        return {"type": "none"}
    if auth["type"] == "oauth2_client_credentials":
        return oauth.client_credentials_auth(scopes=auth.get("scopes", []))
    if auth["type"] == "basic":
        return {**auth, "username": "user", "password": "test-password"}
    if auth["type"] == "bearer":
        return {**auth, "token": "test-token"}
    if auth["type"] == "api_key":
        return {**auth, "value": "test-key"}
    raise AssertionError(f"no test credentials for {auth['type']}")
