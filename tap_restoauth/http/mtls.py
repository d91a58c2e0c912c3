"""Mutual TLS: the tap presents a client certificate on API and token requests alike.

    client_cert: sm://my-project/tap-client-cert   # PEM text, a PEM file path or sm://
    client_key: sm://my-project/tap-client-key     # unencrypted PEM private key

Files are used in place. PEM text (what `sm://` resolves to) is written to a private
temporary directory (mode 0700, files 0600) because the TLS layer loads keys only from
files; the directory is removed when the process exits. The pair is loaded once at
config time, so a key that does not match its certificate fails before any request.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import shutil
import ssl
import tempfile

import requests

from tap_restoauth.auth.keys import read_pem
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
    """Paths of the certificate (chain) and key files, as `requests`' `cert=` takes them."""

    cert_file: str
    key_file: str

    def as_requests_cert(self) -> tuple[str, str]:
        return (self.cert_file, self.key_file)


def load_client_certificate(cert: str | None, key: str | None) -> ClientCertificate | None:
    """The configured client certificate, checked to load as a pair; None when not configured."""
    if not cert and not key:
        return None
    if not cert:
        raise ConfigError("client_key is set without client_cert: set both (PEM text, file paths or sm://)")
    cert_text = read_pem(cert, "client_cert", secret=False)
    if not key:
        if "PRIVATE KEY-----" not in cert_text:
            raise ConfigError("client_cert is set without client_key: set both (PEM text, file paths or sm://)")
        key = cert
    key_text = read_pem(key, "client_key")
    if "PRIVATE KEY-----" not in key_text:
        raise ConfigError("client_key: expected a PEM private key (-----BEGIN PRIVATE KEY-----)")
    if "CERTIFICATE-----" not in cert_text:
        raise ConfigError("client_cert: expected a PEM certificate (-----BEGIN CERTIFICATE-----)")
    pair = ClientCertificate(_as_file(cert, cert_text, "client.crt"), _as_file(key, key_text, "client.key"))
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(pair.cert_file, pair.key_file)
    except ssl.SSLError as exc:
        raise ConfigError(
            f"client_cert/client_key: cannot be used together ({exc.reason or exc}): is the key the "
            "certificate's, and unencrypted?"
        ) from None
    return pair


_directory: str | None = None


def _as_file(value: str, text: str, name: str) -> str:
    """`value` itself when it names a file, else `text` in a private temporary file."""
    if "-----BEGIN" not in value:
        return os.path.expanduser(value.strip())
    global _directory  # noqa: PLW0603 - one private directory per process, removed at exit
    if _directory is None:
        _directory = tempfile.mkdtemp(prefix="tap-restoauth-mtls-")  # mode 0700
        atexit.register(shutil.rmtree, _directory, True)
    path = os.path.join(_directory, name)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
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
