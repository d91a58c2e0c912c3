"""The `openapi` setting: streams derived from a document at start-up, patched by `streams`.

Config::

    api_url: https://api.example.com
    openapi:
      document: https://api.example.com/openapi.json   # or a file path, or sm://PROJECT/SECRET
      include: ["/v1/*"]          # globs on paths or operationIds
      exclude: ["*search*"]
      tags: [billing]
    streams:                      # optional: patches of derived streams, by name (or new streams)
      - {name: customers, primary_keys: [id], replication_key: created}

Each derived stream is what `tap-restoauth-openapi` would print; a `streams` entry with the
same name overrides the keys it sets and keeps the others. The document is fetched with the
response limits (`max_response_mb`, `request_deadline_seconds`) and never with credentials.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from tap_restoauth.errors import ConfigError, TapRestOAuthError
from tap_restoauth.http.limits import MEGABYTE
from tap_restoauth.options import build
from tap_restoauth.settings import OpenapiOptions


def expand(config: Mapping[str, t.Any]) -> Mapping[str, t.Any]:
    """`config` with the streams of its `openapi` document merged under its own `streams`."""
    settings = config.get("openapi")
    if settings is None:
        return config
    if not isinstance(settings, Mapping) or not isinstance(settings.get("document"), str):
        raise ConfigError("openapi: expected an object with document (a file path, an http(s) URL or sm://)")
    # Imported by `openapi` configs only: the loader brings PyYAML (~20 modules) into every start.
    from tap_restoauth.openapi.document import Document, LoadLimits  # noqa: PLC0415
    from tap_restoauth.openapi.generate import Options, generate  # noqa: PLC0415

    spec = build(OpenapiOptions, settings, "openapi", ignore=set())
    options = Options(
        api_url=str(config["api_url"]) if config.get("api_url") else None,
        include=spec.include,
        exclude=spec.exclude,
        tags=spec.tags,
        max_depth=spec.max_depth,
    )
    limits = LoadLimits(
        max_bytes=int(float(config.get("max_response_mb") or 256) * MEGABYTE),
        deadline_seconds=float(config.get("request_deadline_seconds") or 300),
        timeout=float(config.get("timeout") or 60),
    )
    try:
        generated = generate(Document.load(settings["document"], limits), options)
    except TapRestOAuthError as exc:
        raise ConfigError(f"openapi.document: {exc}") from None
    derived = generated.config["streams"]
    if not derived:
        raise ConfigError("openapi: the document has no listing operation left after include/exclude/tags")
    patches = [s for s in config.get("streams") or [] if isinstance(s, Mapping)]
    by_name = {str(s.get("name")): s for s in patches}
    merged: list[Mapping[str, t.Any]] = [{**stream, **by_name.pop(stream["name"], {})} for stream in derived]
    merged += [patch for patch in patches if str(patch.get("name")) in by_name]
    expanded = {key: value for key, value in config.items() if key != "openapi"}
    expanded["streams"] = merged
    return expanded
