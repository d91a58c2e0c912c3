"""The `auth` setting guessed from ``components.securitySchemes``.

- oauth2 ``clientCredentials`` flow → ``oauth2_client_credentials`` with its ``tokenUrl``
  and the scopes the kept operations need;
- oauth2 ``authorizationCode`` → ``oauth2_refresh_token`` with its ``tokenUrl``;
- http ``basic`` / ``bearer`` → ``basic`` / ``bearer``;
- ``apiKey`` in a header or the query → ``api_key`` with its name.

Secrets are ``sm://PROJECT/SECRET`` placeholders to edit, e.g.::

    {"type": "oauth2_client_credentials", "token_url": "https://api.example.com/oauth2/token",
     "client_id": "CHANGE_ME", "client_secret": "sm://PROJECT/example-client-secret",
     "scopes": ["read"]}
"""

from __future__ import annotations

import typing as t
from collections import Counter
from collections.abc import Mapping
from urllib.parse import urljoin

from tap_restoauth.openapi.document import Document, Located
from tap_restoauth.openapi.naming import snake
from tap_restoauth.openapi.operations import Operation

CHANGE_ME = "CHANGE_ME"


def detect(document: Document, kept: list[Operation], api_url: str) -> tuple[dict[str, t.Any] | None, str]:
    """The auth setting and the reason; None when the document declares nothing usable."""
    components = document.root.get("components")
    schemes = components.get("securitySchemes") if isinstance(components, Mapping) else None
    if not isinstance(schemes, Mapping) or not schemes:
        return None, "auth: none (no securitySchemes)"
    needs: Counter[str] = Counter()
    scopes: dict[str, set[str]] = {}
    for operation in kept:
        for requirement in _requirements(document, operation):
            for name, wanted in requirement.items():
                needs[str(name)] += 1
                scopes.setdefault(str(name), set()).update(str(s) for s in wanted or [] if isinstance(s, str))
    rank = {name: _rank(schemes.get(name)) for name in map(str, schemes)}
    order = sorted(needs, key=lambda name: (-needs[name], rank.get(name, len(PREFERENCE))))
    order += [str(name) for name in schemes if name not in needs]
    skipped = []
    for name in order:
        scheme = document.resolve(Located(schemes.get(name), document.location)).node
        if not isinstance(scheme, Mapping):
            continue
        built = _auth(name, scheme, sorted(scopes.get(name, set())), api_url)
        if built is not None:
            return built, f"auth {built['type']} from the security scheme {name!r}"
        skipped.append(f"{name} ({scheme.get('type')})")
    return None, "auth: none usable (unsupported schemes: " + ", ".join(skipped) + ")"


PREFERENCE = ("oauth2", "bearer", "apiKey", "basic")  # on a tie, the first usable of these


def _rank(scheme: t.Any) -> int:
    if not isinstance(scheme, Mapping):
        return len(PREFERENCE)
    kind = str(scheme.get("scheme", "")).lower() if scheme.get("type") == "http" else scheme.get("type")
    return PREFERENCE.index(kind) if kind in PREFERENCE else len(PREFERENCE)


def _requirements(document: Document, operation: Operation) -> list[Mapping[str, t.Any]]:
    security = operation.node.get("security", document.root.get("security"))
    return [item for item in security if isinstance(item, Mapping)] if isinstance(security, list) else []


def _secret(name: str, what: str) -> str:
    return f"sm://PROJECT/{snake(name).replace('_', '-') or 'api'}-{what}"


def _auth(name: str, scheme: Mapping[str, t.Any], scopes: list[str], api_url: str) -> dict[str, t.Any] | None:
    kind = scheme.get("type")
    if kind == "oauth2":
        flows = scheme.get("flows")
        flows = flows if isinstance(flows, Mapping) else {}
        for flow_name, auth_type in (
            ("clientCredentials", "oauth2_client_credentials"),
            ("authorizationCode", "oauth2_refresh_token"),
        ):
            flow = flows.get(flow_name)
            if isinstance(flow, Mapping) and isinstance(flow.get("tokenUrl"), str):
                auth: dict[str, t.Any] = {
                    "type": auth_type,
                    "token_url": urljoin(api_url + "/", flow["tokenUrl"]),
                    "client_id": CHANGE_ME,
                    "client_secret": _secret(name, "client-secret"),
                }
                if auth_type == "oauth2_refresh_token":
                    auth["refresh_token"] = _secret(name, "refresh-token")
                if scopes:
                    auth["scopes"] = scopes
                return auth
        return None
    if kind == "http":
        scheme_name = str(scheme.get("scheme", "")).lower()
        if scheme_name == "basic":
            return {"type": "basic", "username": CHANGE_ME, "password": _secret(name, "password")}
        if scheme_name == "bearer":
            return {"type": "bearer", "token": _secret(name, "token")}
        return None
    if kind == "apiKey" and scheme.get("in") in {"header", "query"} and isinstance(scheme.get("name"), str):
        return {
            "type": "api_key",
            "name": scheme["name"],
            "location": scheme["in"],
            "value": _secret(name, "key"),
        }
    return None
