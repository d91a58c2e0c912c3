"""Cost of the key-based logins: loading keys, signing assertions, building the mTLS context.

    .venv/bin/python -m benchmarks.logins

Each figure is the median of several runs in one process; keys are generated here.
Loading a key includes registering its lines with the log masking (one regex compile).
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
import typing as t

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tap_restoauth.auth.jwt import Signer, client_assertion
from tap_restoauth.http.mtls import load_client_certificate


def _pem(key: t.Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _median_ms(action: t.Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _self_signed(key: ec.EllipticCurvePrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")])
    moment = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(moment)
        .not_valid_after(moment + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _fresh_load_ms(make: t.Callable[[], str], runs: int) -> float:
    """Median time to load a key never seen before (its lines not yet masked)."""
    pems = [make() for _ in range(runs)]
    return statistics.median(
        _median_ms(lambda pem=pem: Signer.load(pem, "kid", None, "auth"), 1) for pem in pems
    )


def main() -> None:
    makers: dict[str, t.Callable[[], str]] = {
        "RSA 2048 (RS256)": lambda: _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "EC P-256 (ES256)": lambda: _pem(ec.generate_private_key(ec.SECP256R1())),
    }
    print("| measure | median |")
    print("| --- | ---: |")
    for label, make in makers.items():
        load = _fresh_load_ms(make, 3)
        signer = Signer.load(make(), "kid", None, "auth")
        sign = _median_ms(lambda signer=signer: client_assertion(signer, "c", "https://x/token", 60), 20)
        print(f"| {label}: load key + mask its lines | {load:.1f} ms |")
        print(f"| {label}: sign + mask one client assertion | {sign:.1f} ms |")
    client_key = ec.generate_private_key(ec.SECP256R1())
    cert, key = _self_signed(client_key), _pem(client_key)
    context = _median_ms(lambda: load_client_certificate(cert, key), 5)
    print(f"| mTLS: read + check client_cert/client_key (temp files, load, remove) | {context:.1f} ms |")


if __name__ == "__main__":
    main()
