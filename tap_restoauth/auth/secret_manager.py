"""Secrets from Google Cloud Secret Manager: `sm://` references anywhere in the config.

A string setting written as ``sm://PROJECT/SECRET``, ``sm://PROJECT/SECRET#VERSION`` or
``sm://SECRET`` (project from ``secrets.gcp_project`` or ``GOOGLE_CLOUD_PROJECT``) is
replaced by the secret's value once, at start-up, before discovery; each distinct secret
version is read once per run. Credentials come only from Application Default Credentials.

Values are checked against their CRC32C (the Google client does not), decoded as UTF-8,
and lose one trailing newline (``echo token | gcloud secrets create ... --data-file=-``
stores one). A refresh token read from Secret Manager is also written back there when
the provider rotates it (`SecretManagerTokenStore`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
import typing as t
from collections.abc import Mapping
from urllib.parse import urlsplit

from tap_restoauth import options
from tap_restoauth.auth.methods import Auth, OAuth2RefreshToken
from tap_restoauth.auth.token_store import StoredToken
from tap_restoauth.errors import SecretError
from tap_restoauth.http import redaction
from tap_restoauth.http.urls import is_loopback
from tap_restoauth.sync import interrupt

if t.TYPE_CHECKING:
    from google.cloud.secretmanager_v1 import SecretManagerServiceClient

logger = logging.getLogger("tap_restoauth.auth.secret_manager")


def crc32c(data: bytes) -> int:
    """The CRC32C of `data`, as Secret Manager checksums payloads (imported only when used)."""
    import google_crc32c  # noqa: PLC0415

    return int(google_crc32c.value(data))


PREFIX = "sm://"
DEFAULT_HOST = "secretmanager.googleapis.com"
ACCESSOR_ROLE = "roles/secretmanager.secretAccessor"
VERSION_ADDER_ROLE = "roles/secretmanager.secretVersionAdder"
MAX_PAYLOAD_BYTES = 64 * 1024  # the service refuses larger secret versions
ADC_HINT = (
    "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a "
    "service account key file, or run on Google Cloud with an attached service account"
)
# Secret ids: letters, digits, - and _. Projects: ids (incl. domain-scoped `example.com:name`) or numbers.
_REFERENCE = re.compile(
    r"sm://(?:(?P<project>[A-Za-z0-9][A-Za-z0-9.:-]*)/)?(?P<secret>[A-Za-z0-9_-]{1,255})"
    r"(?:#(?P<version>latest|[1-9][0-9]*|[A-Za-z][A-Za-z0-9_-]*))?"
)

# Regional endpoints serve the secrets of one location: secretmanager.LOCATION.rep.googleapis.com.
_REGIONAL_HOST = re.compile(r"secretmanager\.([a-z0-9-]+)\.rep\.googleapis\.com")


@dataclasses.dataclass(frozen=True)
class SecretRef:
    """One secret version: where a `sm://` reference points."""

    project: str
    secret: str
    version: str = "latest"
    location: str | None = None  # regional secrets live in projects/P/locations/L/secrets/S

    @property
    def secret_name(self) -> str:
        where = f"projects/{self.project}" + (f"/locations/{self.location}" if self.location else "")
        return f"{where}/secrets/{self.secret}"

    @property
    def version_name(self) -> str:
        return f"{self.secret_name}/versions/{self.version}"

    def __str__(self) -> str:
        return f"sm://{self.project}/{self.secret}#{self.version}"


@dataclasses.dataclass(frozen=True)
class SecretSettings:
    """The `secrets` setting."""

    gcp_project: str | None = None
    endpoint: str | None = None
    timeout_seconds: float = 30.0


def is_reference(value: t.Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def parse_reference(
    text: str, where: str, default_project: str | None, location: str | None = None
) -> SecretRef:
    """The secret version `text` names; `where` is the setting, for error messages."""
    match = _REFERENCE.fullmatch(text)
    if match is None:
        raise SecretError(
            f"{where}: malformed Secret Manager reference {text!r}: expected sm://PROJECT/SECRET, "
            "sm://PROJECT/SECRET#VERSION or sm://SECRET (VERSION: latest, a number or an alias)"
        )
    project = match["project"] or default_project
    if not project:
        raise SecretError(
            f"{where}: {text} names no project: set secrets.gcp_project or GOOGLE_CLOUD_PROJECT, "
            "or write sm://PROJECT/SECRET"
        )
    return SecretRef(project, match["secret"], match["version"] or "latest", location)


class CallFailed(Exception):
    """A Secret Manager call failed; `status` is the gRPC status name (or TIMEOUT)."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class SecretManager:
    """The run's Secret Manager client, built on first use, with its deadline.

    Google's libraries are imported only when a config holds a reference: they add
    about 150 ms to every start of the tap.
    """

    def __init__(self, settings: SecretSettings) -> None:
        self.settings = settings
        self.host, self._target = _split_endpoint(settings.endpoint)
        regional = _REGIONAL_HOST.fullmatch(self.host)
        self.location = regional[1] if regional else None
        self._client: SecretManagerServiceClient | None = None
        self._lock = threading.Lock()

    def access(self, ref: SecretRef) -> tuple[str, bytes, int | None]:
        """(version name, data, data_crc32c or None) of the secret version `ref`."""
        from google.api_core.exceptions import ResourceExhausted, ServiceUnavailable  # noqa: PLC0415

        response = self._call(
            "access_secret_version", (ServiceUnavailable, ResourceExhausted), name=ref.version_name
        )
        payload = response.payload
        checksum = payload.data_crc32c if "data_crc32c" in payload else None
        return str(response.name), bytes(payload.data), checksum

    def add_version(self, ref: SecretRef, value: str) -> str:
        """Add `value` as the secret's newest version; returns the version's name."""
        from google.api_core.exceptions import ServiceUnavailable  # noqa: PLC0415
        from google.cloud.secretmanager_v1.types import SecretPayload  # noqa: PLC0415

        data = value.encode("utf-8")
        payload = SecretPayload(data=data, data_crc32c=crc32c(data))
        # UNAVAILABLE is retried although the call may have landed: a duplicate version holding
        # the same value is harmless, a rotated refresh token that was never saved is not.
        version = self._call(
            "add_secret_version", (ServiceUnavailable,), parent=ref.secret_name, payload=payload
        )
        return str(version.name)

    def get_secret(self, ref: SecretRef) -> tuple[str, dict[str, str]]:
        """(etag, annotations) of the secret `ref` names."""
        from google.api_core.exceptions import ServiceUnavailable  # noqa: PLC0415

        secret = self._call("get_secret", (ServiceUnavailable,), name=ref.secret_name)
        return str(secret.etag), dict(secret.annotations)

    def update_annotations(self, ref: SecretRef, etag: str, annotations: Mapping[str, str]) -> str:
        """Replace the secret's annotations if its etag is still `etag`; returns the new etag.

        Another writer in between makes the call fail with FAILED_PRECONDITION (CallFailed).
        """
        from google.api_core.exceptions import ServiceUnavailable  # noqa: PLC0415
        from google.cloud.secretmanager_v1.types import Secret  # noqa: PLC0415
        from google.protobuf.field_mask_pb2 import FieldMask  # noqa: PLC0415

        secret = Secret(name=ref.secret_name, etag=etag, annotations=dict(annotations))
        updated = self._call(
            "update_secret",
            (ServiceUnavailable,),
            secret=secret,
            update_mask=FieldMask(paths=["annotations"]),
        )
        return str(updated.etag)

    def list_versions(self, ref: SecretRef) -> list[tuple[int, str]]:
        """(number, state name: ENABLED, DISABLED or DESTROYED) of every version of the secret."""
        from google.api_core.exceptions import ServiceUnavailable  # noqa: PLC0415
        from google.cloud.secretmanager_v1.types import ListSecretVersionsRequest  # noqa: PLC0415

        request = ListSecretVersionsRequest(parent=ref.secret_name, page_size=1000)
        versions = self._call("list_secret_versions", (ServiceUnavailable,), collect=True, request=request)
        return [(int(str(version.name).rsplit("/", 1)[1]), version.state.name) for version in versions]

    def retire_version(self, ref: SecretRef, number: int, *, destroy: bool) -> None:
        """Destroy (data gone for good) or disable (restorable) one version of the secret."""
        from google.api_core.exceptions import ServiceUnavailable  # noqa: PLC0415

        method = "destroy_secret_version" if destroy else "disable_secret_version"
        self._call(method, (ServiceUnavailable,), name=f"{ref.secret_name}/versions/{number}")

    def _call(
        self, method: str, retryable: tuple[type[Exception], ...], *, collect: bool = False, **request: t.Any
    ) -> t.Any:
        """Call `method` with retries of `retryable` errors until the deadline; raises CallFailed.

        `collect`: the answer is a pager, read whole here (its further pages are calls too).
        """
        from google.api_core import exceptions, retry  # noqa: PLC0415

        deadline = self.settings.timeout_seconds
        policy = retry.Retry(
            predicate=retry.if_exception_type(*retryable),
            initial=min(1.0, deadline / 8),
            maximum=max(1.0, deadline / 4),
            multiplier=2.0,
            timeout=deadline,
        )
        try:
            with interrupt.unless_shielded():  # retries of an unavailable service: up to `deadline`
                answer = getattr(self._get_client(), method)(**request, retry=policy, timeout=deadline)
                return list(answer) if collect else answer
        except (exceptions.RetryError, exceptions.DeadlineExceeded) as exc:
            cause = getattr(exc, "cause", None)
            last = f" (last error: {_status(cause)[1]})" if cause is not None else ""
            raise CallFailed(
                "TIMEOUT",
                f"Secret Manager at {self.host} did not answer within {deadline:g}s{last}: check the "
                "network and secrets.endpoint, or raise secrets.timeout_seconds",
            ) from None
        except exceptions.Unauthenticated:
            raise CallFailed(
                "UNAUTHENTICATED", f"Secret Manager rejected the Application Default Credentials: {ADC_HINT}"
            ) from None
        except exceptions.GoogleAPICallError as exc:
            status, description = _status(exc)
            raise CallFailed(status, f"Secret Manager at {self.host} answered {description}") from None

    def _get_client(self) -> SecretManagerServiceClient:
        with self._lock:
            if self._client is None:
                self._client = self._build_client()
            return self._client

    def _build_client(self) -> SecretManagerServiceClient:
        import grpc  # noqa: PLC0415
        from google.api_core.client_options import ClientOptions  # noqa: PLC0415
        from google.auth.exceptions import DefaultCredentialsError  # noqa: PLC0415
        from google.cloud.secretmanager_v1 import SecretManagerServiceClient  # noqa: PLC0415
        from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (  # noqa: PLC0415
            SecretManagerServiceGrpcTransport,
        )

        if is_loopback(self.host):
            # A local stand-in (tests, emulators) speaks plaintext and needs no credentials.
            channel = grpc.insecure_channel(self._target)
            return SecretManagerServiceClient(transport=SecretManagerServiceGrpcTransport(channel=channel))
        try:
            return SecretManagerServiceClient(client_options=ClientOptions(api_endpoint=self._target))
        except DefaultCredentialsError as exc:
            detail = " ".join(str(exc).split())
            raise SecretError(
                "Secret Manager: no usable Application Default Credentials to read sm:// references "
                f"({detail}): {ADC_HINT}"
            ) from None


class SecretReader:
    """Reads referenced secret versions once each and checks what comes back."""

    def __init__(self, manager: SecretManager) -> None:
        self.manager = manager
        self._values: dict[SecretRef, str] = {}

    def read(self, ref: SecretRef, where: str) -> str:
        """The secret's text (one trailing newline removed); `where` names the setting in errors."""
        if ref in self._values:
            return self._values[ref]
        try:
            name, data, checksum = self.manager.access(ref)
        except CallFailed as exc:
            raise SecretError(f"{where}: {self._explain(ref, exc)}") from None
        if checksum is not None and checksum != crc32c(data):
            raise SecretError(
                f"{where}: {ref} failed its integrity check (data_crc32c does not match the data "
                "received); the value was not used"
            )
        if len(data) > MAX_PAYLOAD_BYTES:
            raise SecretError(
                f"{where}: {ref} holds {len(data)} bytes, more than Secret Manager's "
                f"{MAX_PAYLOAD_BYTES}-byte limit; the value was not used"
            )
        try:
            text = _strip_one_newline(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise SecretError(f"{where}: {ref} is not UTF-8 text") from None
        if not text:
            raise SecretError(f"{where}: {ref} is empty")
        redaction.register(text)
        logger.info("Read %s for %s", name, where)
        self._values[ref] = text
        return text

    @staticmethod
    def _explain(ref: SecretRef, failure: CallFailed) -> str:
        if failure.status == "NOT_FOUND":
            return (
                f"{ref} not found: project {ref.project} has no secret {ref.secret!r} "
                f"with version {ref.version!r}"
            )
        if failure.status == "PERMISSION_DENIED":
            return (
                f"permission denied reading {ref}: grant {ACCESSOR_ROLE} on secret {ref.secret!r} "
                f"(project {ref.project}) to the Application Default Credentials account "
                "(Secret Manager also says this when the secret does not exist)"
            )
        return f"reading {ref} failed: {failure.detail}"


class SecretManagerTokenStore:
    """Saves a rotated refresh token as a new version of the secret it was read from.

    Needs roles/secretmanager.secretVersionAdder on that secret.
    """

    def __init__(self, manager: SecretManager, ref: SecretRef, fallback_file: str | None = None) -> None:
        self.manager = manager
        self.ref = ref
        self.fallback_file = fallback_file
        self.description = f"Secret Manager secret {ref.secret_name}"
        self.after_save: t.Callable[[str], None] | None = None  # given the new version's name (pruning)

    def save(self, token: str) -> None:
        try:
            name = self.manager.add_version(self.ref, token)
        except CallFailed as exc:
            raise SecretError(self._failure(exc)) from None
        logger.info("Added the rotated refresh token to Secret Manager as %s", name)
        if self.after_save is not None:
            self.after_save(name)
        if self.ref.version != "latest":
            logger.warning(
                "auth.refresh_token is pinned to version %s of %s: the next run reads that version, "
                "not the new one; reference the secret without #VERSION",
                self.ref.version,
                self.ref.secret,
            )

    def _failure(self, failure: CallFailed) -> str:
        if failure.status == "PERMISSION_DENIED":
            reason = (
                f"permission denied: grant {VERSION_ADDER_ROLE} on secret {self.ref.secret!r} "
                f"(project {self.ref.project}) to the Application Default Credentials account"
            )
        elif failure.status == "NOT_FOUND":
            reason = f"project {self.ref.project} has no secret {self.ref.secret!r}"
        else:
            reason = failure.detail
        if self.fallback_file:
            recovery = (
                f"it was saved to {self.fallback_file}; store it with `gcloud secrets versions add "
                f"{self.ref.secret} --project={self.ref.project} --data-file={self.fallback_file}`"
            )
        else:
            recovery = (
                "the provider may already have revoked the old one: obtain a new refresh token and "
                f"add it with `gcloud secrets versions add {self.ref.secret} --data-file=-`"
            )
        return (
            f"the provider's new refresh token could not be saved to Secret Manager secret "
            f"{self.ref.secret_name}: {reason}; {recovery}"
        )


@dataclasses.dataclass
class ResolvedConfig:
    """The config with every `sm://` reference replaced, and where each reference was."""

    config: dict[str, t.Any]
    references: dict[str, SecretRef]  # setting path (e.g. auth.refresh_token) -> secret version
    manager: SecretManager

    def attach_token_store(self, auth: Auth) -> None:
        """Write rotated refresh tokens back to the secret `auth.refresh_token` came from."""
        ref = self.references.get("auth.refresh_token")
        if ref is None or not isinstance(auth, OAuth2RefreshToken):
            return
        store = SecretManagerTokenStore(self.manager, ref, auth.refresh_token_file)
        auth.add_store(store, authoritative=True)


def resolve_config(config: Mapping[str, t.Any]) -> ResolvedConfig:
    """A copy of `config` with each `sm://` reference replaced by its secret's value.

    Every reference is parsed before the first call, so a malformed one fails without
    touching the network; each distinct secret version is read once.
    """
    settings = options.build(SecretSettings, _mapping(config.get("secrets")), "secrets", ignore=set())
    if settings.timeout_seconds <= 0:
        raise SecretError("secrets.timeout_seconds: expected a positive number of seconds")
    default_project = settings.gcp_project or os.environ.get("GOOGLE_CLOUD_PROJECT") or None
    manager = SecretManager(settings)
    body = {key: value for key, value in config.items() if key != "secrets"}
    references = {
        where: parse_reference(value, where, default_project, manager.location)
        for where, value in _string_leaves(body, "")
    }
    if not references:
        return ResolvedConfig(dict(config), {}, manager)
    reader = SecretReader(manager)
    values = {where: reader.read(ref, where) for where, ref in references.items()}
    if "auth.refresh_token" in values:  # plain, or shared JSON with the access token beside it
        values["auth.refresh_token"] = StoredToken.decode(values["auth.refresh_token"]).refresh_token
    logger.info(
        "Resolved %d sm:// reference(s) from %d secret version(s) in Secret Manager",
        len(references),
        len(set(references.values())),
    )
    resolved = _replace(body, "", values)
    if "secrets" in config:
        resolved["secrets"] = config["secrets"]
    return ResolvedConfig(resolved, references, manager)


def _string_leaves(value: t.Any, where: str) -> t.Iterator[tuple[str, str]]:
    """(path, value) of every `sm://` string in a nested config."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _string_leaves(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _string_leaves(item, f"{where}[{index}]")
    elif is_reference(value):
        yield where, value


def _replace(value: t.Any, where: str, replacements: Mapping[str, str]) -> t.Any:
    if isinstance(value, Mapping):
        return {
            key: _replace(item, f"{where}.{key}" if where else str(key), replacements)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_replace(item, f"{where}[{index}]", replacements) for index, item in enumerate(value)]
    return replacements.get(where, value) if is_reference(value) else value


def _mapping(value: t.Any) -> Mapping[str, t.Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SecretError("secrets: expected an object (gcp_project, endpoint, timeout_seconds)")
    return value


def _strip_one_newline(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def _split_endpoint(endpoint: str | None) -> tuple[str, str]:
    """(host, gRPC target) of `secrets.endpoint`: `host`, `host:port` or `https://host[:port]`."""
    if not endpoint:
        return DEFAULT_HOST, DEFAULT_HOST
    text = endpoint.strip()
    parts = urlsplit(text if "://" in text else f"//{text}")
    try:
        port = parts.port
    except ValueError:
        port = None
        parts = parts._replace(netloc="")
    if not parts.hostname or parts.path.strip("/") or port == 0:
        raise SecretError(
            f"secrets.endpoint: expected HOST or HOST:PORT (e.g. secretmanager.europe-west1.rep."
            f"googleapis.com), got {endpoint!r}"
        )
    return parts.hostname, parts.netloc.rpartition("@")[2]


def _status(exc: t.Any) -> tuple[str, str]:
    """(gRPC status name, name plus the service's message masked and shortened) of an API error."""
    code = getattr(exc, "grpc_status_code", None)
    name = code.name if code is not None else type(exc).__name__
    message = " ".join(str(getattr(exc, "message", "") or "").split())
    return name, f"{name}: {redaction.redact(message)[:200]}" if message else name
