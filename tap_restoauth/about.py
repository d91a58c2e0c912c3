"""What `--about` reports, built without the tap: name, capabilities and the settings schema.

Meltano runs `tap-restoauth --about --format=json` to learn the settings; building the tap
for it would import the whole HTTP, auth and sync stack. `TapRestOAuth` takes its name,
description and capabilities from here, and `tests/test_about.py` holds the fast output
to the SDK's own `print_about` of the tap class, format by format.

    tap-restoauth --about --format=json   # served by `print_about` below
    tap-restoauth --about --config c.json # anything more: the SDK's command line
"""

from __future__ import annotations

import copy
import typing as t
from importlib import metadata

from singer_sdk.helpers.capabilities import (
    FLATTENING_CONFIG,
    STREAM_MAPS_CONFIG,
    CapabilitiesEnum,
    PluginCapabilities,
    TapCapabilities,
)

from tap_restoauth.settings import CONFIG_SCHEMA

if t.TYPE_CHECKING:
    from collections.abc import Sequence

NAME = "tap-restoauth"
DESCRIPTION = "Extracts any paginated REST API behind OAuth 2.0, Basic or API keys."
SDK_PACKAGE = "singer-sdk"
FORMATS = ("json", "markdown")  # and the default, text: the SDK's `--format` choices

# What `--about` reports and meltano.yml and the Hub file copy (scripts/update_docs.py).
# Not the SDK's `batch` (and its batch_config settings): child streams would write a batch
# file per parent record and no loader here reads BATCH messages; nor `structured-logging`,
# which nothing here tests. `activate-version`: sync/versions.py.
CAPABILITIES: list[CapabilitiesEnum] = [
    TapCapabilities.CATALOG,
    TapCapabilities.STATE,
    TapCapabilities.DISCOVER,
    TapCapabilities.ACTIVATE_VERSION,
    PluginCapabilities.ABOUT,
    PluginCapabilities.STREAM_MAPS,
    PluginCapabilities.FLATTENING,
]


def settings_schema() -> dict[str, t.Any]:
    """The tap's settings plus the SDK's built-in ones its capabilities bring, as the SDK adds them."""
    schema = copy.deepcopy(CONFIG_SCHEMA)
    properties = schema.setdefault("properties", {})
    for builtin in (STREAM_MAPS_CONFIG, FLATTENING_CONFIG):
        for name, spec in builtin.get("properties", {}).items():
            properties.setdefault(name, spec)
    return schema


def about_format(argv: Sequence[str]) -> str | None:
    """The format asked for when the command line is only `--about [--format F]`, else None."""
    rest = list(argv)
    if "--about" not in rest:
        return None
    rest.remove("--about")
    chosen = "text"
    if len(rest) == 1 and rest[0].startswith("--format="):
        chosen = rest[0].removeprefix("--format=")
    elif len(rest) == 2 and rest[0] == "--format":
        chosen = rest[1]
    elif rest:
        return None
    chosen = chosen.lower()
    return chosen if chosen in ("text", *FORMATS) else None


def print_about(output_format: str) -> None:
    """Print what the SDK's `--about` prints for the tap, in that format."""
    from singer_sdk import about  # noqa: PLC0415  # the formatters: only for --about

    info = about.AboutInfo(
        name=NAME,
        description=DESCRIPTION,
        version=_version(NAME),
        sdk_version=_version(SDK_PACKAGE),
        supported_python_versions=_python_versions(NAME),
        capabilities=CAPABILITIES,
        settings=settings_schema(),
        env_var_prefix=NAME.upper().replace("-", "_") + "_",
    )
    print(about.AboutFormatter.get_formatter(output_format).format_about(info))


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "[could not be detected]"


def _python_versions(package: str) -> list[str] | None:
    from singer_sdk import about  # noqa: PLC0415

    try:
        return about.python_versions(metadata.metadata(package))
    except metadata.PackageNotFoundError:
        return None
