"""Refresh and access tokens shared by processes running at once (shards, parallel jobs).

A provider that rotates refresh tokens accepts each one once: two processes renewing
with the same token leave one of them with `invalid_grant`, and the loser may overwrite
the winner's saved token with a revoked one. Processes that share tokens renew only
while holding a lease on the store the refresh token lives in:

1. read the store: an access token another process saved that is not yet due for
   renewal is used as is (no token request);
2. otherwise take the lease -- Secret Manager: the secret's annotations, written with
   the etag just read so one writer wins; file: an `fcntl` lock on `FILE.lock`;
3. read the store again: if another process renewed meanwhile, use its tokens;
4. renew with the latest refresh token and save refresh and access token together
   (one new secret version, or the file rewritten) as `StoredToken` JSON;
5. release the lease.

N processes thus make one token request per access-token lifetime, not N. A holder
that crashes keeps a Secret Manager lease until `auth.lease_seconds` have passed; then
another process takes it over. A file lock is released by the kernel when its holder
dies. Config: ``auth: {type: oauth2_refresh_token, refresh_token: sm://PROJECT/SECRET,
share_tokens: true, lease_seconds: 60}`` (sharing is on by default when `shard.count` > 1).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import logging
import os
import random
import secrets
import socket
import time
import typing as t

from tap_restoauth.auth.methods import Auth, OAuth2RefreshToken, TokenEndpointError, _Token
from tap_restoauth.auth.secret_manager import CallFailed, ResolvedConfig, SecretManager, SecretRef, crc32c
from tap_restoauth.auth.token_response import finite_number
from tap_restoauth.auth.token_store import FileTokenStore, StoredToken
from tap_restoauth.errors import ConfigError
from tap_restoauth.sync import interrupt

if t.TYPE_CHECKING:
    from collections.abc import Iterator

logger = logging.getLogger("tap_restoauth.auth.lease")

HOLDER_KEY = "tap-restoauth-lease-holder"
EXPIRES_KEY = "tap-restoauth-lease-expires"
LEASE_PERMISSIONS = "secretmanager.secrets.get and secretmanager.secrets.update"
_CLOCK_SKEW_SECONDS = 30.0  # another machine's clock may run this far ahead of ours
_CONFLICT = {"FAILED_PRECONDITION", "ABORTED"}  # the etag moved: another process wrote first


class LeaseError(TokenEndpointError):
    """No token for now because the lease or the shared store failed.

    Like a failed token request: an early renewal keeps the current token until it expires.
    """


class TokenLease(t.Protocol):
    """Exclusive access, across processes, to the store of the shared tokens."""

    description: str

    def peek(self) -> StoredToken | None:
        """The stored tokens now, without the lease."""

    def hold(self) -> contextlib.AbstractContextManager[StoredToken | None]:
        """Hold the lease; yields the stored tokens as read under it."""


def _wait_seconds(lease_seconds: float) -> float:
    """How long to wait for a lease: a crashed holder's lease must be able to run out first."""
    return 2 * lease_seconds + 30


def _pause() -> None:
    """A short wait before trying the lease again; a signal ends it (and the run) at once."""
    interrupt.wait(random.uniform(0.05, 0.25))  # jitter, not cryptography


class FileLease:
    """An `fcntl` lock on `FILE.lock` beside the refresh-token file."""

    def __init__(self, store: FileTokenStore, lease_seconds: float) -> None:
        self.store = store
        self.lock_path = store.path.with_name(store.path.name + ".lock")
        self.wait = _wait_seconds(lease_seconds)
        self.description = f"file {store.path}"

    def peek(self) -> StoredToken | None:
        return self.store.load_stored()

    @contextlib.contextmanager
    def hold(self) -> Iterator[StoredToken | None]:
        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise LeaseError(f"cannot open the token lock file {self.lock_path}: {exc.strerror}") from None
        try:
            deadline = time.monotonic() + self.wait
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise LeaseError(f"cannot lock {self.lock_path}: {exc.strerror}") from None
                if time.monotonic() >= deadline:
                    raise LeaseError(
                        f"another process held the token lock {self.lock_path} for more than "
                        f"{self.wait:.0f}s; is a tap process hanging?"
                    )
                _pause()
            yield self.peek()
        finally:
            os.close(descriptor)  # releases the lock


class SecretManagerLease:
    """A lease written into the secret's annotations, guarded by the secret's etag.

    Annotations while held: ``tap-restoauth-lease-holder: HOST/PID/RANDOM`` and
    ``tap-restoauth-lease-expires: UNIX_TIME``. Needs secretmanager.secrets.get and
    secretmanager.secrets.update on the secret (besides secretAccessor and
    secretVersionAdder).
    """

    def __init__(self, manager: SecretManager, ref: SecretRef, lease_seconds: float) -> None:
        self.manager = manager
        self.ref = dataclasses.replace(ref, version="latest")
        self.seconds = lease_seconds
        self.wait = _wait_seconds(lease_seconds)
        self.holder = f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"
        self.description = f"Secret Manager secret {self.ref.secret_name}"

    def peek(self) -> StoredToken | None:
        try:
            _, data, checksum = self.manager.access(self.ref)
        except CallFailed as exc:
            raise LeaseError(f"auth.refresh_token: reading {self.ref} failed: {exc.detail}") from None
        if checksum is not None and checksum != crc32c(data):
            raise LeaseError(f"auth.refresh_token: {self.ref} failed its integrity check (data_crc32c)")
        text = data.decode("utf-8", errors="replace").strip()
        return StoredToken.decode(text, f"auth.refresh_token {self.ref}") if text else None

    @contextlib.contextmanager
    def hold(self) -> Iterator[StoredToken | None]:
        etag, others = self._acquire()
        try:
            yield self.peek()
        finally:
            self._release(etag, others)

    def _acquire(self) -> tuple[str, dict[str, str]]:
        """(etag after our write, annotations that are not ours) once the lease is ours."""
        deadline = time.monotonic() + self.wait
        holder = "?"
        while True:
            etag, annotations = self._get()
            others = {k: v for k, v in annotations.items() if k not in (HOLDER_KEY, EXPIRES_KEY)}
            holder = annotations.get(HOLDER_KEY, "")
            now = time.time()
            expires = self.lease_end(annotations.get(EXPIRES_KEY), now)
            if not holder or holder == self.holder or expires is None or expires <= now:
                if holder and holder != self.holder:
                    logger.warning(
                        "The token lease of %s held by %s expired; taking it over", self.ref.secret, holder
                    )
                mine = {**others, HOLDER_KEY: self.holder, EXPIRES_KEY: f"{now + self.seconds:.3f}"}
                try:
                    return self.manager.update_annotations(self.ref, etag, mine), others
                except CallFailed as exc:
                    if exc.status not in _CONFLICT:
                        raise LeaseError(self._failure(exc)) from None
            if time.monotonic() >= deadline:
                raise LeaseError(
                    f"auth: could not take the token lease on {self.description} within "
                    f"{self.wait:.0f}s (held by {holder or 'nobody'}); raise auth.lease_seconds "
                    "if token requests take that long"
                )
            _pause()

    def lease_end(self, annotation: str | None, now: float) -> float | None:
        """When the lease of `annotation` ends; None (expired) unless a number within the lease.

        A holder writes now + `lease_seconds`: a later end (or NaN, or text) was not written
        by a live holder of this config, and would block every run forever.
        """
        end = finite_number(annotation[:64] if isinstance(annotation, str) else None)
        if end is None or end > now + self.seconds + _CLOCK_SKEW_SECONDS:
            return None
        return end

    def _release(self, etag: str, others: dict[str, str]) -> None:
        try:
            self.manager.update_annotations(self.ref, etag, others)
        except CallFailed as exc:
            # Another process took the lease over after ours expired: it is theirs to release.
            logger.warning("Could not release the token lease on %s (%s)", self.ref.secret, exc.status)

    def _get(self) -> tuple[str, dict[str, str]]:
        try:
            return self.manager.get_secret(self.ref)
        except CallFailed as exc:
            raise LeaseError(self._failure(exc)) from None

    def _failure(self, failure: CallFailed) -> str:
        reason = failure.detail
        if failure.status == "PERMISSION_DENIED":
            reason = (
                f"permission denied: grant {LEASE_PERMISSIONS} on secret {self.ref.secret!r} (project "
                f"{self.ref.project}) to the Application Default Credentials account (a custom role; "
                "see docs/cloud-run-jobs.md), or set auth.share_tokens: false"
            )
        return f"auth: the token lease on {self.description} failed: {reason}"


class SharedTokens:
    """Obtains tokens for an OAuth2RefreshToken through a lease (see the module docstring)."""

    def __init__(self, lease: TokenLease) -> None:
        self.lease = lease

    def obtain(self, auth: OAuth2RefreshToken, rejected: str | None) -> _Token:
        token = self._adopt(auth, self.lease.peek(), rejected)
        if token is not None:
            return token
        with self.lease.hold() as latest:
            token = self._adopt(auth, latest, rejected)
            if token is not None:
                return token
            if latest is not None and latest.refresh_token != auth.refresh_token:
                auth.refresh_token = latest.refresh_token  # another process rotated it: ours is spent
            token = auth._request_token()
            lifetime = None if token.expires_at is None else max(0.0, token.expires_at - time.monotonic())
            stored = StoredToken(
                str(auth.refresh_token),
                token.access_token,
                None if lifetime is None else time.time() + lifetime,
                lifetime,
            )
            auth.save_to_stores(stored.encode())
            return token

    @staticmethod
    def _adopt(auth: OAuth2RefreshToken, stored: StoredToken | None, rejected: str | None) -> _Token | None:
        """The stored access token as ours, if it is not the rejected or due one."""
        if stored is None or stored.access_token is None or stored.access_token == rejected:
            return None
        current = auth._token
        if current is not None and current.access_token == stored.access_token:
            return None  # the one we hold and are renewing
        margin = auth.expiry_skew_seconds
        if stored.expires_in:
            margin = min(margin, stored.expires_in / 2)
        now = time.time()
        if stored.expires_at is not None and now >= stored.expires_at - margin:
            return None
        auth.refresh_token = stored.refresh_token
        expires_at = None if stored.expires_at is None else time.monotonic() + (stored.expires_at - now)
        logger.info(
            "Using the access token another process obtained (%s)",
            "no expiry given" if stored.expires_at is None else f"expires in {stored.expires_at - now:.0f}s",
        )
        return _Token(stored.access_token, None if expires_at is None else expires_at - margin, expires_at)


def share_tokens(auth: Auth, resolved: ResolvedConfig, *, by_default: bool) -> None:
    """Make `auth` obtain tokens through a lease, when sharing is asked for or on by default."""
    if not isinstance(auth, OAuth2RefreshToken):
        return
    wanted = auth.share_tokens if auth.share_tokens is not None else by_default
    if not wanted:
        return
    if auth.lease_seconds <= 0:
        raise ConfigError("auth.lease_seconds: expected a positive number of seconds")
    ref = resolved.references.get("auth.refresh_token")
    lease: TokenLease
    if ref is not None:
        lease = SecretManagerLease(resolved.manager, ref, auth.lease_seconds)
    elif auth.refresh_token_file:
        lease = FileLease(FileTokenStore(auth.refresh_token_file), auth.lease_seconds)
    elif auth.share_tokens:
        raise ConfigError(
            "auth.share_tokens needs a store every process reads: keep auth.refresh_token in Secret "
            "Manager (sm://PROJECT/SECRET) or set auth.refresh_token_file"
        )
    else:
        logger.warning(
            "This run is one shard of several, but its refresh token is neither in Secret Manager nor "
            "in auth.refresh_token_file: if the provider rotates refresh tokens, the shards will revoke "
            "each other's"
        )
        return
    auth.shared = SharedTokens(lease)
    logger.info("Tokens are shared with other processes through %s", lease.description)
