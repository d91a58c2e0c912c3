"""An API and token endpoint behind mutual TLS, with a PKI made at test time.

The server requires a client certificate signed by its CA on every connection (API and
token endpoint alike). The token endpoint implements RFC 8705 `tls_client_auth`: the form
carries ``client_id`` and no secret; the client is authenticated by its certificate's
subject, and the token is bound to the certificate (``cnf.x5t#S256``): the API refuses
it over a connection with another certificate.

    POST /oauth/token  grant_type=client_credentials&client_id=mtls-client
    -> {"access_token": "...", "token_type": "Bearer", "expires_in": 3600}
    GET /v1/contacts?page=N&per_page=M  (Bearer, same certificate) -> zoo page
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import ipaddress
import secrets
import ssl
import threading
import typing as t
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tap_restoauth.sandbox import JsonHandler, LocalServer
from tests.api_zoo import login_pages as paged

CLIENT_ID = "mtls-client"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@dataclasses.dataclass
class Issued:
    cert_pem: str
    key_pem: str


class Pki:
    """A CA and the certificates it signs (PEM text; nothing is written unless asked)."""

    def __init__(self, name: str = "tap-restoauth test CA") -> None:
        self.now = dt.datetime.now(dt.timezone.utc)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (
            self._builder(_name(name), _name(name), self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def _builder(self, subject: x509.Name, issuer: x509.Name, public_key: t.Any) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - dt.timedelta(minutes=5))
            .not_valid_after(self.now + dt.timedelta(days=1))
        )

    def issue(self, common_name: str, *, server: bool = False) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            self._builder(_name(common_name), self.cert.subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        else:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
            )
        cert = builder.sign(self.key, hashes.SHA256())
        return Issued(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key))


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    path.chmod(0o600)
    return path


class MtlsServer(LocalServer):
    """HTTPS on 127.0.0.1 requiring a client certificate from `pki`; see the module docstring."""

    scheme = "https"

    def __init__(self, pki: Pki, directory: Path, *, records: int = 30) -> None:
        super().__init__(_Handler)
        issued = pki.issue("127.0.0.1", server=True)
        ca_file = write(directory, "server-ca.pem", pki.cert_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(
            write(directory, "server.pem", issued.cert_pem), write(directory, "server.key", issued.key_pem)
        )
        context.load_verify_locations(ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
        # Handshakes happen in each handler thread, so a refused client cannot stall accept().
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.records = paged.contacts(records)
        self.lock = threading.Lock()
        self.tokens: dict[str, str] = {}  # token -> SHA-256 of the certificate it is bound to
        self.token_forms: list[dict[str, str]] = []
        self.api_requests = 0
        self.refused_handshakes = 0

    def handle_error(self, request: t.Any, client_address: t.Any) -> None:
        """A refused handshake is the test's point, not a server bug: count it quietly."""
        with self.lock:
            self.refused_handshakes += 1

    def secrets(self) -> list[str]:
        with self.lock:
            return list(self.tokens)

    def issue_token(
        self, form: dict[str, str], subject: str, thumbprint: str
    ) -> tuple[int, dict[str, t.Any]]:
        with self.lock:
            self.token_forms.append(form)
            if "client_secret" in form or form.get("client_id") != CLIENT_ID or subject != CLIENT_ID:
                return 401, {
                    "error": "invalid_client",
                    "error_description": "certificate does not match client",
                }
            token = "mtls_" + secrets.token_urlsafe(24)
            self.tokens[token] = thumbprint
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600}

    def authorize(self, authorization: str, thumbprint: str) -> bool:
        with self.lock:
            self.api_requests += 1
            return self.tokens.get(authorization.removeprefix("Bearer ")) == thumbprint


class _Handler(JsonHandler):
    server: MtlsServer

    def _peer(self) -> tuple[str, str]:
        der = self.connection.getpeercert(binary_form=True) or b""  # type: ignore[attr-defined]
        cert = x509.load_der_x509_certificate(der)
        subject = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        return str(subject), hashlib.sha256(der).hexdigest()

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if urlsplit(self.path).path != "/oauth/token":
            self.send_json(404, {"error": "not_found"})
            return
        status, body = self.server.issue_token(dict(parse_qsl(raw)), *self._peer())
        self.send_json(status, body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        _, thumbprint = self._peer()
        if not self.server.authorize(self.headers.get("Authorization") or "", thumbprint):
            self.send_json(401, {"error": "invalid_token"})
            return
        self.send_json(200, paged.page(self.server.records, dict(parse_qsl(parts.query))))
