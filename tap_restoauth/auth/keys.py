"""Key material from settings: PEM text or a file path, masked in every encoding it may take.

A setting such as ``auth.private_key`` or ``client_key`` holds either the PEM text itself
(what an ``sm://`` reference resolves to, or an environment variable with ``\\n`` escapes)
or the path of a PEM file:

    auth: {private_key: sm://my-project/okta-signing-key}
    client_key: ~/.config/tap-restoauth/client.key

Whatever the source, the text and each base64 line of its body are registered with
http/redaction before anything else sees them, so no log line or error can quote them.
"""

from __future__ import annotations

import base64
import os
import typing as t

from tap_restoauth.errors import ConfigError
from tap_restoauth.http import redaction

if t.TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

MAX_PEM_BYTES = 1 << 20  # a PEM bundle is a few kilobytes; a larger file is not one


def register_secret(value: str | None) -> None:
    """Mask `value` in every form `redaction.encodings` knows, and as base64 text (a secret
    can travel base64-encoded, e.g. inside a signed assertion or a Basic header)."""
    if not value:
        return
    raw = value.encode()
    redaction.register_all(
        {value, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    )


def register_pem(text: str) -> None:
    """Mask each base64 line of a PEM body, and the body as one line (DER in base64).

    Any rendering of the PEM that keeps its lines (as written, JSON-escaped, in a log
    line) then shows `***` for every line of key material; registering the whole document
    as well would only grow the pattern every log line is matched against.
    """
    body = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.startswith("-----") and ":" not in line  # not Proc-Type headers
    ]
    redaction.register_all([*body, "".join(body)])


def read_pem(value: str, where: str, *, secret: bool = True) -> str:
    """The PEM text `value` holds or names; registered as a secret (unless a certificate)."""
    text = value.strip()
    if "-----BEGIN" not in text:
        path = os.path.expanduser(text)
        if "\n" in text or not os.path.isfile(path):
            raise ConfigError(
                f"{where}: expected PEM text (-----BEGIN ...) or the path of a readable PEM file; "
                "the value is neither"
            )
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_PEM_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read {path!r} ({exc.strerror})") from None
        if len(data) > MAX_PEM_BYTES:
            raise ConfigError(f"{where}: {path!r} is larger than 1 MiB: not a PEM file")
        text = data.decode("utf-8", errors="replace").strip()
        if "-----BEGIN" not in text:
            raise ConfigError(f"{where}: {path!r} holds no PEM block (-----BEGIN ...)")
    elif "\n" not in text and "\\n" in text:
        text = text.replace("\\n", "\n")  # PEM pasted into an environment variable or JSON
    if secret:
        register_pem(text)
    return text + "\n"


def load_private_key(value: str, where: str) -> PrivateKey:
    """An RSA or EC private key from PEM text or a PEM file (unencrypted)."""
    # cryptography is imported only by the logins that sign (its import is ~0.1 s of start-up).
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: PLC0415

    text = read_pem(value, where)
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except TypeError:
        raise ConfigError(f"{where}: the private key is encrypted; store it unencrypted (PKCS#8)") from None
    except (ValueError, Exception):
        raise ConfigError(
            f"{where}: not a PEM private key (expected -----BEGIN PRIVATE KEY----- or "
            "-----BEGIN RSA/EC PRIVATE KEY-----)"
        ) from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ConfigError(f"{where}: only RSA and EC (P-256, P-384, P-521) private keys are supported")
    return key
