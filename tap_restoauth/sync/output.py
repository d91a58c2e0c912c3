"""Singer output: one buffer for every message, RECORD lines encoded without message objects.

The SDK's msgspec writer builds a message object and flushes stdout for every
record. Here the RECORD lines of a page are encoded straight into a buffer that
is written out once per page (`BufferedWriter.flush`); every other message
(SCHEMA, STATE, ...) goes through the same buffer and flushes it, so messages keep
their order and a STATE line is never written before the records it covers.

The SDK's `StateWriter` skips a STATE message equal to the previous one by keeping
a deep copy of the whole state, and builds each message with `dataclasses.asdict`:
with a child stream (one state partition per parent record) every STATE costs time
proportional to the number of partitions so far, quadratic over a run.
`StateLines` compares the encoded line instead.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder
from singer_sdk.helpers._state import StateWriter

if t.TYPE_CHECKING:
    from singer_sdk.helpers import types
    from singer_sdk.singerlib.encoding.simple import Message


class BufferedWriter(MsgSpecWriter):
    """The tap's message writer (`Tap.message_writer_class`)."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer = bytearray()
        self.bytes_written = 0  # every message so far, in bytes

    def write_message(self, message: Message) -> None:
        self.buffer += self.format_message(message)
        self.flush()

    def write_line(self, line: bytes) -> None:
        """Write one encoded message (without its newline) after everything buffered."""
        self.buffer += line
        self.buffer += b"\n"
        self.flush()

    def flush(self) -> None:
        if self.buffer:
            out = sys.stdout.buffer
            # A signal arriving during a large write makes `write` return early with the
            # count written so far (CPython runs the handler between partial writes):
            # write the rest, or the line being written is cut short.
            written = out.write(self.buffer) or 0
            with memoryview(self.buffer) as view:
                while written < len(view):
                    with view[written:] as rest:
                        written += out.write(rest) or 0
            out.flush()
            self.bytes_written += len(self.buffer)
            self.buffer.clear()


# A held-back STATE waits for this many times its last line's size in other output.
STATE_OUTPUT_RATIO = 4


class StateLines(StateWriter):
    """The SDK's StateWriter (a STATE message only when the state changed), without deep copies."""

    def __init__(self, writer: BufferedWriter) -> None:
        super().__init__(writer)
        self.writer = writer
        self._last_line: bytes | None = None
        self._written_at = time.monotonic()  # when the last STATE line was written (or the run began)
        self._bytes_then = 0  # the writer's count after it

    def write_state(self, state: types.TapState, *, last: bool = False) -> None:
        """Write STATE unless it repeats the previous line; the `last` one of a stopped run is
        written anyway, so the output ends with the STATE its records lead up to."""
        line = encoder.encode({"type": "STATE", "value": state})
        if last or line != self._last_line:
            self.writer.write_line(line)
            self._last_line = line
            self._written_at = time.monotonic()
            self._bytes_then = self.writer.bytes_written

    def due(self, interval: float) -> bool:
        """Whether a STATE message held back by `state_interval_seconds` may be written now.

        `interval` seconds since the last STATE line, and since then at least
        `STATE_OUTPUT_RATIO` times as many bytes of other messages as that line had: a
        large state (one bookmark per parent) then stays under a fifth of the output,
        however long the run.
        """
        if time.monotonic() - self._written_at < interval:
            return False
        last = len(self._last_line) if self._last_line is not None else 0
        return self.writer.bytes_written - self._bytes_then >= STATE_OUTPUT_RATIO * last


class RecordLines:
    """Encodes RECORD messages of one stream alias as the SDK's msgspec writer would."""

    def __init__(self, writer: BufferedWriter, stream_alias: str) -> None:
        self.writer = writer
        self.prefix = encoder.encode({"type": "RECORD", "stream": stream_alias})[:-1] + b',"record":'

    def add_all(self, records: t.Iterable[dict[str, t.Any]], version: int | None) -> None:
        """Append one RECORD line per record, extracted now, to the output buffer."""
        tail: dict[str, t.Any] = {"time_extracted": dt.datetime.now(dt.timezone.utc)}
        if version is not None:
            tail = {"version": version, **tail}
        suffix = b"," + encoder.encode(tail)[1:] + b"\n"
        prefix = self.prefix
        buffer = self.writer.buffer
        encode_into = encoder.encode_into
        for record in records:
            buffer += prefix
            encode_into(record, buffer, -1)
            buffer += suffix
