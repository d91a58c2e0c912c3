"""`tap-restoauth-openapi DOC`: a tap config on stdout, the report on stderr.

    tap-restoauth-openapi https://example.com/openapi.yaml --include '/v1/*' --tags billing > config.json

Exit 0 with the config; 1 with one line on stderr when the document cannot be used.
"""

from __future__ import annotations

import argparse
import json
import sys

from tap_restoauth.errors import TapRestOAuthError
from tap_restoauth.http.limits import MEGABYTE
from tap_restoauth.openapi.document import DEFAULT_MAX_MB, Document, LoadLimits
from tap_restoauth.openapi.generate import Options, generate


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="tap-restoauth-openapi",
        description="Print a tap-restoauth config generated from an OpenAPI 3.x (or Swagger 2.0) document.",
    )
    parse.add_argument("document", metavar="DOC", help="a file path or an http(s) URL; YAML or JSON")
    parse.add_argument("--api-url", help="the API's base URL (default: the document's first servers entry)")
    parse.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="keep only paths or operationIds matching GLOB (repeatable)",
    )
    parse.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="drop paths or operationIds matching GLOB (repeatable)",
    )
    parse.add_argument(
        "--tags",
        action="append",
        default=[],
        metavar="TAG",
        help="keep only operations with one of these tags (repeatable)",
    )
    parse.add_argument(
        "--max-depth",
        type=int,
        default=8,
        metavar="N",
        help="nesting kept in declared schemas; deeper values are JSON text (default 8)",
    )
    parse.add_argument(
        "--max-document-mb",
        type=float,
        default=DEFAULT_MAX_MB,
        metavar="MB",
        help=f"refuse larger documents (default {DEFAULT_MAX_MB:g})",
    )
    return parse


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.max_depth < 1:
        print("tap-restoauth-openapi: error: --max-depth must be at least 1", file=sys.stderr)
        return 2
    options = Options(
        api_url=args.api_url,
        include=tuple(args.include),
        exclude=tuple(args.exclude),
        tags=tuple(args.tags),
        max_depth=args.max_depth,
    )
    try:
        document = Document.load(args.document, LoadLimits(max_bytes=int(args.max_document_mb * MEGABYTE)))
        generated = generate(document, options)
    except TapRestOAuthError as exc:
        print(f"tap-restoauth-openapi: error: {exc}", file=sys.stderr)
        return 1
    print(generated.report.text(), file=sys.stderr)
    json.dump(generated.config, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def cli() -> None:
    sys.exit(main())


if __name__ == "__main__":
    cli()
