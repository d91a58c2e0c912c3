"""Where a rotated refresh token is saved so the next run can use it.

Providers that rotate refresh tokens invalidate the old one: a token that is not
saved now makes the next run fail. Stores are tried in the order configured.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import typing as t
from pathlib import Path

from tap_restoauth.errors import ConfigError, SecretError
from tap_restoauth.http import redaction


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
    def decode(cls, text: str) -> StoredToken:
        """Either form; every token found is registered for redaction before it is returned."""
        text = text.strip()
        parsed: t.Any = None
        if text.startswith("{"):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("refresh_token"), str):
            redaction.register(text)
            return cls(text)
        stored = cls(
            parsed["refresh_token"],
            parsed.get("access_token") if isinstance(parsed.get("access_token"), str) else None,
            _number(parsed.get("expires_at")),
            _number(parsed.get("expires_in")),
        )
        redaction.register(stored.refresh_token)
        redaction.register(stored.access_token)
        return stored

    def encode(self) -> str:
        if self.access_token is None:
            return self.refresh_token
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))


def _number(value: t.Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


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
        """The file's content (a plain refresh token or shared JSON), or None if absent or empty."""
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"auth.refresh_token_file: cannot read {self.path}: {exc.strerror}") from None
        return StoredToken.decode(text) if text else None

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
