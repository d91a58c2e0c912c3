"""Figures of docs/openapi.md: tap-restoauth-openapi and dlt-init-openapi on the same real documents.

    .venv/bin/python benchmarks/openapi_compare.py [--dlt-python /tmp/dlt-venv/bin/python]

For each document in tests/openapi_docs: operations (GET, and POST for us), streams
generated, paging per kind, primary keys, replication keys, children, auth. With
`--dlt-python` (a venv with `pip install dlt-init-openapi "setuptools<81"`), the same from
dlt-init-openapi 0.1.0's parser and detector, run offline in that interpreter.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import tempfile
import typing as t
from collections import Counter
from pathlib import Path

from tap_restoauth.openapi.document import Document, LoadLimits, parse
from tap_restoauth.openapi.generate import Options, generate

DOCS = Path(__file__).resolve().parent.parent / "tests" / "openapi_docs"
NAMES = [
    "stripe_spec3.json",
    "github_api.json",
    "pokeapi.yml",
    "paypal_invoicing_v2.json",
    "paypal_customer_disputes_v1.json",
]

DLT_SCRIPT = r"""
import json, sys, collections
from loguru import logger
logger.remove()
from dlt_init_openapi.config import Config
from dlt_init_openapi.parser.openapi_parser import OpenapiParser
from dlt_init_openapi.detector.default import DefaultDetector
config = Config(project_name="x", package_name="x", allow_openapi_2=True)
parser = OpenapiParser(config)
parser.parse(open(sys.argv[1], "rb").read())
DefaultDetector(config).run(parser)
endpoints = parser.endpoints.endpoints
paging = collections.Counter()
for e in endpoints:
    found = e.detected_pagination or e.detected_global_pagination
    kind = (found.paginator_config or {}).get("type", "?") if found else "auto"
    paging[kind] += 1
scheme = parser.detected_global_security_scheme
print(json.dumps({
    "operations": len(endpoints),
    "streams": len(endpoints),
    "paging": paging,
    "primary_keys": sum(1 for e in endpoints if e.primary_key),
    "replication_keys": 0,
    "children": sum(1 for e in endpoints if e.transformer and e.parent),
    "auth": (scheme.type + (":" + scheme.scheme if scheme.scheme else "")) if scheme else None,
    "schemes": sorted(s.type for s in parser.security_schemes.values()),
    "declared_schemas": 0,
}))
"""


def ours(name: str) -> dict[str, t.Any]:
    data = gzip.decompress((DOCS / f"{name}.gz").read_bytes())
    result = generate(Document(parse(data, name), str(DOCS / name), LoadLimits()), Options())
    streams = result.config["streams"]
    counts = result.report.counts
    return {
        "operations": counts["operations"],
        "streams": len(streams),
        "paging": Counter(s["pagination"]["type"] for s in streams),
        "primary_keys": sum(1 for s in streams if s.get("primary_keys")),
        "replication_keys": sum(1 for s in streams if s.get("replication_key")),
        "children": sum(1 for s in streams if s.get("parent")),
        "auth": (result.config.get("auth") or {}).get("type"),
        "declared_schemas": sum(1 for s in streams if s.get("schema")),
    }


def theirs(name: str, python: str) -> dict[str, t.Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(gzip.decompress((DOCS / f"{name}.gz").read_bytes()))
        done = subprocess.run(
            [python, "-c", DLT_SCRIPT, str(path)], capture_output=True, text=True, check=False, timeout=900
        )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return t.cast(dict[str, t.Any], json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dlt-python", help="python of a venv with dlt-init-openapi installed")
    args = parser.parse_args()
    for name in NAMES:
        row = {"document": name, "tap-restoauth-openapi": ours(name)}
        if args.dlt_python:
            row["dlt-init-openapi"] = theirs(name, args.dlt_python)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
