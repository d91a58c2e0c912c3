"""A local API that misbehaves on purpose: slow, endless, huge, deep, lying, looping bodies."""

from __future__ import annotations

import contextlib
import json
import struct
import time
import typing as t
import zlib
from urllib.parse import parse_qs, urlsplit

from tap_restoauth.sandbox import JsonHandler, LocalServer


def gzip_bomb(megabytes: int) -> bytes:
    """A gzip body of about `megabytes` KB that inflates to `megabytes` MB of zeros.

    With a full flush after each 1 MB, every block compresses to the same bytes, so
    the body is built without compressing the whole gigabyte. (Its CRC is not
    computed: a reader that inflated it all would be the bug under test.)
    """
    zeros = bytes(1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    final_empty_block = b"\x03\x00"
    trailer = struct.pack("<II", 0, (megabytes << 20) % 2**32)
    return first + block * (megabytes - 1) + final_empty_block + trailer


class HostileServer(LocalServer):
    def __init__(self) -> None:
        super().__init__(_Handler)
        self.bomb = gzip_bomb(1024)
        self.paths: list[str] = []
        self.page_records = 2000  # /pages: records per page (the signal tests)
        self.page_count = 200


class _Handler(JsonHandler):
    server: HostileServer

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        route = getattr(self, "route_" + parts.path.strip("/").split("/")[0], None)
        if route is None:
            self.send_json(404, {"error": "no such path"})
            return
        with contextlib.suppress(OSError):  # the tap hung up, as it should
            route(parts.path, query)

    def do_POST(self) -> None:
        self.do_GET()

    def route_trickle(self, path: str, query: dict[str, str]) -> None:
        body = json.dumps({"data": [{"id": 1}]}).encode() * 100
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for byte in body:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(1)

    def route_slowheaders(self, path: str, query: dict[str, str]) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for byte in b"X-Slow: " + b"z" * 1000:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(1)

    def route_endless(self, path: str, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._chunk(b'{"data": [')
        while True:
            self._chunk(b'{"id": 1, "pad": "' + b"x" * 200 + b'"},' * 20)
            time.sleep(0.01)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def route_bomb(self, path: str, query: dict[str, str]) -> None:
        self.send_bytes(200, self.server.bomb, headers={"Content-Encoding": "gzip"})

    def route_big(self, path: str, query: dict[str, str]) -> None:
        """120 MB, chunked (no Content-Length to refuse it up front)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._chunk(b'{"data": [')
        record = b'{"id": 1, "pad": "' + b"x" * 1000 + b'"},'
        for _ in range(120 * 1024):
            self._chunk(record)
        self._chunk(b'{"id": 2}]}')
        self._chunk(b"")

    def route_deep(self, path: str, query: dict[str, str]) -> None:
        depth = int(query.get("depth", 5000))
        self.send_bytes(200, b'{"data": [{"id": 1, "x": ' + b"[" * depth + b"]" * depth + b"}]}")

    def route_nested(self, path: str, query: dict[str, str]) -> None:
        """Records nested 150 levels: under the decoding limit, over genson's recursion budget."""
        value: t.Any = {"leaf": 1}
        for _ in range(150):
            value = {"child": value}
        self.send_json(200, {"data": [{"id": 1, "tree": value}]})

    def route_badutf8(self, path: str, query: dict[str, str]) -> None:
        self.send_bytes(200, b'{"data": [{"id": 1, "name": "caf\xe9 \xff"}]}')

    def route_totals(self, path: str, query: dict[str, str]) -> None:
        page = int(query.get("page", 1))
        total = json.loads(query["total"])
        self.send_json(200, {"data": [{"id": page}], "meta": {"total_pages": total}})

    def route_ignored(self, path: str, query: dict[str, str]) -> None:
        self.send_json(200, {"data": [{"id": n} for n in range(1, 6)]})

    def route_fragment(self, path: str, query: dict[str, str]) -> None:
        count = len(self.server.paths)
        self.send_json(200, {"results": [{"id": count}], "next": f"/fragment?after=1#n{count}"})

    def route_parents(self, path: str, query: dict[str, str]) -> None:
        segments = path.strip("/").split("/")
        if len(segments) == 1:
            self.send_json(200, {"data": [{"id": query.get("key", "x")}]})
        else:
            self.send_json(200, {"data": [{"kid": 1}]})

    def route_kids(self, path: str, query: dict[str, str]) -> None:
        self.send_json(200, {"data": [{"kid": "escaped"}]})

    def route_unavailable(self, path: str, query: dict[str, str]) -> None:
        self.send_json(503, {"error": "busy"}, headers={"Retry-After": "30"})

    def route_pages(self, path: str, query: dict[str, str]) -> None:
        page = int(query.get("page", 1))
        size = self.server.page_records
        first = (page - 1) * size
        records = [
            {"id": first + n, "updated_at": f"2024-01-01T00:00:00.{first + n:06d}Z", "pad": "y" * 300}
            for n in range(size)
        ]
        self.send_json(200, {"data": records, "meta": {"total_pages": self.server.page_count}})
