"""OAuth 2.0 grants beyond client credentials and refresh tokens.

Both reuse the client-credentials token lifecycle (one token per run, early renewal,
renewal on 401); only the grant's form fields differ.
"""

from __future__ import annotations

import dataclasses
import typing as t
from collections.abc import Mapping

from tap_restoauth.auth.jwt import JWT_BEARER_GRANT, bearer_assertion
from tap_restoauth.auth.methods import OAuth2ClientCredentials
from tap_restoauth.errors import ConfigError
from tap_restoauth.settings import OAuth2JwtBearerOptions, OAuth2PasswordOptions


@dataclasses.dataclass
class OAuth2Password(OAuth2PasswordOptions, OAuth2ClientCredentials):
    """Resource-owner password grant (RFC 6749 section 4.3), for APIs without another way.

    ``auth: {type: oauth2_password, token_url: ..., client_id: ..., client_secret: ...,
    username: api-user@example.com, password: sm://proj/api-password}``

    The form is ``grant_type=password&username=...&password=...`` plus the client's own
    authentication (`client_auth_method`; `none` for public clients).
    """

    grant_type: t.ClassVar[str] = "password"
    secret_fields: t.ClassVar[tuple[str, ...]] = ("client_secret", "password")
    error_hints: t.ClassVar[Mapping[str, str]] = {
        "invalid_grant": "check auth.username and auth.password (Salesforce: the password followed by "
        "the user's security token)"
    }

    def grant_fields(self) -> dict[str, str]:
        return {"grant_type": self.grant_type, "username": self.username, "password": self.password}


@dataclasses.dataclass
class OAuth2JwtBearer(OAuth2JwtBearerOptions, OAuth2ClientCredentials):
    """JWT bearer grant (RFC 7523 section 2.1): a signed assertion is the grant.

    Google service account::

        auth: {type: oauth2_jwt_bearer, token_url: https://oauth2.googleapis.com/token,
               issuer: etl@proj.iam.gserviceaccount.com, private_key: sm://proj/sa-key,
               private_key_id: 1a2b3c, scopes: [https://www.googleapis.com/auth/drive.readonly]}

    sends ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`` with
    the claims ``{"iss": issuer, "sub": subject, "aud": token_url, "scope": "...",
    "iat": ..., "exp": ..., "jti": ...}``. DocuSign: `issuer` is the integration key,
    `subject` the user id, `assertion_audience: account-d.docusign.com`.
    """

    grant_type: t.ClassVar[str] = JWT_BEARER_GRANT
    scopes_in_form: t.ClassVar[bool] = False  # Google and DocuSign read the `scope` claim
    error_hints: t.ClassVar[Mapping[str, str]] = {
        "invalid_grant": "the assertion was refused: check auth.issuer, auth.subject, "
        "auth.assertion_audience, auth.private_key and private_key_id, and this machine's clock",
        "invalid_scope": "check auth.scopes (sent in the assertion's scope claim)",
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (self.issuer or self.client_id):
            raise ConfigError("auth.issuer is required (the service account or integration key)")
        if not self.private_key:
            raise ConfigError("auth.private_key is required (PEM text, a PEM file path or sm://)")
        self.signer  # noqa: B018 - load and check the key before any request

    def grant_fields(self) -> dict[str, str]:
        assertion = bearer_assertion(
            self.signer,
            issuer=str(self.issuer or self.client_id),
            subject=self.subject,
            audience=self.assertion_audience or self.token_url,
            scope=" ".join(self.scopes) or None,
            lifetime=self.assertion_lifetime_seconds,
            extra=self.assertion_claims,
        )
        return {"grant_type": self.grant_type, "assertion": assertion}
