"""Old versions of the refresh-token secret are pruned after each new one is written.

Every renewal of a shared token (and every rotated refresh token) adds a version to
the secret `auth.refresh_token` references; a job renewing hourly would leave 8,760
a year. After this process adds one, it lists the versions (ListSecretVersions)::

    [{"name": "projects/123/secrets/crm-refresh-token/versions/42", "state": "ENABLED"}, ...]

and destroys (or, with ``prune: disable``, disables) every version older than the
newest `keep_versions` enabled ones. Never pruned: the version just written, any
newer one (another writer's), a version this config pins (``sm://P/S#7``), and
nothing at all while another process holds the token lease (the secret's
`tap-restoauth-lease-holder` annotation names it): it may be reading or writing.
Every process reads `latest`, so an old version is read by none.

Config: ``auth: {type: oauth2_refresh_token, refresh_token: sm://P/S, keep_versions: 10,
prune: destroy}`` (``keep_versions: 0`` never prunes). Needs
``roles/secretmanager.secretVersionManager`` on the secret; without it, or when the
service fails, one warning and the run goes on: the new version is saved already.
"""

from __future__ import annotations

import logging
import time
import typing as t

from tap_restoauth.auth.lease import EXPIRES_KEY, HOLDER_KEY, SecretManagerLease
from tap_restoauth.auth.methods import Auth, OAuth2RefreshToken
from tap_restoauth.auth.secret_manager import CallFailed, SecretManagerTokenStore
from tap_restoauth.errors import ConfigError

if t.TYPE_CHECKING:
    from tap_restoauth.auth.secret_manager import ResolvedConfig, SecretManager, SecretRef

logger = logging.getLogger("tap_restoauth.auth.version_pruning")

MANAGER_ROLE = "roles/secretmanager.secretVersionManager"


class VersionPruner:
    """Prunes one secret's versions after each write (see the module docstring)."""

    def __init__(
        self,
        manager: SecretManager,
        ref: SecretRef,
        *,
        keep: int,
        destroy: bool,
        pinned: frozenset[int] = frozenset(),
        holder: str | None = None,
    ) -> None:
        self.manager = manager
        self.ref = ref
        self.keep = keep
        self.destroy = destroy
        self.pinned = pinned
        self.holder = holder  # this process's name in the lease annotations, when it shares tokens
        self._warned = False

    def after_write(self, written: str) -> None:
        """Prune after the version named `written` was added; failures are one warning."""
        try:
            newest = int(written.rsplit("/", 1)[1])
        except (IndexError, ValueError):
            return
        try:
            other = self._other_holder()
            if other is not None:
                logger.info(
                    "Did not prune old versions of %s: %s holds the token lease", self.ref.secret, other
                )
                return
            retired = [number for number in self._candidates(newest) if self._retire(number)]
        except CallFailed as exc:
            self._warn(exc)
            return
        if retired:
            logger.info(
                "%s %d old version(s) of secret %s (%s); the newest %d are kept (auth.keep_versions)",
                "Destroyed" if self.destroy else "Disabled",
                len(retired),
                self.ref.secret,
                _ranges(retired),
                self.keep,
            )

    def _candidates(self, newest: int) -> list[int]:
        versions = sorted(self.manager.list_versions(self.ref), reverse=True)
        enabled = [number for number, state in versions if state == "ENABLED"]
        kept = set(enabled[: self.keep]) | {newest} | self.pinned
        prunable = {"ENABLED", "DISABLED"} if self.destroy else {"ENABLED"}
        return sorted(
            number
            for number, state in versions
            if number < newest and number not in kept and state in prunable
        )

    def _retire(self, number: int) -> bool:
        try:
            self.manager.retire_version(self.ref, number, destroy=self.destroy)
        except CallFailed as exc:
            if exc.status in {"FAILED_PRECONDITION", "NOT_FOUND"}:
                return False  # another writer pruned it first
            raise
        return True

    def _other_holder(self) -> str | None:
        """Who else holds the token lease now, if anyone."""
        _, annotations = self.manager.get_secret(self.ref)
        holder = annotations.get(HOLDER_KEY)
        try:
            expires = float(annotations.get(EXPIRES_KEY) or 0)
        except ValueError:
            expires = 0.0
        if not holder or holder == self.holder or expires <= time.time():
            return None
        return holder

    def _warn(self, failure: CallFailed) -> None:
        if self._warned:
            return
        self._warned = True
        reason = failure.detail
        if failure.status == "PERMISSION_DENIED":
            reason = f"permission denied: grant {MANAGER_ROLE} on secret {self.ref.secret!r}"
        logger.warning(
            "Could not prune old versions of secret %s (%s); set auth.keep_versions: 0 to stop trying",
            self.ref.secret,
            reason,
        )


def attach_pruner(auth: Auth, resolved: ResolvedConfig) -> None:
    """Prune the refresh-token secret after each version this run adds to it."""
    if not isinstance(auth, OAuth2RefreshToken):
        return
    if auth.keep_versions < 0:
        raise ConfigError("auth.keep_versions: expected 0 (never prune) or more")
    store = next((s for s in auth.stores if isinstance(s, SecretManagerTokenStore)), None)
    if store is None or auth.keep_versions == 0:
        return
    pinned = frozenset(
        int(ref.version)
        for ref in resolved.references.values()
        if ref.secret_name == store.ref.secret_name and ref.version.isdigit()
    )
    lease = getattr(auth.shared, "lease", None)
    pruner = VersionPruner(
        resolved.manager,
        store.ref,
        keep=auth.keep_versions,
        destroy=auth.prune == "destroy",
        pinned=pinned,
        holder=lease.holder if isinstance(lease, SecretManagerLease) else None,
    )
    store.after_save = pruner.after_write


def _ranges(numbers: list[int]) -> str:
    """`1-3, 7` for [1, 2, 3, 7]."""
    parts: list[str] = []
    start = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if number is not None:
            start = previous = number
    return ", ".join(parts)
