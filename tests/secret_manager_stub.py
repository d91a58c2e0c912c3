"""A local stand-in for Google Secret Manager's gRPC API, for tests with the real client.

Serves `google.cloud.secretmanager.v1.SecretManagerService` (AccessSecretVersion,
AddSecretVersion, GetSecret, UpdateSecret of annotations, ListSecretVersions in pages,
DestroySecretVersion, DisableSecretVersion) in plaintext on 127.0.0.1 with in-memory
secrets and versions, counts calls, and injects failures: permission denied per secret
(read, write or version management), a wrong data_crc32c per secret, and UNAVAILABLE for
every call. A disabled or destroyed version cannot be read (FAILED_PRECONDITION); a
destroyed one loses its data. Like the real service, response names carry the project number, not its id,
and a secret's etag changes on every UpdateSecret (not when a version is added); an
UpdateSecret carrying another etag fails with FAILED_PRECONDITION.
"""

from __future__ import annotations

import collections
import re
import threading
from concurrent import futures

import google_crc32c
import grpc
from google.cloud.secretmanager_v1.types import resources, service

SERVICE = "google.cloud.secretmanager.v1.SecretManagerService"
PROJECT_NUMBER = "123456789012"
_VERSION_NAME = re.compile(r"projects/([^/]+)/secrets/([^/]+)/versions/([^/]+)")
_SECRET_NAME = re.compile(r"projects/([^/]+)/secrets/([^/]+)")


class SecretManagerStub:
    """In-memory secrets served over gRPC; `endpoint` is what `secrets.endpoint` takes."""

    def __init__(self) -> None:
        self.versions: dict[tuple[str, str], list[bytes]] = {}
        self.annotations: dict[tuple[str, str], dict[str, str]] = {}
        self.etags: dict[tuple[str, str], int] = {}
        self.deny_access: set[str] = set()  # secret ids whose reads are denied
        self.deny_add: set[str] = set()  # secret ids whose new versions are denied
        self.wrong_crc: set[str] = set()  # secret ids answered with a corrupted checksum
        self.deny_manage: set[str] = set()  # secret ids whose versions cannot be listed, disabled, destroyed
        self.states: dict[tuple[str, str], list[resources.SecretVersion.State]] = {}
        self.unavailable = False
        self.unavailable_adds = 0  # this many AddSecretVersion calls answer UNAVAILABLE first
        self.add_refused = threading.Event()  # set when one was
        self.calls: collections.Counter[tuple[str, str]] = collections.Counter()
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handlers = {
            "AccessSecretVersion": grpc.unary_unary_rpc_method_handler(
                self._access,
                request_deserializer=service.AccessSecretVersionRequest.deserialize,
                response_serializer=service.AccessSecretVersionResponse.serialize,
            ),
            "AddSecretVersion": grpc.unary_unary_rpc_method_handler(
                self._add,
                request_deserializer=service.AddSecretVersionRequest.deserialize,
                response_serializer=resources.SecretVersion.serialize,
            ),
            "GetSecret": grpc.unary_unary_rpc_method_handler(
                self._get_secret,
                request_deserializer=service.GetSecretRequest.deserialize,
                response_serializer=resources.Secret.serialize,
            ),
            "UpdateSecret": grpc.unary_unary_rpc_method_handler(
                self._update_secret,
                request_deserializer=service.UpdateSecretRequest.deserialize,
                response_serializer=resources.Secret.serialize,
            ),
            "ListSecretVersions": grpc.unary_unary_rpc_method_handler(
                self._list_versions,
                request_deserializer=service.ListSecretVersionsRequest.deserialize,
                response_serializer=service.ListSecretVersionsResponse.serialize,
            ),
            "DestroySecretVersion": grpc.unary_unary_rpc_method_handler(
                self._destroy,
                request_deserializer=service.DestroySecretVersionRequest.deserialize,
                response_serializer=resources.SecretVersion.serialize,
            ),
            "DisableSecretVersion": grpc.unary_unary_rpc_method_handler(
                self._disable,
                request_deserializer=service.DisableSecretVersionRequest.deserialize,
                response_serializer=resources.SecretVersion.serialize,
            ),
        }
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> SecretManagerStub:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=None)

    def put(self, project: str, secret: str, value: str | bytes) -> int:
        """Add a version (creating the secret if needed); returns its number."""
        data = value.encode() if isinstance(value, str) else value
        with self._lock:
            versions = self.versions.setdefault((project, secret), [])
            self.etags.setdefault((project, secret), 1)
            versions.append(data)
            self.states.setdefault((project, secret), []).append(resources.SecretVersion.State.ENABLED)
            return len(versions)

    def latest(self, project: str, secret: str) -> str:
        return self.versions[(project, secret)][-1].decode()

    def access_count(self, project: str, secret: str) -> int:
        """AccessSecretVersion calls for this secret, any version."""
        return sum(
            n
            for (method, name), n in self.calls.items()
            if method == "AccessSecretVersion" and name.startswith(f"projects/{project}/secrets/{secret}/")
        )

    def _access(
        self, request: service.AccessSecretVersionRequest, context: grpc.ServicerContext
    ) -> service.AccessSecretVersionResponse:
        self._count("AccessSecretVersion", request.name)
        match = _VERSION_NAME.fullmatch(request.name)
        if not match:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid resource name {request.name}")
        project, secret, version = match.groups()
        self._check(context, secret, self.deny_access, "secretmanager.versions.access", request.name)
        with self._lock:
            versions = self.versions.get((project, secret))
            if versions is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Secret [{request.name}] not found.")
            number = len(versions) if version == "latest" else int(version) if version.isdigit() else 0
            if not 1 <= number <= len(versions):
                context.abort(grpc.StatusCode.NOT_FOUND, f"Secret Version [{request.name}] not found.")
            state = self.states[(project, secret)][number - 1]
            if state != resources.SecretVersion.State.ENABLED:
                context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"Secret Version [{request.name}] is in {state.name} state.",
                )
            data = versions[number - 1]
        checksum = google_crc32c.value(data) + (1 if secret in self.wrong_crc else 0)
        return service.AccessSecretVersionResponse(
            name=f"projects/{PROJECT_NUMBER}/secrets/{secret}/versions/{number}",
            payload=resources.SecretPayload(data=data, data_crc32c=checksum),
        )

    def _add(
        self, request: service.AddSecretVersionRequest, context: grpc.ServicerContext
    ) -> resources.SecretVersion:
        self._count("AddSecretVersion", request.parent)
        match = _SECRET_NAME.fullmatch(request.parent)
        if not match:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid parent {request.parent}")
        project, secret = match.groups()
        self._check(context, secret, self.deny_add, "secretmanager.versions.add", request.parent)
        with self._lock:
            refuse = self.unavailable_adds > 0
            self.unavailable_adds -= refuse
        if refuse:
            self.add_refused.set()
            context.abort(grpc.StatusCode.UNAVAILABLE, "The service is currently unavailable.")
        data = request.payload.data
        if "data_crc32c" in request.payload and request.payload.data_crc32c != google_crc32c.value(data):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Checksum mismatch.")
        with self._lock:
            if (project, secret) not in self.versions:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Secret [{request.parent}] not found.")
            self.versions[(project, secret)].append(data)
            self.states[(project, secret)].append(resources.SecretVersion.State.ENABLED)
            number = len(self.versions[(project, secret)])
        return resources.SecretVersion(
            name=f"projects/{PROJECT_NUMBER}/secrets/{secret}/versions/{number}",
            state=resources.SecretVersion.State.ENABLED,
        )

    def _secret(self, key: tuple[str, str]) -> resources.Secret:
        """The secret's metadata as the service returns it (caller holds the lock)."""
        return resources.Secret(
            name=f"projects/{PROJECT_NUMBER}/secrets/{key[1]}",
            etag=f'"{self.etags[key]}"',
            annotations=self.annotations.get(key, {}),
        )

    def _get_secret(
        self, request: service.GetSecretRequest, context: grpc.ServicerContext
    ) -> resources.Secret:
        self._count("GetSecret", request.name)
        match = _SECRET_NAME.fullmatch(request.name)
        if not match:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid resource name {request.name}")
        project, secret = match.groups()
        self._check(context, secret, self.deny_access, "secretmanager.secrets.get", request.name)
        with self._lock:
            if (project, secret) not in self.versions:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Secret [{request.name}] not found.")
            return self._secret((project, secret))

    def _update_secret(
        self, request: service.UpdateSecretRequest, context: grpc.ServicerContext
    ) -> resources.Secret:
        name = request.secret.name
        self._count("UpdateSecret", name)
        match = _SECRET_NAME.fullmatch(name)
        if not match:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid resource name {name}")
        project, secret = match.groups()
        self._check(context, secret, self.deny_add, "secretmanager.secrets.update", name)
        if list(request.update_mask.paths) != ["annotations"]:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "this stand-in updates annotations only")
        with self._lock:
            key = (project, secret)
            if key not in self.versions:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Secret [{name}] not found.")
            if request.secret.etag and request.secret.etag != f'"{self.etags[key]}"':
                context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"The etag provided in the request does not match the current etag of {name}.",
                )
            self.annotations[key] = dict(request.secret.annotations)
            self.etags[key] += 1
            return self._secret(key)

    def version_states(self, project: str, secret: str) -> list[str]:
        """The state of each version, oldest first: ENABLED, DISABLED or DESTROYED."""
        with self._lock:
            return [state.name for state in self.states[(project, secret)]]

    def _list_versions(
        self, request: service.ListSecretVersionsRequest, context: grpc.ServicerContext
    ) -> service.ListSecretVersionsResponse:
        """Newest first, like the service, `page_size` at a time (default 25)."""
        self._count("ListSecretVersions", request.parent)
        match = _SECRET_NAME.fullmatch(request.parent)
        if not match:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid parent {request.parent}")
        project, secret = match.groups()
        self._check(context, secret, self.deny_manage, "secretmanager.versions.list", request.parent)
        with self._lock:
            states = list(self.states.get((project, secret), []))
        numbers = list(range(len(states), 0, -1))
        start = int(request.page_token or 0)
        size = request.page_size or 25
        page = numbers[start : start + size]
        return service.ListSecretVersionsResponse(
            versions=[
                resources.SecretVersion(
                    name=f"projects/{PROJECT_NUMBER}/secrets/{secret}/versions/{number}",
                    state=states[number - 1],
                )
                for number in page
            ],
            next_page_token=str(start + size) if start + size < len(numbers) else "",
            total_size=len(numbers),
        )

    def _destroy(
        self, request: service.DestroySecretVersionRequest, context: grpc.ServicerContext
    ) -> resources.SecretVersion:
        return self._set_state(
            request.name, context, "DestroySecretVersion", "secretmanager.versions.destroy"
        )

    def _disable(
        self, request: service.DisableSecretVersionRequest, context: grpc.ServicerContext
    ) -> resources.SecretVersion:
        return self._set_state(
            request.name, context, "DisableSecretVersion", "secretmanager.versions.disable"
        )

    def _set_state(
        self, name: str, context: grpc.ServicerContext, method: str, permission: str
    ) -> resources.SecretVersion:
        self._count(method, name)
        match = _VERSION_NAME.fullmatch(name)
        if not match or not match[3].isdigit():
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid resource name {name}")
        project, secret, version = match.groups()
        self._check(context, secret, self.deny_manage, permission, name)
        new = {
            "DestroySecretVersion": resources.SecretVersion.State.DESTROYED,
            "DisableSecretVersion": resources.SecretVersion.State.DISABLED,
        }[method]
        with self._lock:
            states = self.states.get((project, secret), [])
            number = int(version)
            if not 1 <= number <= len(states):
                context.abort(grpc.StatusCode.NOT_FOUND, f"Secret Version [{name}] not found.")
            if states[number - 1] == resources.SecretVersion.State.DESTROYED:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"Secret Version [{name}] is destroyed.")
            states[number - 1] = new
            if new == resources.SecretVersion.State.DESTROYED:
                self.versions[(project, secret)][number - 1] = b""
        return resources.SecretVersion(
            name=f"projects/{PROJECT_NUMBER}/secrets/{secret}/versions/{number}", state=new
        )

    def _count(self, method: str, name: str) -> None:
        with self._lock:
            self.calls[(method, name)] += 1

    def _check(
        self, context: grpc.ServicerContext, secret: str, denied: set[str], permission: str, name: str
    ) -> None:
        if self.unavailable:
            context.abort(grpc.StatusCode.UNAVAILABLE, "The service is currently unavailable.")
        if secret in denied:
            context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"Permission '{permission}' denied for resource '{name}' (or it may not exist).",
            )
