"""Static partitions: one stream read once per account, region or site.

Config (on a stream, or at the top level for every root stream)::

    partitions: [{account_id: a1}, {account_id: a2}]
    path: /v1/accounts/{partition.account_id}/invoices

Each value set is a context of the stream: it has its own bookmark in STATE, its
values are added to the stream's records (and to its children's), and
``{partition.NAME}`` places them in the request. A date-windowed stream reads its
windows within each partition (see `windows.py`).

How a sync divides, for anything that splits it (e.g. sharding): `iter_partitions`
lists a root stream's static partitions, each with a stable `key`, and
`RestStream.windows(context, start)` the date windows of one partition (each
`Window` has a stable `key` too).
"""

from __future__ import annotations

import dataclasses
import json
import typing as t
from collections.abc import Iterable, Iterator, Mapping

from tap_restoauth.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Partition:
    """One static partition: its values (the stream's context) and a key stable across runs."""

    context: Mapping[str, t.Any]

    @property
    def key(self) -> str:
        return json.dumps(dict(self.context), sort_keys=True, separators=(",", ":"))


def iter_partitions(partitions: Iterable[Mapping[str, t.Any]]) -> Iterator[Partition]:
    """A root stream's static partitions (its settings' `partitions`), in config order."""
    for values in partitions:
        yield Partition(dict(values))


def check_partitions(value: t.Any, where: str) -> tuple[Mapping[str, t.Any], ...]:
    """A `partitions` setting: a list of objects with the same keys and scalar values, no duplicates."""
    if value is None or value == []:
        return ()
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where}: expected a list of objects such as [{{account_id: a1}}]")
    partitions: list[Mapping[str, t.Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        if not isinstance(item, Mapping) or not item:
            raise ConfigError(f"{where}[{index}]: expected a non-empty object such as {{account_id: a1}}")
        if partitions and set(item) != set(partitions[0]):
            raise ConfigError(
                f"{where}[{index}]: every partition needs the same keys "
                f"({', '.join(partitions[0])}), got {', '.join(map(str, item))}"
            )
        for key, scalar in item.items():
            if not isinstance(scalar, (str, int, float, bool)):
                raise ConfigError(f"{where}[{index}].{key}: expected a string or number")
        partition = Partition(dict(item))
        if partition.key in seen:
            raise ConfigError(f"{where}[{index}]: the partition {partition.key} is listed twice")
        seen.add(partition.key)
        partitions.append(dict(item))
    return tuple(partitions)
