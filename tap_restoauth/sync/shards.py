"""Sharding: N processes run one config and together extract each record exactly once.

``shard: {index: 2, count: 4}``; without it, the job engine's task index: Cloud Run
Jobs, Kubernetes Indexed Jobs, AWS Batch array jobs, or any variables named by
``shard: {index_env: ..., count_env: ...}`` (see `parse_shard`); else one shard (0 of 1).

The work is split into units, each owned by exactly one shard: the shard whose index
is a stable hash (SHA-256, the same in every process and Python version) of the unit's
key modulo `count`:

- a whole stream (a stream without partitions): key ``users``; a shard that does not
  own it writes none of its records -- but when its children are selected it still
  walks its records (and keeps its bookmark in its own state) to find their partitions;
- a partition context of any kind -- a parent record's child partition, a static
  partition: key ``user_orders {"user_id":7}`` (the context as sorted JSON).
  Everything below an owned partition (grandchildren) goes with it;
- a date window of a windowed stream: key ``daily {"account_id":"12"} @2024-01-03T00:00:00+00:00``
  (the start of the window's step cell on the grid, see fetch/windows.py). Every shard
  enters each context of a windowed stream and fetches only the windows it owns; its
  bookmark moves to the end of each owned window it finishes, and the next run plans
  from it on the same grid.

Each shard keeps its own state (its own Meltano state ID or state file): a unit is
always owned by the same shard, so its bookmark is always in that shard's state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import typing as t
from collections.abc import Iterator, Mapping

from tap_restoauth.errors import ConfigError

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.streams.core import Stream

COUNT_FALLBACK_ENV = "TAP_RESTOAUTH_SHARD_COUNT"


@dataclasses.dataclass(frozen=True)
class Engine:
    """A job engine's task-index variable and, if it sets one, its task-count variable."""

    name: str
    index_env: str
    count_env: str | None


# Tried in this order when `shard` does not say where the index comes from.
ENGINES = (
    Engine("Cloud Run Jobs", "CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_COUNT"),
    Engine("a Kubernetes Indexed Job", "JOB_COMPLETION_INDEX", None),
    Engine("an AWS Batch array job", "AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE"),
)
INDEX_ENV, COUNT_ENV = ENGINES[0].index_env, ENGINES[0].count_env


@dataclasses.dataclass(frozen=True)
class ShardSettings:
    """Which shard this process is: `index` in 0..count-1."""

    index: int = 0
    count: int = 1


def parse_shard(config: Mapping[str, t.Any], env: Mapping[str, str] = os.environ) -> ShardSettings:
    """The `shard` setting; missing parts come from the job engine's variables, else 0 of 1.

    ``shard: {index_env: SHARD_INDEX, count_env: SHARD_COUNT}`` names the variables of
    any other engine (GitHub Actions matrix, Airflow mapped tasks). Otherwise the first
    engine whose index variable is set: Cloud Run Jobs (`CLOUD_RUN_TASK_INDEX`,
    `CLOUD_RUN_TASK_COUNT`), a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`; the count
    is not in the environment), an AWS Batch array job (`AWS_BATCH_JOB_ARRAY_INDEX`,
    `AWS_BATCH_JOB_ARRAY_SIZE` when set). A count the engine does not give comes from
    `shard.count` or `TAP_RESTOAUTH_SHARD_COUNT`.
    """
    raw = config.get("shard") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("shard: expected an object {index, count}")
    unknown = sorted(set(raw) - {"index", "count", "index_env", "count_env"})
    if unknown:
        raise ConfigError(
            f"shard: unknown option(s) {', '.join(unknown)} (allowed: count, count_env, index, index_env)"
        )
    engine = _engine(raw, env)
    index_env = engine.index_env if engine else None
    index = _integer(raw.get("index"), env.get(index_env or ""), "shard.index", index_env, None)
    # An engine's own count, else (index set in the config) any engine's, else the fallback.
    engines = [engine] if engine is not None else ENGINES
    count_vars = [name for name in (*(e.count_env for e in engines), COUNT_FALLBACK_ENV) if name]
    count_env = next((name for name in count_vars if env.get(name) not in (None, "")), None)
    count = _integer(raw.get("count"), env.get(count_env or ""), "shard.count", count_env, None)
    if index is not None and count is None:
        source = "shard.index"
        if engine is not None and raw.get("index") is None:
            source = f"{engine.index_env} ({engine.name})"
        either = f"shard.count, {engine.count_env} or" if engine and engine.count_env else "shard.count or"
        raise ConfigError(
            f"shard: {source} gives this task's index but nothing gives the number of tasks: "
            f"set {either} {COUNT_FALLBACK_ENV}"
        )
    index, count = index or 0, 1 if count is None else count
    if count < 1:
        raise ConfigError(f"shard.count: expected at least 1, got {count}")
    if not 0 <= index < count:
        raise ConfigError(f"shard.index: expected 0 to {count - 1} (shard.count is {count}), got {index}")
    return ShardSettings(index, count)


def _engine(raw: Mapping[str, t.Any], env: Mapping[str, str]) -> Engine | None:
    """Where the task index comes from: `shard.index_env`, else the first engine that set one."""
    index_env, count_env = raw.get("index_env"), raw.get("count_env")
    for name, value in (("shard.index_env", index_env), ("shard.count_env", count_env)):
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError(f"{name}: expected the name of an environment variable")
    if index_env is not None:
        if raw.get("index") is None and env.get(index_env) in (None, ""):
            raise ConfigError(f"shard.index_env: the environment variable {index_env} is not set")
        return Engine(f"shard.index_env {index_env}", index_env, count_env)
    if count_env is not None:
        raise ConfigError("shard.count_env: needs shard.index_env (the variable holding this task's index)")
    return next((engine for engine in ENGINES if env.get(engine.index_env) not in (None, "")), None)


def _integer(
    value: t.Any, from_env: str | None, where: str, variable: str | None, default: int | None
) -> int | None:
    if value is None and from_env not in (None, "") and variable:
        value, where = from_env, variable
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if isinstance(value, float | bool) or (isinstance(value, str) and value.strip() != str(number)):
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    return number


def unit_key(stream: str, context: Mapping[str, t.Any] | None, window: str | None = None) -> str:
    """The stable key of a whole stream (context None), one of its partitions, or a date window."""
    key = stream
    if context:
        key += f" {json.dumps(context, sort_keys=True, separators=(',', ':'), default=str)}"
    return f"{key} @{window}" if window else key


class Shards:
    """Decides which units this shard syncs; `owns` is the one assignment function."""

    def __init__(self, settings: ShardSettings) -> None:
        self.index = settings.index
        self.count = settings.count
        self._inside_owned_partition = 0
        self.windowed: set[str] = set()  # streams assigned by date window, not by context

    def owns(self, key: str) -> bool:
        """Whether the unit with `key` is this shard's (every process computes the same answer)."""
        if self.count == 1:
            return True
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index

    def owns_context(self, stream: str, context: Mapping[str, t.Any] | None) -> bool:
        """Whether the partition `context` of `stream` is synced here (True below an owned one)."""
        if not context or self._inside_owned_partition or stream in self.windowed:
            return True
        return self.owns(unit_key(stream, context))

    def owns_window(self, stream: str, context: Mapping[str, t.Any] | None, window: str) -> bool:
        """Whether the date window (its `Window.key`) is fetched here (True below an owned partition)."""
        return bool(self._inside_owned_partition) or self.owns(unit_key(stream, context, window))

    @contextlib.contextmanager
    def owned(self) -> Iterator[None]:
        """While an owned unit syncs, the partitions found below it are owned too."""
        self._inside_owned_partition += 1
        try:
            yield
        finally:
            self._inside_owned_partition -= 1

    @contextlib.contextmanager
    def partition(self, stream: str, context: Mapping[str, t.Any] | None) -> Iterator[bool]:
        """Whether to sync this partition; while it syncs, partitions below it are owned too."""
        owned = self.owns_context(stream, context)
        if not owned or not context or stream in self.windowed:
            yield owned
            return
        with self.owned():
            yield True

    def assign_streams(self, streams: Iterable[Stream]) -> list[str]:
        """Stop whole streams of other shards from writing; returns the names of those streams.

        Only streams without partitions or date windows are whole-stream units; their children's partitions
        are assigned one by one as they are found.
        """
        others = []
        for stream in streams:
            if (
                stream.parent_stream_type
                or stream.partitions
                or stream.name in self.windowed
                or not hasattr(stream, "emits_records")
            ):
                continue
            if not (stream.selected or stream.has_selected_descendents) or self.owns(
                unit_key(stream.name, None)
            ):
                continue
            others.append(stream.name)
            if stream.has_selected_descendents:
                stream.emits_records = False  # walked for its children's partitions only
            else:
                stream.selected = False
        return others
