"""Mutual TLS: the tap presents a client certificate on API and token requests alike.

    client_cert: sm://my-project/tap-client-cert   # PEM text, a PEM file path or sm://
    client_key: sm://my-project/tap-client-key     # unencrypted PEM private key

The pair is read once (from files, or PEM text as `sm://` resolves it) and loaded into
the TLS context in memory. OpenSSL loads keys only from files, so for that moment they
are written to a private temporary directory (mode 0700, files 0600) removed right
after: no key stays on disk, even if the process is killed later. The pair is loaded at
config time too, so a key that does not match its certificate fails before any request.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import ssl
import tempfile

import requests
from urllib3.util.ssl_ import create_urllib3_context

from tap_restoauth.auth.keys import read_pem, register_pem
from tap_restoauth.errors import ConfigError
from tap_restoauth.http.retry import exception_chain

# OpenSSL reasons a server gives when it refuses or wanted a client certificate.
_REFUSALS = (
    "CERTIFICATE_REQUIRED",
    "BAD_CERTIFICATE",
    "UNKNOWN_CA",
    "CERTIFICATE_UNKNOWN",
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_REVOKED",
    "UNSUPPORTED_CERTIFICATE",
    "ACCESS_DENIED",
    "HANDSHAKE_FAILURE",
)


@dataclasses.dataclass(frozen=True)
class ClientCertificate:
    """The certificate (chain) and key PEM texts; loaded into each TLS context that needs them."""

    cert_pem: str = dataclasses.field(repr=False)
    key_pem: str = dataclasses.field(repr=False)

    def ssl_context(self, verify: bool | str) -> ssl.SSLContext:
        """A urllib3 TLS context presenting this certificate (`verify` as `requests` takes it).

        The CA bundle is still given per connection by `requests`; only a context that
        verifies nothing must say so up front (urllib3 cannot drop hostname checks later).
        """
        context = create_urllib3_context(cert_reqs=ssl.CERT_NONE if verify is False else ssl.CERT_REQUIRED)
        directory = tempfile.mkdtemp(prefix="tap-restoauth-mtls-")  # mode 0700
        try:
            # OpenSSL reads keys only from files: these live while it reads them.
            cert_file = _private_file(directory, "client.crt", self.cert_pem)
            key_file = _private_file(directory, "client.key", self.key_pem)
            # An encrypted key must fail, not make OpenSSL prompt on the terminal.
            context.load_cert_chain(cert_file, key_file, password=lambda: b"")
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return context


def load_client_certificate(cert: str | None, key: str | None) -> ClientCertificate | None:
    """The configured client certificate, checked to load as a pair; None when not configured."""
    if not cert and not key:
        return None
    if not cert:
        raise ConfigError("client_key is set without client_cert: set both (PEM text, file paths or sm://)")
    cert_text = read_pem(cert, "client_cert", secret=False)
    if not key:
        if "PRIVATE KEY-----" not in cert_text:
            raise ConfigError(
                "client_cert is set without client_key: set both (PEM text, file paths or sm://)"
            )
        key = cert
    key_blocks = _blocks(read_pem(key, "client_key", secret=False), "PRIVATE KEY")
    for block in key_blocks:
        register_pem(block)
    if not key_blocks:
        raise ConfigError("client_key: expected a PEM private key (-----BEGIN PRIVATE KEY-----)")
    if "ENCRYPTED" in key_blocks[0]:
        raise ConfigError("client_key: the key is encrypted; store it unencrypted (PKCS#8) in Secret Manager")
    certificates = _blocks(cert_text, "CERTIFICATE")
    if not certificates:
        raise ConfigError("client_cert: expected a PEM certificate (-----BEGIN CERTIFICATE-----)")
    pair = ClientCertificate("".join(certificates), key_blocks[0])
    try:
        pair.ssl_context(verify=True)
    except ssl.SSLError as exc:
        raise ConfigError(
            f"client_cert/client_key: cannot be used together ({exc.reason or exc}): is the key the "
            "certificate's, and unencrypted?"
        ) from None
    return pair


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----\s*", re.DOTALL)


def _blocks(text: str, kind: str) -> list[str]:
    """The PEM blocks of `text` whose label ends with `kind` (CERTIFICATE, PRIVATE KEY)."""
    return [
        match.group(0).strip() + "\n" for match in _PEM_BLOCK.finditer(text) if match.group(1).endswith(kind)
    ]


def _private_file(directory: str, name: str, text: str) -> str:
    path = os.path.join(directory, name)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    return path


def handshake_refusal(exc: BaseException, origin: str, has_cert: bool) -> str | None:
    """One line when `exc` is a server refusing the TLS handshake over the client certificate.

    Servers either send an alert (certificate required, unknown CA, bad certificate) or
    just close the connection during the handshake (`requests` then raises SSLError, not
    a read error); neither gets better by retrying.
    """
    detail = None
    in_handshake = isinstance(exc, requests.exceptions.SSLError)
    for cause in exception_chain(exc):
        if in_handshake and isinstance(cause, ssl.SSLEOFError):
            detail = "the server closed the connection during the TLS handshake"
        elif isinstance(cause, ssl.SSLError) and any(r in str(cause.reason or "") for r in _REFUSALS):
            detail = f"TLS alert: {str(cause.reason).lower().replace('_', ' ')}"
            break
    if detail is None:
        return None
    if has_cert:
        return (
            f"TLS handshake with {origin} failed ({detail}): the server refused the client "
            "certificate; check that client_cert is signed by a CA the server trusts, is "
            "not expired, and is the one registered for this client"
        )
    return (
        f"TLS handshake with {origin} failed ({detail}): the server probably requires a client "
        "certificate; set client_cert and client_key"
    )
