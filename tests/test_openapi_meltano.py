"""A Meltano run through meltano.yml of a stream derived at start-up from Stripe's document
(the `openapi` setting), served by Prism, into target-jsonl."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import jsonschema
import pytest

from tap_restoauth.openapi.generate import Options, generate
from tests.meltano_project import MeltanoProject
from tests.oauth_server import OAuthServer
from tests.openapi_prism import Prism, prism_binary, trimmed
from tests.test_meltano import read_jsonl
from tests.test_openapi_real import DOCS, load


@pytest.mark.e2e
def test_meltano_runs_a_stripe_derived_stream_into_target_jsonl(
    project: MeltanoProject, tmp_path: Path
) -> None:
    binary = prism_binary()
    if binary is None:
        pytest.skip("npm is not installed: Stoplight Prism cannot be installed")
    document = load("stripe_spec3.json")
    products = next(s for s in generate(document, Options()).config["streams"] if s["name"] == "products")
    prism = Prism(binary, trimmed(document.root, {"/v1/products": "GET"}), tmp_path)
    spec = tmp_path / "spec3.json"
    spec.write_bytes(gzip.decompress((DOCS / "stripe_spec3.json.gz").read_bytes()))
    try:
        prism.wait_ready()
        with OAuthServer() as oauth:
            env = project.env(
                tmp_path,
                TAP_RESTOAUTH_API_URL=prism.url,
                TAP_RESTOAUTH_AUTH_TOKEN_URL=oauth.token_url,
                TAP_RESTOAUTH_AUTH_CLIENT_ID=oauth.client_id,
                TAP_RESTOAUTH_AUTH_CLIENT_SECRET=oauth.clients[oauth.client_id].client_secret,
                TAP_RESTOAUTH_OPENAPI_DOCUMENT=str(spec),
                TAP_RESTOAUTH_OPENAPI_INCLUDE='["/v1/products"]',
                # One patch of the derived stream: Prism answers page 2 like page 1 (fixed seed).
                TAP_RESTOAUTH_STREAMS='[{"name": "products", "max_pages": 1}]',
                TAP_RESTOAUTH__SELECT='["products.*"]',
                TARGET_JSONL_DESTINATION_PATH=str(tmp_path / "out"),
            )
            project.meltano("run", "tap-restoauth", "target-jsonl", env=env, timeout=600)
    finally:
        prism.stop()
    rows = read_jsonl(tmp_path / "out")["products"]
    assert rows
    validator = jsonschema.Draft7Validator(products["schema"])
    assert [e.message for row in rows for e in validator.iter_errors(row)] == []
    assert prism.rejections() == []
    assert json.dumps(rows)  # plain JSON rows
