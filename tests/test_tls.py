"""TLS against a real local HTTPS server whose certificate comes from a private CA made at test time."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import typing as t
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fault_server import RETRY_LINE, FaultData, FaultServer, sync, tap_config


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_private_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A CA certificate and a server certificate for 127.0.0.1/localhost signed by it (PEM files)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("tap-restoauth test CA"))
        .issuer_name(_name("tap-restoauth test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_file, cert_file, key_file


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[tuple[FaultServer, Path]]:
    ca_file, cert_file, key_file = make_private_ca(tmp_path_factory.mktemp("pki"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = FaultServer(data=FaultData(users=40, events=60))
    # Handshakes happen lazily, in each handler thread, so a client that rejects the
    # certificate cannot stall the accept loop.
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    server.scheme = "https"
    server.start()
    yield server, ca_file
    server.stop()


OFF_WARNING = "TLS certificate verification is OFF"


def test_default_config_rejects_an_untrusted_certificate_at_once(https_server, tmp_path):
    server, _ = https_server
    run = sync(tmp_path, server, tap_config(server, streams=("users",)))
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    (line,) = run.error_lines()
    assert f"TLS certificate verification failed for {server.url}" in line
    assert "unable to get local issuer certificate" in line
    assert "set ca_bundle" in line
    assert not RETRY_LINE.search(run.stderr)  # a certificate problem is not transient
    assert not run.counts() and not run.states


def test_ca_bundle_trusts_a_private_ca(https_server, tmp_path):
    server, ca_file = https_server
    before = len(server.issued_tokens)
    run = sync(tmp_path, server, tap_config(server, streams=("users", "events"), ca_bundle=str(ca_file)))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.counts() == {"users": 40, "events": 60}
    assert len(server.issued_tokens) == before + 1  # the token endpoint is verified the same way
    assert OFF_WARNING not in run.stderr


def test_verify_tls_false_connects_with_one_warning(https_server, tmp_path):
    server, _ = https_server
    run = sync(tmp_path, server, tap_config(server, streams=("users", "events"), verify_tls=False))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.counts() == {"users": 40, "events": 60}
    warnings = [line for line in run.stderr.splitlines() if OFF_WARNING in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0]
    assert "InsecureRequestWarning" not in run.stderr
