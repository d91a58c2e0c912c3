"""Nothing listens at the API's address: say where, and do not wait long for a local server.

A refused connection (`ECONNREFUSED`) means no program accepts connections on that host and
port. On a remote host that can be a restart in progress, so the usual retries apply; on this
machine (`127.0.0.1`, `localhost`, `::1`) it is almost always a local API or the sandbox that
was never started, so the request is tried twice, not for half a minute:

    users: GET http://127.0.0.1:8765/v1/users failed after 2 attempts: connection refused
    by 127.0.0.1:8765 (nothing listens there): is the API (or the sandbox) running?
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

from tap_restoauth.http import urls

LOOPBACK_ATTEMPTS = 2


def refused_address(chain: t.Iterable[BaseException]) -> str | None:
    """`host:port` of a refused connection among the exceptions of `chain`, else None."""
    causes = list(chain)
    if not any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return None
    for cause in causes:
        request = getattr(cause, "request", None)
        url = getattr(request, "url", None)
        if isinstance(url, str):
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
            return f"{host}:{port}"
    return "the server"


def describe(address: str) -> str:
    return f"connection refused by {address} (nothing listens there): is the API (or the sandbox) running?"


def is_loopback(address: str) -> bool:
    """Whether a `host:port` address is this machine."""
    return urls.is_loopback(address.rsplit(":", 1)[0].strip("[]"))
