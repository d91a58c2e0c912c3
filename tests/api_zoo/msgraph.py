"""Microsoft Graph mail: ``GET /v1.0/users/{mailbox}/messages?$filter=lastModifiedDateTime ge
2024-01-01T00:00:00Z&$orderby=lastModifiedDateTime&$top=2&$select=...`` with an app token
from ``POST /{tenant}/oauth2/v2.0/token`` (client credentials, scope
``https://graph.microsoft.com/.default``, secret in the form).

Response::

    {"@odata.context": "...", "value": [...],
     "@odata.nextLink": "https://graph.microsoft.com/v1.0/users/.../messages?...&$skip=2"}

The next link is absolute (here: this server's origin) and carries every parameter.
"""

from __future__ import annotations

import secrets
import typing as t
from urllib.parse import parse_qs, quote, urlencode

from tests.api_zoo import Expected, ZooApi
from tests.request_server import Reply, Request

EXAMPLE = "examples/msgraph.json"
TENANT = "contoso.onmicrosoft.com"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
MAILBOX = "ops@contoso.com"


def message(n: int, modified: str) -> dict[str, t.Any]:
    return {
        "@odata.etag": f'W/"CQAAABYAAA{n}"',
        "id": f"AAMkAGI2TG93AAA={n}",
        "subject": f"Status report {n}",
        "lastModifiedDateTime": modified,
        "isRead": n % 2 == 0,
    }


class Api(ZooApi):
    def __init__(self) -> None:
        super().__init__()
        self.secret = secrets.token_urlsafe(16)
        self.messages = [message(n, f"2024-01-{n + 1:02d}T08:30:00Z") for n in range(1, 6)]

    def overrides(self, run: int) -> dict[str, t.Any]:
        return {
            "api_url": self.url,
            "auth": {"token_url": f"{self.url}/{TENANT}/oauth2/v2.0/token", "client_secret": self.secret},
        }

    def handle(self, request: Request) -> Reply:
        if request.path == f"/{TENANT}/oauth2/v2.0/token":
            return self._token(request)
        if not self.bearer_ok(request):
            return (
                401,
                {"error": {"code": "InvalidAuthenticationToken", "message": "Access token is empty."}},
                {},
            )
        if request.path != f"/v1.0/users/{MAILBOX}/messages":
            return 404, {"error": {"code": "ResourceNotFound", "message": "Resource not found"}}, {}
        rows = sorted(self.messages, key=lambda m: m["lastModifiedDateTime"])
        flt = request.query.get("$filter", "")
        if flt:
            field, op, value = flt.split(" ")
            if field != "lastModifiedDateTime" or op != "ge" or not value.endswith("Z"):
                return 400, {"error": {"code": "ErrorInvalidUrlQueryFilter", "message": flt}}, {}
            rows = [m for m in rows if m["lastModifiedDateTime"] >= value]
        top, skip = int(request.query.get("$top", 10)), int(request.query.get("$skip", 0))
        body: dict[str, t.Any] = {
            "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#users('{quote(MAILBOX)}')/messages",
            "value": rows[skip : skip + top],
        }
        if skip + top < len(rows):
            query = {**request.query, "$skip": skip + top}
            body["@odata.nextLink"] = f"{self.url}{request.raw_path}?{urlencode(query)}"
        return 200, body, {}

    def _token(self, request: Request) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.raw_body.decode()).items()}
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, self.secret):
            return (
                401,
                {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret."},
                {},
            )
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("scope") != "https://graph.microsoft.com/.default"
        ):
            return 400, {"error": "invalid_request", "error_description": "AADSTS90014: scope"}, {}
        return (
            200,
            {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": self.token},
            {},
        )

    def update(self) -> None:
        self.messages[1] = message(2, "2024-01-07T09:00:00Z")
        self.messages.append(message(6, "2024-01-08T10:00:00Z"))

    def expected(self, run: int) -> dict[str, Expected]:
        since = "2024-01-01T00:00:00Z" if run == 1 else "2024-01-06T08:30:00Z"
        rows = sorted(
            (m for m in self.messages if m["lastModifiedDateTime"] >= since),
            key=lambda m: m["lastModifiedDateTime"],
        )
        return {"messages": Expected(rows, rows[-1]["lastModifiedDateTime"])}
