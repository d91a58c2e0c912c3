"""How an OAuth client proves who it is without a shared secret in the request.

``client_secret_basic`` and ``client_secret_post`` (the secret itself) are handled by
the OAuth types; this module adds:

- ``private_key_jwt`` (RFC 7523 section 2.2): a short-lived assertion signed with
  ``auth.private_key`` is sent as ``client_assertion``, with ``client_id``:

      auth: {type: oauth2_client_credentials, token_url: ..., client_id: my-app,
             client_auth_method: private_key_jwt, private_key: sm://proj/app-key,
             private_key_id: key-2024}

- ``client_secret_jwt`` (RFC 7523 section 2.2 with an HMAC): the same assertion signed
  HS256 with ``client_secret``; the secret itself never travels.
- ``tls_client_auth`` (RFC 8705 section 2.1): the TLS client certificate
  (``client_cert``/``client_key``) authenticates; the form carries ``client_id`` only.
- ``none``: a public client, ``client_id`` alone (when set).
"""

from __future__ import annotations

import dataclasses
import functools

from tap_restoauth.auth.jwt import CLIENT_ASSERTION_TYPE, Signer, client_assertion
from tap_restoauth.errors import ConfigError
from tap_restoauth.settings import ClientKeyFields

SECRET_METHODS = frozenset({"client_secret_basic", "client_secret_post"})


@dataclasses.dataclass(kw_only=True)
class ClientKeyOptions(ClientKeyFields):
    """The key that signs assertions (private_key_jwt, the JWT bearer grant); its fields are
    declared in settings.py."""

    @functools.cached_property
    def signer(self) -> Signer:
        if not self.private_key:
            raise ConfigError("auth.private_key is required to sign assertions (PEM text, a file or sm://)")
        return Signer.load(self.private_key, self.private_key_id, self.signing_algorithm, "auth")

    def check_client_auth(self, method: str, client_id: str | None, client_secret: str | None) -> None:
        """Fail at config time when `method` lacks what it needs (a signing key is loaded now)."""
        if (method in SECRET_METHODS or method == "client_secret_jwt") and not client_secret:
            raise ConfigError(
                f"auth.client_secret is required with client_auth_method {method} "
                "(or use private_key_jwt, tls_client_auth or none)"
            )
        if method != "none" and not client_id:
            raise ConfigError(f"auth.client_id is required with client_auth_method {method}")
        if method == "private_key_jwt":
            self.signer  # noqa: B018 - load and check the key before any request
        if method == "client_secret_jwt":
            Signer.hmac(str(client_secret), self.signing_algorithm, "auth")
        if not 0 < self.assertion_lifetime_seconds <= 3600:
            raise ConfigError("auth.assertion_lifetime_seconds: expected 1 to 3600 seconds")

    def keyed_client_fields(
        self, method: str, client_id: str | None, client_secret: str | None, token_url: str
    ) -> dict[str, str]:
        """Form fields that authenticate the client for the methods that do not send a secret."""
        fields = {"client_id": client_id} if client_id else {}
        if method in {"private_key_jwt", "client_secret_jwt"}:
            assert client_id is not None
            signer = (
                self.signer
                if method == "private_key_jwt"
                else Signer.hmac(str(client_secret), self.signing_algorithm, "auth")
            )
            fields["client_assertion_type"] = CLIENT_ASSERTION_TYPE
            fields["client_assertion"] = client_assertion(
                signer, client_id, token_url, self.assertion_lifetime_seconds
            )
        return fields
