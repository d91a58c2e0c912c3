"""Where a rotated refresh token is saved so the next run can use it.

Providers that rotate refresh tokens invalidate the old one: a token that is not
saved now makes the next run fail. Stores are tried in the order configured.
"""

from __future__ import annotations

import os
import tempfile
import typing as t
from pathlib import Path

from tap_restoauth.errors import ConfigError, SecretError


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
        """The stored token, or None if the file does not exist yet."""
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"auth.refresh_token_file: cannot read {self.path}: {exc.strerror}") from None
        return text or None

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
