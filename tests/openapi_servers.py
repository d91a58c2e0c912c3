"""A static file server on 127.0.0.1:0 for documents fetched over HTTP."""

from __future__ import annotations

import contextlib
import threading
import typing as t
from http.server import ThreadingHTTPServer

from tap_restoauth.sandbox import JsonHandler

Files = dict[str, tuple[bytes, dict[str, str]]]


@contextlib.contextmanager
def serve_files(files: Files) -> t.Iterator[str]:
    """Serve `files` (path -> (body, headers)) and yield the base URL; the dict may change while served."""

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            if self.path not in files:
                self.send_bytes(404, b"{}")
                return
            body, headers = files[self.path]
            self.send_bytes(200, body, "application/json", headers)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
