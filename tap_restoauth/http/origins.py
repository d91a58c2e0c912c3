"""Which origins may receive the tap's credentials, and what a redirect may carry.

An origin is a scheme, host and port (RFC 6454): ``https://api.example.com`` is
``("https", "api.example.com", 443)``. Credentials -- the auth of every type, the
configured `headers` and `params`, session cookies -- go only to `api_url`'s origin
and to the origins listed in `trusted_origins`. A page URL given by the API (a
`next` field, a `Link` header, a stream path) on any other origin is refused before
anything is sent: the API does not get to choose where the tap sends its key.

Redirects are followed hop by hop by the client, which asks this policy about each
hop: a hop to a trusted origin is sent with credentials, a hop to any other origin is
sent bare (no auth, no configured headers or params, no cookies, credential query
parameters removed from its URL), and a hop from https to plain http is refused.

Config::

    api_url: https://api.example.com
    trusted_origins: ["https://files.example.com", "https://eu.api.example.com:8443"]
"""

from __future__ import annotations

import dataclasses
import ipaddress
import typing as t
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tap_restoauth.errors import ApiError, ConfigError
from tap_restoauth.http import redaction

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclasses.dataclass(frozen=True)
class Origin:
    """Scheme, host and port of a URL; printed without userinfo, path or query."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin | None:
        """The origin of an absolute http(s) URL; None for anything else (or a bad port)."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            return None
        return cls(scheme, parts.hostname.lower(), port if port is not None else DEFAULT_PORTS[scheme])

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == DEFAULT_PORTS[self.scheme] else f":{self.port}"
        return f"{self.scheme}://{host}{port}"


def describe_origin(url: str) -> str:
    """The origin of `url` for an error line: never its userinfo, path or query."""
    found = Origin.of(url)
    if found is not None:
        return redaction.redact(str(found))[:200]
    scheme = urlsplit(url).scheme
    return f"a non-http(s) URL ({redaction.redact(scheme)[:20] or 'no scheme'})"


@dataclasses.dataclass(frozen=True)
class Hop:
    """What the client may send to one URL: with credentials, or bare."""

    url: str
    credentials: bool


class OriginPolicy:
    """Decides, per request and per redirect hop, whether credentials go along.

    `credential_params` are the query parameter names that carry credentials (the
    api_key in the query, the configured `params`, `secret_params`); they are removed
    from a redirect URL to an origin that is not trusted.
    """

    def __init__(
        self,
        api_url: str | None = None,
        trusted: t.Iterable[str] = (),
        credential_params: t.Iterable[str] = (),
    ) -> None:
        self.api = Origin.of(api_url) if api_url else None
        self.trusted = frozenset(parse_trusted_origins(trusted, api_url or ""))
        if self.api is not None:
            self.trusted |= {self.api}
        self.credential_params = frozenset(name.lower() for name in credential_params)

    def trust(self, url: str) -> None:
        """Trust `url`'s origin from now on: the API's own host as a token response named it
        (`auth.api_url_from_token`, e.g. Salesforce's `instance_url`)."""
        found = Origin.of(url)
        if found is not None:
            self.trusted = self.trusted | {found}

    def trusts(self, url: str) -> bool:
        found = Origin.of(url)
        return found is not None and found in self.trusted and not self._downgrades(found)

    def _downgrades(self, target: Origin) -> bool:
        return self.api is not None and self.api.scheme == "https" and target.scheme == "http"

    def check_request(self, stream: str, url: str) -> None:
        """Refuse, before anything is sent, a request the tap would send with credentials elsewhere."""
        found = Origin.of(url)
        if found is not None and self._downgrades(found):
            raise ApiError(
                f"{stream}: refused to request {found} (plain http) for an https API "
                f"({self.api}): the credentials would travel in clear; https -> http is never "
                "followed, not even for trusted_origins"
            )
        if found is None or found not in self.trusted:
            raise ApiError(
                f"{stream}: refused to send a request to {describe_origin(url)}: it is not the "
                f"API's origin ({self.api or 'none'}) and not in trusted_origins, so it would "
                "receive the credentials; if that origin belongs to the API, add it to trusted_origins"
            )

    def check_bare(self, stream: str, url: str) -> None:
        """Refuse a URL fetched without credentials (a presigned download) unless it is https, or
        http on a loopback address (local tests): its own query string is its credential."""
        found = Origin.of(url)
        if found is None:
            raise ApiError(f"{stream}: refused to download {describe_origin(url)}: only https URLs are")
        if found.scheme != "https" and not _loopback(found.host):
            raise ApiError(
                f"{stream}: refused to download from {found} (plain http): a download URL must be "
                "https (its signature and the data would travel in clear)"
            )

    def redirect(self, stream: str, current: str, status: int, location: str, *, has_body: bool) -> Hop:
        """The next hop of a redirect from `current` to `location` (already absolute).

        Raises ApiError for a downgrade from https to http, for a non-http(s) target and
        for a request body that would be re-sent (307/308) to an untrusted origin.
        """
        target = Origin.of(location)
        source = Origin.of(current)
        where = f"{stream}: HTTP {status} redirect from {source} to {describe_origin(location)}"
        if target is None:
            raise ApiError(f"{where}: not followed (only http and https are)")
        from_https = source is not None and source.scheme == "https"
        if target.scheme == "http" and (from_https or self._downgrades(target)):
            raise ApiError(
                f"{where}: https -> http redirects are never followed (credentials and data in clear)"
            )
        if target in self.trusted:
            return Hop(location, credentials=True)
        if has_body:
            raise ApiError(
                f"{where}: would re-send the request body to an origin not in trusted_origins; "
                "not followed (add the origin to trusted_origins if it belongs to the API)"
            )
        return Hop(self.strip_credentials(location), credentials=False)

    def strip_credentials(self, url: str) -> str:
        """`url` without query parameters that carry a credential (by name or by value)."""
        parts = urlsplit(url)
        if not parts.query:
            return url
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        kept = [
            (name, value)
            for name, value in pairs
            if name.lower() not in self.credential_params and not redaction.is_secret(value)
        ]
        if len(kept) == len(pairs):
            return url
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), parts.fragment))


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def parse_trusted_origins(values: t.Iterable[t.Any], api_url: str) -> list[Origin]:
    """The `trusted_origins` setting: each entry exactly ``scheme://host[:port]``."""
    api = Origin.of(api_url) if api_url else None
    origins = []
    for index, value in enumerate(values):
        where = f"trusted_origins[{index}]"
        text = str(value).strip().rstrip("/")
        found = Origin.of(text) if isinstance(value, str) else None
        parts = urlsplit(text)
        if found is None or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
            raise ConfigError(
                f"{where}: expected an origin such as https://files.example.com (scheme, host and "
                f"optional port; no path, query or user), got {redaction.redact(str(value))!r}"
            )
        if api is not None and api.scheme == "https" and found.scheme == "http":
            raise ConfigError(
                f"{where}: {found} is plain http but api_url is https; credentials are never sent "
                "over plain http to an https API"
            )
        origins.append(found)
    return origins
