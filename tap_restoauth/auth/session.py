"""A login endpoint that hands out a session token (not OAuth).

    auth:
      type: session_token
      login_url: https://api.example.com/v2/login
      username: etl
      password: sm://proj/api-password
      access_token_path: session.id        # where the token is in the login response
      expires_at_path: session.expires     # or expires_in_path, or default_expires_in_seconds
      header_name: X-Session-Token         # default Authorization
      header_prefix: ""                    # default Bearer

POSTs ``{"username": "etl", "password": "..."}`` (JSON by default; ``token_request_format:
form`` for a form) and sends ``X-Session-Token: <id>`` on every API request. The session is
renewed before it expires and once more whenever the API answers 401 (logged out, expired
early), like an OAuth token.
"""

from __future__ import annotations

import dataclasses
import typing as t
from collections.abc import Mapping

import requests

from tap_restoauth.auth.methods import OAuth2ClientCredentials
from tap_restoauth.errors import ConfigError
from tap_restoauth.settings import SessionTokenOptions


@dataclasses.dataclass
class SessionTokenAuth(SessionTokenOptions, OAuth2ClientCredentials):
    """Log in with credentials; send the returned session token in a header."""

    secret_fields: t.ClassVar[tuple[str, ...]] = ("client_secret", "password")
    request_name: t.ClassVar[str] = "login request"

    @classmethod
    def normalize_settings(cls, settings: Mapping[str, t.Any]) -> dict[str, t.Any]:
        """`login_url` is the documented name (the `token_url` field); `token_url` is accepted too."""
        renamed = dict(settings)
        if "token_url" in renamed and "login_url" not in renamed:
            renamed["login_url"] = renamed.pop("token_url")
        if not renamed.get("login_url"):
            raise ConfigError("auth.login_url is required (the endpoint that returns a session token)")
        return renamed

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.header_name.strip():
            raise ConfigError("auth.header_name: expected a header name, e.g. X-Session-Token")
        if not (self.username or self.password or self.token_params):
            raise ConfigError("auth.session_token needs username/password or token_params to log in with")

    def grant_fields(self) -> dict[str, str]:
        fields = {}
        if self.username is not None:
            fields[self.username_field] = self.username
        if self.password is not None:
            fields[self.password_field] = self.password
        return fields

    def _header_value(self, access_token: str) -> str:
        return f"{self.header_prefix} {access_token}" if self.header_prefix else access_token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.header_name] = self._header_value(self._valid_token())
        return request

    def carries(self, request: requests.PreparedRequest, access_token: str) -> bool:
        return request.headers.get(self.header_name) == self._header_value(access_token)
