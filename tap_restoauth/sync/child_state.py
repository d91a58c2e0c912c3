"""State of a stream with one bookmark per context (parent record or static partition), kept linear.

The SDK keeps such a stream's bookmarks as a list of partitions and finds one by
scanning the list (each lookup costs the number of partitions so far: quadratic
over a run), and a child stream writes the whole tap state after every parent
record. Over 10,000 parents that is gigabytes of STATE. Here:

- a partition is found through an index (`PartitionStateManager`);
- at most `state_max_partitions` (default 10,000) partitions are kept: when one
  more is created, the oldest ones fold into one stream-level bookmark;
- such streams (and parents carrying them) write STATE at most every
  `state_interval_seconds` (default 10), only once the output since the last STATE
  is four times its size (`StateLines.due`: STATE stays under a fifth of the
  output), and at the end of the run, failed or not (`RestStream._write_state_message`,
  `TapRestOAuth.sync_all`).

Wire shape of a folded stream (a STATE message is always the whole state)::

    {"bookmarks": {"orders": {
        "replication_key": "updated_at", "replication_key_value": "2024-03-01T00:00:00Z",
        "folded_partitions": 90000,  # parents whose bookmark is folded (an estimate after partial runs)
        "partitions": [{"context": {"user_id": 99001}, "replication_key": "updated_at",
                        "replication_key_value": "2024-05-02T10:00:00Z"}, ...]}}}

The stream-level bookmark is where a partition without its own entry starts: it is
the minimum still needed, so no record is lost on resume:

- while a run goes on (and when it stops early), it is the lower of the folded
  partitions' bookmarks and the value the not-yet-visited partitions need (the
  previous fold, else nothing: they start from `start_date`);
- at the end of a run that visited every parent (no ancestor is incremental or
  limited by `max_pages`), it becomes the lowest of the folded bookmarks. A parent
  first seen in a later run then starts from it, as with `incremental.per_parent: false`.

A folded partition without a bookmark (no record yet) needs everything from
`start_date`: the stream-level bookmark is then left out.

Config: ``state_max_partitions: 10000``, ``state_interval_seconds: 10``.
"""

from __future__ import annotations

import json
import typing as t

from singer_sdk.streams._state import StreamStateManager

from tap_restoauth.fetch.incremental import parse_timestamp

if t.TYPE_CHECKING:
    from singer_sdk.helpers import types

FOLDED_KEY = "folded_partitions"
_ABSENT = object()  # "no bookmark": start from start_date, lower than any value


class PartitionStateManager(StreamStateManager):
    """The SDK's state manager with indexed, bounded partitions (see the module docstring)."""

    def __init__(
        self,
        *,
        replication_key: str | None,
        max_partitions: int,
        timestamps: bool,
        complete_pass: bool,
        **kwargs: t.Any,
    ) -> None:
        super().__init__(**kwargs)
        self.replication_key = replication_key
        self.max_partitions = max(1, max_partitions)
        self.timestamps = timestamps
        self.complete_pass = complete_pass  # a run visits every partition that exists
        self._list: list[dict[str, t.Any]] | None = None
        self._index: dict[str, dict[str, t.Any]] = {}
        self._started_fold: t.Any = None  # the input's stream-level bookmark, read on first use
        self._fold_read = False
        self._folded_low: t.Any = None  # lowest bookmark folded in this run (None: nothing folded yet)
        self._folded_count = 0  # partitions folded in this run
        self._started_count = 0  # folded_partitions in the input state

    def get_context_state(self, context: types.Context | None) -> dict:
        partition = self.get_state_partition_context(context)
        if not partition:
            return self.stream_state
        partitions = self._partitions()
        key = _key(partition)
        found = self._index.get(key)
        if found is not None:
            return found
        if len(partitions) >= self.max_partitions:
            self._fold(len(partitions) - self.max_partitions + 1 + self.max_partitions // 10)
        created: dict[str, t.Any] = {"context": dict(partition)}
        fold = self._input_fold()
        if fold is not _ABSENT and self.replication_key is not None:
            created["replication_key"] = self.replication_key
            created["replication_key_value"] = fold
        partitions.append(created)
        self._index[key] = created
        return created

    def pass_complete(self) -> None:
        """The run visited every partition: the stream-level bookmark is the lowest folded one."""
        if self.complete_pass and self._folded_low is not None:
            self._write_fold(self._folded_low)
            self.stream_state[FOLDED_KEY] = self._folded_count

    def _partitions(self) -> list[dict[str, t.Any]]:
        stream = self.stream_state
        partitions = stream.setdefault("partitions", [])
        if partitions is not self._list:
            self._list = partitions
            self._index = {
                _key(entry["context"]): entry
                for entry in partitions
                if isinstance(entry, dict) and isinstance(entry.get("context"), dict)
            }
        return partitions

    def _input_fold(self) -> t.Any:
        if not self._fold_read:
            self._fold_read = True
            stream = self.stream_state
            value = stream.get("replication_key_value")
            self._started_fold = _ABSENT if value is None or FOLDED_KEY not in stream else value
            count = stream.get(FOLDED_KEY)
            self._started_count = count if isinstance(count, int) and not isinstance(count, bool) else 0
        return self._started_fold

    def _fold(self, count: int) -> None:
        """Fold the `count` oldest partitions into the stream-level bookmark."""
        start = self._input_fold()  # read before this writes the stream-level bookmark
        partitions = self._partitions()
        folded, kept = partitions[:count], partitions[count:]
        low = self._folded_low
        for entry in folded:
            # A partition without a bookmark (no record yet) needs everything from start_date.
            value = entry.get("replication_key_value", _ABSENT)
            if value is None or entry.get("replication_key") != self.replication_key:
                value = _ABSENT
            low = value if low is None else self._lower(low, value)
        self._folded_low = low
        partitions[:] = kept
        self._list = None  # rebuild the index from what is left
        self._partitions()
        self._folded_count += len(folded)
        # Parents folded in an earlier run may be folded again: the larger count, not the sum.
        self.stream_state[FOLDED_KEY] = max(self._started_count, self._folded_count)
        # Until the run is known to have visited every partition, the partitions not
        # visited yet need what they started from.
        self._write_fold(self._lower(low, start))
        self.is_flushed = False

    def _write_fold(self, value: t.Any) -> None:
        stream = self.stream_state
        if value is _ABSENT:
            stream.pop("replication_key_value", None)
            return
        if self.replication_key is not None:
            stream["replication_key"] = self.replication_key
        stream["replication_key_value"] = value

    def _lower(self, first: t.Any, second: t.Any) -> t.Any:
        if first is _ABSENT or second is _ABSENT:
            return _ABSENT
        try:
            if self.timestamps:
                one, two = parse_timestamp(first), parse_timestamp(second)
                if one is None or two is None:
                    return _ABSENT
                return first if one <= two else second
            return first if first <= second else second
        except TypeError:  # values of different types: keep everything
            return _ABSENT


def _key(context: t.Mapping[str, t.Any]) -> str:
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":"), default=str)
