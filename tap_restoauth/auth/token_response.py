"""Token requests and responses as providers shape them.

RFC 6749 says: POST a form, get ``{"access_token": ..., "expires_in": 3600}``. Many
providers differ, and these settings describe how:

    auth:
      type: oauth2_client_credentials
      token_request_format: json            # form (default) | json | query
      access_token_path: data.token.value   # dotted path or JSONPath; header:NAME for a header
      expires_at_path: data.token.expires_at  # ISO 8601, or epoch seconds/milliseconds
      token_response_extras: [instance_url] # kept for templates: auth.token_extras()
      api_url_from_token: instance_url      # API requests go to this host instead of api_url's

for a response such as ``{"data": {"token": {"value": "...", "expires_at":
"2030-01-01T00:00:00Z"}}, "instance_url": "https://eu12.example.com"}``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import time
import typing as t
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from tap_restoauth.errors import AuthError, ConfigError
from tap_restoauth.http.urls import is_loopback
from tap_restoauth.records.jsonpath import compile_path
from tap_restoauth.settings import TokenShapeFields

logger = logging.getLogger("tap_restoauth.auth.token_response")

_HEADER = "header:"
_REQUEST_ARGUMENT = {"form": "data", "json": "json", "query": "params"}
_MILLISECONDS_FROM = 1e11  # an epoch above this (year 5138 in seconds) is in milliseconds
MAX_LIFETIME_SECONDS = 10 * 365 * 86400  # a longer expiry is read as 10 years


@dataclasses.dataclass(frozen=True)
class TokenFields:
    """What a token response gave: the token, its lifetime in seconds, and the extras kept."""

    access_token: str
    lifetime: float | None
    extras: Mapping[str, t.Any]


def _path(expression: str, where: str) -> t.Callable[[t.Any], list[t.Any]]:
    return compile_path(expression if expression.startswith("$") else "$." + expression, where)


def _first(expression: str, payload: t.Any) -> t.Any:
    found = _path(expression, "auth")(payload)
    return found[0] if found else None


def finite_number(value: t.Any) -> float | None:
    """`value` (a number or numeric text) as a finite float; None for anything else.

    Never raises: ``10**400`` (OverflowError in float()), ``1e400``, NaN and infinity
    are all None, as are booleans and text that is not a number.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    if isinstance(value, str) and (len(value) > 64 or not value.strip()):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def bounded_lifetime(seconds: float | None) -> float | None:
    """A lifetime in seconds, capped at `MAX_LIFETIME_SECONDS` (None stays None)."""
    return None if seconds is None else min(seconds, MAX_LIFETIME_SECONDS)


def seconds_until(value: t.Any) -> float | None:
    """Seconds from now until an absolute expiry: ISO 8601 text or epoch seconds/milliseconds."""
    number = finite_number(value)
    if number is None and isinstance(value, str) and len(value) <= 64:
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return moment.timestamp() - time.time()
    if number is None:
        return None
    epoch = number / 1000 if number > _MILLISECONDS_FROM else number
    return epoch - time.time()


@dataclasses.dataclass(kw_only=True)
class TokenShape(TokenShapeFields):
    """Where the token and its expiry are in the response, and how the request is encoded
    (the fields, settings of the token-based auth types, are declared in settings.py)."""

    def check_token_shape(self, where: str = "auth") -> None:
        """Fail at config time on a malformed path."""
        if not self.access_token_path.startswith(_HEADER):
            _path(self.access_token_path, f"{where}.access_token_path")
        _path(self.expires_in_path, f"{where}.expires_in_path")
        if self.expires_at_path:
            _path(self.expires_at_path, f"{where}.expires_at_path")
        for name in self.token_response_extras:
            _path(name, f"{where}.token_response_extras")
        _check_extras_names(self.token_response_extras, self.access_token_path, where)
        if self.api_url_from_token:
            _path(self.api_url_from_token, f"{where}.api_url_from_token")
        self._extras: Mapping[str, t.Any] = {}

    def token_request_arguments(self, fields: Mapping[str, t.Any]) -> dict[str, t.Any]:
        """`requests` keyword arguments carrying `fields` as `token_request_format` says."""
        return {_REQUEST_ARGUMENT[self.token_request_format]: dict(fields)}

    def read_token_response(
        self, payload: Mapping[str, t.Any], headers: Mapping[str, str] | None = None
    ) -> TokenFields | None:
        """The token, lifetime and extras of a successful response; None without a token.

        ``access_token_path: header:X-Subject-Token`` reads the token from a response
        header (OpenStack Keystone), the rest still from the body.
        """
        if self.access_token_path.startswith(_HEADER):
            token: t.Any = (headers or {}).get(self.access_token_path[len(_HEADER) :].strip())
        else:
            token = _first(self.access_token_path, payload)
        if token is None or token == "" or isinstance(token, (dict, list, bool)):
            return None
        lifetime = self._lifetime(payload)
        names = [*self.token_response_extras]
        if self.api_url_from_token and self.api_url_from_token not in names:
            names.append(self.api_url_from_token)
        extras = {name: _first(name, payload) for name in names}
        self._extras = extras
        return TokenFields(str(token), lifetime, extras)

    def _lifetime(self, payload: Mapping[str, t.Any]) -> float | None:
        lifetime: float | None = None
        if self.expires_at_path:
            raw = _first(self.expires_at_path, payload)
            lifetime = bounded_lifetime(seconds_until(raw))
            if raw is not None and lifetime is None:
                logger.warning("%s: cannot read the value as a date-time or epoch", self.expires_at_path)
        if lifetime is None:
            lifetime = bounded_lifetime(finite_number(_first(self.expires_in_path, payload)))
        if lifetime is not None and lifetime <= 0:
            logger.warning(
                "The token response gives an expiry already past (clock skew?); relying on the "
                "API's 401 to renew it"
            )
            lifetime = None
        return self.default_expires_in_seconds if lifetime is None else lifetime

    def token_extras(self) -> Mapping[str, t.Any]:
        """The `token_response_extras` of the current token (for templates)."""
        return self._extras

    def base_url_from_token(self, configured: str, *, allow_http: bool) -> str:
        """`configured` with its scheme and host replaced by the token's `api_url_from_token`.

        Salesforce answers ``"instance_url": "https://eu12.my.salesforce.com"``; with
        ``api_url: https://login.salesforce.com/services/data/v60.0`` the API base is then
        ``https://eu12.my.salesforce.com/services/data/v60.0``.
        """
        assert self.api_url_from_token
        value = self._extras.get(self.api_url_from_token)
        parts = urlsplit(str(value or ""))
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise AuthError(
                f"auth.api_url_from_token: the token response has no URL at "
                f"{self.api_url_from_token!r} (got {type(value).__name__})"
            )
        if parts.scheme == "http" and not is_loopback(parts.hostname) and not allow_http:
            raise AuthError(
                f"auth.api_url_from_token: the token response points the API at plain http "
                f"({parts.scheme}://{parts.netloc}); refusing to send the access token in clear"
            )
        path = (parts.path.rstrip("/") + urlsplit(configured).path).rstrip("/")
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _check_extras_names(names: t.Iterable[str], token_path: str, where: str) -> None:
    """Credentials are never extras: extras reach templates, URLs and logs."""
    secret = {"access_token", "refresh_token", "id_token", token_path.lstrip("$.")}
    leaked = sorted(secret & {name.lstrip("$.") for name in names})
    if leaked:
        raise ConfigError(f"{where}.token_response_extras: {', '.join(leaked)} is a credential, not an extra")
