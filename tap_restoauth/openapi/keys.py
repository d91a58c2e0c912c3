"""Primary and replication keys guessed from a record schema and the query parameters.

- Primary key: ``id``; else the one ``*_id``/``uuid``/``key`` property that is required
  and scalar; else none.
- Replication key: a ``date-time`` property named like ``updated``, ``updated_at``,
  ``modified``, ``last_modified``, ``updatedAt`` ..., only when a query parameter can
  filter by it (``updated_since``, ``since``, ``modified_after``, ``updated_at[gte]``,
  ``filter`` ...) that takes a date-time or text (GitHub's ``/repositories?since=`` takes an id):
  ``{replication_key: updated_at, incremental: {param: since}}``.
"""

from __future__ import annotations

import dataclasses
import re

from tap_restoauth.openapi.operations import Operation, Parameter
from tap_restoauth.openapi.schema import Flat, Translator

_KEY = re.compile(r"^(.+_id|uuid|key)$", re.IGNORECASE)
UPDATED_NAMES = (
    "updated_at",
    "updatedAt",
    "updated",
    "last_modified",
    "lastModified",
    "last_modified_at",
    "lastModifiedAt",
    "modified",
    "modified_at",
    "modifiedAt",
    "date_modified",
    "dateModified",
    "last_updated",
    "lastUpdated",
    "updated_time",
    "updatedTime",
    "update_time",
    "updateTime",
    "last_update_time",
    "lastUpdateTime",
)
FILTER_PARAMS = (
    "updated_since",
    "updatedSince",
    "since",
    "modified_after",
    "modifiedAfter",
    "modified_since",
    "modifiedSince",
    "updated_after",
    "updatedAfter",
    "updated_at_min",
    "updated_min",
    "updatedMin",
    "last_modified_after",
    "start_time",
    "filter",
)
SCALAR_KINDS = frozenset({"string", "integer", "number"})


@dataclasses.dataclass(frozen=True)
class Keys:
    primary_keys: list[str]
    replication_key: str | None
    filter_param: str | None
    reasons: list[str]


def detect(item: Flat, operation: Operation, translator: Translator) -> Keys:
    kinds = {name: translator.flatten(located, item.refs) for name, located in item.properties.items()}
    reasons = []
    primary: list[str] = []
    if "id" in kinds and kinds["id"].kind in SCALAR_KINDS:
        primary = ["id"]
        reasons.append("primary key id")
    else:
        named = [
            name
            for name, flat in kinds.items()
            if _KEY.match(name) and name in item.required and flat.kind in SCALAR_KINDS
        ]
        if len(named) == 1:
            primary = named
            reasons.append(f"primary key {named[0]}: the one required scalar *_id/uuid/key property")
        else:
            why = (
                "several candidates " + ", ".join(named) if named else "no id, nor one required *_id/uuid/key"
            )
            reasons.append(f"no primary key ({why})")
    query = operation.query()
    replication, param = None, None
    timestamps = [name for name in UPDATED_NAMES if name in kinds and kinds[name].format == "date-time"]
    for name in timestamps:
        options = [
            f"{name}[gte]",
            f"{name}[gt]",
            f"{name}_after",
            f"{name}_since",
            f"{name}_min",
            *FILTER_PARAMS,
        ]
        param = next((option for option in options if option in query and _takes_time(query[option])), None)
        if param is not None:
            replication = name
            break
    if replication:
        reasons.append(f"incremental on {replication} with the query parameter {param}")
    elif timestamps:
        reasons.append(f"full table: {timestamps[0]} is a date-time but no query parameter filters by it")
    else:
        reasons.append("full table: no updated-like date-time property")
    return Keys(primary, replication, param, reasons)


def _takes_time(parameter: Parameter) -> bool:
    """A filter parameter that can carry a timestamp: not a number or a boolean."""
    return parameter.schema.get("type") not in {"integer", "number", "boolean"}
