"""URL helpers shared by API, token and Secret Manager requests: masking and loopback checks."""

from __future__ import annotations

import ipaddress
import typing as t
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tap_restoauth.http import redaction

SENSITIVE_PARAMS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "api-key",
        "auth",
        "client_secret",
        "code",
        "key",
        "password",
        "refresh_token",
        "secret",
        "sig",
        "signature",
        "token",
    }
)
_extra_sensitive: set[str] = set()  # `secret_params`, the api_key query parameter


def treat_as_sensitive(names: t.Iterable[str]) -> None:
    """Mask these query parameters in URLs from now on, on top of SENSITIVE_PARAMS."""
    _extra_sensitive.update(name.lower() for name in names)


def is_sensitive_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in SENSITIVE_PARAMS or lowered in _extra_sensitive


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine: where plaintext (http, insecure gRPC) is acceptable."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin(url: str) -> str:
    """`url` without userinfo, query or fragment: safe to name in a log line."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def mask_url(url: str) -> str:
    """`url` with sensitive query values and any userinfo masked."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = urlencode(
        [
            (name, "***" if is_sensitive_param(name) else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return redaction.redact(urlunsplit((parts.scheme, netloc, parts.path, query, "")))
