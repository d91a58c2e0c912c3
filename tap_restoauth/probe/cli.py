"""`tap-restoauth-probe URL`: a stream block on stdout, the evidence for each guess on stderr.

    tap-restoauth-probe https://api.example.com/v1/items --config auth.json

`--config FILE` is a tap config (JSON) whose `auth`, `headers`, `params` and HTTP
settings the requests use (`sm://` references resolved); `--method POST --body JSON` probe
search endpoints. At most five requests are sent, all to the URL's origin: the first
page, then page 2 by each candidate way until one brings records page 1 did not hold.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing as t
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from tap_restoauth.auth.secret_manager import resolve_config
from tap_restoauth.config import parse_settings
from tap_restoauth.errors import ApiError, ConfigError, TapRestOAuthError
from tap_restoauth.http import redaction
from tap_restoauth.http.client import ApiClient
from tap_restoauth.http.request import ApiRequest
from tap_restoauth.http.urls import is_sensitive_param
from tap_restoauth.openapi.naming import candidates as names
from tap_restoauth.probe.page import find_records, ids, primary_key, replication_key
from tap_restoauth.probe.pages import FirstPage, Request, candidates

MAX_REQUESTS = 5


@dataclasses.dataclass
class Probe:
    stream: dict[str, t.Any]
    evidence: list[str]
    requests: int


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class Session:
    """The probe's requests: through the tap's client (auth, limits, no retries), counted."""

    def __init__(self, url: str, config: Mapping[str, t.Any]) -> None:
        parts = urlsplit(url)
        tap_config = {
            key: value for key, value in config.items() if key not in {"streams", "openapi", "params"}
        }
        tap_config.update(
            {"api_url": _origin(url), "streams": [{"name": "probe", "path": parts.path or "/"}]}
        )
        tap_config["max_retries"] = 0  # one request is one request: at most MAX_REQUESTS reach the API
        settings = parse_settings(resolve_config(tap_config).config)
        self.client = ApiClient(settings.http, settings.auth)
        self.origin = _origin(url)
        self.sent = 0

    def fetch(self, request: Request) -> t.Any:
        self.sent += 1
        return self.client.get_json(
            ApiRequest("probe", request.method, request.url, params=request.params, body=request.body)
        )


def probe(url: str, config: Mapping[str, t.Any], *, method: str = "GET", body: t.Any = None) -> Probe:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"expected an http(s) URL, got {url!r}")
    params = {**dict(config.get("params") or {}), **dict(parse_qsl(parts.query))}
    session = Session(url, config)
    first_request = Request(
        method.upper(), urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), params, body
    )
    first = session.fetch(first_request)
    records = find_records(first.body if first else None)
    if first is None or records is None:
        raise ApiError(f"{url}: the answer holds no array of objects to extract")
    key, key_evidence = primary_key(records.records)
    updated, updated_evidence = replication_key(records.records)
    evidence = [records.evidence, key_evidence, updated_evidence]
    stream: dict[str, t.Any] = {"name": names(parts.path or "/")[0], "path": parts.path or "/"}
    if method.upper() != "GET":
        stream.update({"method": method.upper(), "body": body})
    shown = {name: value for name, value in params.items() if not is_sensitive_param(name)}
    if shown:  # credentials in the query stay in the config, not in the stream block
        stream["params"] = shown
    stream["records_path"] = records.path
    if key:
        stream["primary_keys"] = key
    if updated:
        stream["replication_key"] = updated
    page = FirstPage(first_request, first.url, first.headers, first.body, records, key)
    stream["pagination"] = _pagination(session, page, evidence)
    return Probe(stream, evidence, session.sent)


def _pagination(session: Session, page: FirstPage, evidence: list[str]) -> dict[str, t.Any]:
    """The first way to page 2 that brings new records (or that page 1 shows needs no page 2)."""
    seen = ids(page.records, page.key)
    for candidate in candidates(page):
        if candidate.next_request is None:
            evidence.append(candidate.evidence)
            return candidate.setting
        if session.sent >= MAX_REQUESTS:
            evidence.append(f"not tried ({MAX_REQUESTS} requests sent): {candidate.evidence}")
            continue
        if _origin(candidate.next_request.url) != session.origin:
            evidence.append(f"not followed (another origin): {candidate.evidence}")
            continue
        try:
            answer = session.fetch(candidate.next_request)
        except TapRestOAuthError as exc:
            evidence.append(f"rejected: {candidate.evidence}: page 2 failed ({exc})")
            continue
        following = find_records(answer.body if answer else None)
        fresh = (
            ids(following, page.key) - seen if following and following.path == page.records.path else set()
        )
        if fresh:
            evidence.append(f"{candidate.evidence}: page 2 answered with {len(fresh)} new ids")
            return candidate.setting
        evidence.append(f"rejected: {candidate.evidence}: page 2 brought no new record")
    evidence.append("pagination none: page 1 shows no working way to a second page")
    return {"type": "none"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tap-restoauth-probe", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "url", metavar="URL", help="the endpoint to probe, e.g. https://api.example.com/v1/items"
    )
    parser.add_argument(
        "--config", metavar="FILE", help="a tap config (JSON) supplying auth, headers, params"
    )
    parser.add_argument("--method", default="GET", choices=["GET", "POST"])
    parser.add_argument("--body", metavar="JSON", help="JSON body of a POST search")
    args = parser.parse_args(argv)
    try:
        config: dict[str, t.Any] = {}
        if args.config:
            try:
                with open(args.config, encoding="utf-8") as handle:
                    config = json.load(handle)
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"--config {args.config}: cannot read a JSON config ({type(exc).__name__})"
                ) from None
            if not isinstance(config, dict):
                raise ConfigError(f"--config {args.config}: expected a JSON object")
        body = json.loads(args.body) if args.body else None
        result = probe(args.url, config, method=args.method, body=body)
    except ValueError:
        print("tap-restoauth-probe: error: --body: not valid JSON", file=sys.stderr)
        return 1
    except TapRestOAuthError as exc:
        print(f"tap-restoauth-probe: error: {redaction.redact(str(exc))}", file=sys.stderr)
        return 1
    for line in result.evidence:  # URLs in the evidence may carry credentials: masked
        print(redaction.redact(line), file=sys.stderr)
    print(f"{result.requests} requests sent", file=sys.stderr)
    sys.stdout.write(redaction.redact(json.dumps(result.stream, indent=2)) + "\n")
    return 0


def cli() -> None:
    sys.exit(main())


if __name__ == "__main__":
    cli()
