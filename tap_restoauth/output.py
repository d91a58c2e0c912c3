"""Singer output: one buffer for every message, RECORD lines encoded without message objects.

The SDK's msgspec writer builds a message object and flushes stdout for every
record. Here the RECORD lines of a page are encoded straight into a buffer that
is written out once per page (`BufferedWriter.flush`); every other message
(SCHEMA, STATE, ...) goes through the same buffer and flushes it, so messages keep
their order and a STATE line is never written before the records it covers.
"""

from __future__ import annotations

import datetime as dt
import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder

if t.TYPE_CHECKING:
    from singer_sdk.singerlib.encoding.simple import Message


class BufferedWriter(MsgSpecWriter):
    """The tap's message writer (`Tap.message_writer_class`)."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer = bytearray()

    def write_message(self, message: Message) -> None:
        self.buffer += self.format_message(message)
        self.flush()

    def flush(self) -> None:
        if self.buffer:
            out = sys.stdout.buffer
            out.write(self.buffer)
            out.flush()
            self.buffer.clear()


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
