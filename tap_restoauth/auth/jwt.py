"""Signed JWT assertions (RFC 7523): client authentication and the JWT bearer grant.

A client assertion authenticates the client with a key instead of a shared secret:

    {"alg": "RS256", "kid": "<private_key_id>"}
    {"iss": "<client_id>", "sub": "<client_id>", "aud": "<token_url>",
     "iat": 1700000000, "exp": 1700000060, "jti": "<unique>"}

A bearer assertion *is* the grant (Google service accounts, DocuSign): the issuer is the
service account or integration, the subject the user acted for, and scopes go in a claim.
Every assertion is registered as a secret the moment it is signed.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
import typing as t

from tap_restoauth.auth.keys import load_private_key
from tap_restoauth.errors import ConfigError
from tap_restoauth.http import redaction

if t.TYPE_CHECKING:
    from tap_restoauth.auth.keys import PrivateKey

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"

_RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


@dataclasses.dataclass(frozen=True)
class Signer:
    """A private key, the algorithm it signs with, and the `kid` header to announce."""

    key: PrivateKey | bytes  # bytes: an HMAC secret (client_secret_jwt)
    algorithm: str
    key_id: str | None = None

    @classmethod
    def load(cls, private_key: str, key_id: str | None, algorithm: str | None, where: str) -> Signer:
        """Load `private_key` (PEM text or a file) and check `algorithm` fits it (inferred when None)."""
        # PyJWT and cryptography (~0.1 s of start-up) are imported by the logins that sign only.
        from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: PLC0415

        key = load_private_key(private_key, f"{where}.private_key")
        if isinstance(key, rsa.RSAPrivateKey):
            allowed: tuple[str, ...] = _RSA_ALGORITHMS
        else:
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            curve = _EC_ALGORITHMS.get(key.curve.name)
            if curve is None:
                raise ConfigError(f"{where}.private_key: EC curve {key.curve.name} is not supported")
            allowed = (curve,)
        chosen = (algorithm or allowed[0]).upper()
        if chosen not in allowed:
            raise ConfigError(
                f"{where}.signing_algorithm: {chosen} does not fit this key (use {', '.join(allowed)})"
            )
        return cls(key, chosen, key_id)

    @classmethod
    def hmac(cls, secret: str, algorithm: str | None, where: str) -> Signer:
        """HS256 (or HS384/HS512) with a shared secret, for client_secret_jwt."""
        chosen = (algorithm or "HS256").upper()
        if chosen not in {"HS256", "HS384", "HS512"}:
            raise ConfigError(
                f"{where}.signing_algorithm: client_secret_jwt signs with HS256, HS384 or HS512"
            )
        return cls(secret.encode(), chosen)

    def sign(self, claims: t.Mapping[str, t.Any]) -> str:
        import jwt  # noqa: PLC0415

        headers = {"kid": self.key_id} if self.key_id else None
        token = jwt.encode(dict(claims), self.key, algorithm=self.algorithm, headers=headers)
        redaction.register_token(token)  # one per token request: kept masked in bounded space
        return token


def client_assertion(signer: Signer, client_id: str, audience: str, lifetime: float) -> str:
    """An RFC 7523 section 3 client assertion: iss = sub = client_id, aud = the token endpoint."""
    now = int(time.time())
    return signer.sign(
        {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + int(lifetime),
            "jti": secrets.token_urlsafe(24),
        }
    )


def bearer_assertion(
    signer: Signer,
    *,
    issuer: str,
    audience: str,
    lifetime: float,
    subject: str | None = None,
    scope: str | None = None,
    extra: t.Mapping[str, t.Any] | None = None,
) -> str:
    """An RFC 7523 section 2.1 authorization grant."""
    now = int(time.time())
    claims: dict[str, t.Any] = {
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + int(lifetime),
        "jti": secrets.token_urlsafe(24),
    }
    if subject:
        claims["sub"] = subject
    if scope:
        claims["scope"] = scope
    claims.update(extra or {})
    return signer.sign(claims)
