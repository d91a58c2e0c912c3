"""Expected failures: each is reported as one readable line, without a traceback."""

from __future__ import annotations


class TapRestOAuthError(Exception):
    """A failure the user can fix; its message is the whole report."""


class ConfigError(TapRestOAuthError):
    """The configuration is invalid; raised before any request is made."""


class AuthError(TapRestOAuthError):
    """Credentials could not be obtained or were rejected."""


class ApiError(TapRestOAuthError):
    """The API answered with something the tap cannot use."""


class SecretError(TapRestOAuthError):
    """A secret could not be read from or written to the secret store."""
