"""Where a rotated refresh token is saved so the next run can use it.

Providers that rotate refresh tokens invalidate the old one: a token that is not
saved now makes the next run fail. Stores are tried in the order configured.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import stat
import tempfile
import time
import typing as t
from pathlib import Path

from tap_restoauth.auth.credential import credential_problem
from tap_restoauth.auth.token_response import MAX_LIFETIME_SECONDS, bounded_lifetime, finite_number
from tap_restoauth.errors import ConfigError, SecretError
from tap_restoauth.http import redaction
from tap_restoauth.http.redaction import MAX_SECRET_CHARS

logger = logging.getLogger("tap_restoauth.auth.token_store")

# Refresh and access token (each checked against MAX_SECRET_CHARS) in JSON, with room for escapes.
_MAX_STORED_CHARS = 4 * MAX_SECRET_CHARS


@dataclasses.dataclass(frozen=True)
class StoredToken:
    """What a token store holds: the refresh token, and in shared mode the access token beside it.

    Plain text is a refresh token alone (what the tap always wrote before tokens were
    shared, and what `gcloud secrets versions add` users store). Shared mode writes JSON:

        {"refresh_token": "...", "access_token": "...", "expires_at": 1767225600.0, "expires_in": 3600}

    `expires_at` is Unix time (processes on other machines compare it with their own clock).
    """

    refresh_token: str
    access_token: str | None = None
    expires_at: float | None = None
    expires_in: float | None = None

    @classmethod
    def decode(cls, text: str, where: str = "the token store") -> StoredToken:
        """Either form, checked as a fresh token is; every token kept is registered for redaction.

        A refresh token that could not go into a request is a `SecretError` (one line, the
        value not shown); a stored access token that could not is dropped (the next
        holder of the lease renews it). Expiries that are not finite numbers are absent;
        an `expires_at` more than 10 years ahead is read as 10 years.
        """
        if len(text) > _MAX_STORED_CHARS:
            raise SecretError(
                f"{where} holds {len(text)} characters, more than a token store's "
                f"{_MAX_STORED_CHARS}; refused (its content is not shown)"
            )
        text = text.strip()
        parsed: t.Any = None
        if text.startswith("{"):
            try:
                parsed = json.loads(text)
            except (ValueError, RecursionError):
                parsed = None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("refresh_token"), str):
            _check(text, "refresh token", where)
            redaction.register(text)
            return cls(text)
        refresh_token = parsed["refresh_token"]
        _check(refresh_token, "refresh_token", where)
        access_token = parsed.get("access_token")
        if not isinstance(access_token, str) or credential_problem(access_token) is not None:
            access_token = None
        expires_at = finite_number(parsed.get("expires_at"))
        if expires_at is not None:
            expires_at = min(expires_at, time.time() + MAX_LIFETIME_SECONDS)
        expires_in = bounded_lifetime(finite_number(parsed.get("expires_in")))
        stored = cls(refresh_token, access_token, expires_at, expires_in)
        redaction.register_token(stored.refresh_token)
        redaction.register_token(stored.access_token)
        return stored

    def encode(self) -> str:
        if self.access_token is None:
            return self.refresh_token
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))


def _check(value: str, name: str, where: str) -> None:
    problem = credential_problem(value)
    if problem is not None:
        raise SecretError(f"{where} holds a {name} with {problem}; refused (its value is not shown)")


class RefreshTokenStore(t.Protocol):
    """Persists the newest refresh token."""

    description: str

    def save(self, token: str) -> None:
        """Persist `token`, raising a TapRestOAuthError if it cannot be saved."""


class FileTokenStore:
    """A local file holding the current refresh token (written atomically, mode 0600)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path).expanduser()
        self.description = f"file {self.path}"

    def load(self) -> str | None:
        """The stored refresh token, or None if the file does not exist yet."""
        stored = self.load_stored()
        return stored.refresh_token if stored else None

    def load_stored(self) -> StoredToken | None:
        """The file's content (a plain refresh token or shared JSON), or None if absent or empty.

        Only a regular file is read (a FIFO or device would hang or never end), at most
        `_MAX_STORED_CHARS` bytes; a file others may read is made private (0600) first.
        """
        try:
            descriptor = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"auth.refresh_token_file: cannot read {self.path}: {exc.strerror}") from None
        try:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode):
                raise ConfigError(
                    f"auth.refresh_token_file: {self.path} is not a regular file; point it at a file "
                    "the tap can read and replace"
                )
            self._make_private(descriptor, status.st_mode)
            data = os.read(descriptor, _MAX_STORED_CHARS + 1)
        except OSError as exc:
            raise ConfigError(f"auth.refresh_token_file: cannot read {self.path}: {exc.strerror}") from None
        finally:
            os.close(descriptor)
        if len(data) > _MAX_STORED_CHARS:
            raise SecretError(
                f"auth.refresh_token_file: {self.path} is larger than a token store "
                f"({_MAX_STORED_CHARS} bytes); refused"
            )
        try:
            text = data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise SecretError(f"auth.refresh_token_file: {self.path} is not UTF-8 text") from None
        return StoredToken.decode(text, f"auth.refresh_token_file {self.path}") if text else None

    def _make_private(self, descriptor: int, mode: int) -> None:
        if not mode & 0o077:
            return
        try:
            os.fchmod(descriptor, 0o600)
        except OSError as exc:
            logger.warning(
                "%s can be read by other users (mode %o) and could not be made private: %s",
                self.path,
                stat.S_IMODE(mode),
                exc.strerror,
            )
        else:
            logger.warning(
                "%s could be read by other users (mode %o): it now has mode 600, as the tap writes it",
                self.path,
                stat.S_IMODE(mode),
            )

    def _failure(self, exc: OSError) -> str:
        return f"the provider's new refresh token could not be saved to {self.path}: {exc.strerror}"

    def save(self, token: str) -> None:
        """Write `token` to a private temporary file beside the target, then rename it over.

        A crash leaves either the old token or the new one, never a truncated file.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".refresh-token-")
        except OSError as exc:
            raise SecretError(self._failure(exc)) from None
        try:
            os.fchmod(descriptor, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(token + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            raise SecretError(self._failure(exc)) from None
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
