"""Jira Cloud issue search: ``POST /rest/api/3/search`` with ``startAt``/``maxResults`` in the
JSON body, basic auth ``email:api_token``.

Request body: ``{"jql": "project = OPS ORDER BY key ASC", "startAt": 0, "maxResults": 2,
"fields": ["summary", "status"]}``. Response::

    {"expand": "names,schema", "startAt": 0, "maxResults": 2, "total": 5,
     "issues": [{"id": "10001", "key": "OPS-1", "self": ".../rest/api/3/issue/10001",
                 "fields": {"summary": "...", "status": {"name": "To Do"}}}]}

``maxResults`` over 100 is capped to 100. The stream is full-table (the update time is
nested in ``fields``), so the second run reads every issue again, changes included.
"""

from __future__ import annotations

import base64
import typing as t

from tests.api_zoo import Expected, ZooApi
from tests.request_server import Reply, Request

EXAMPLE = "examples/jira.json"
EMAIL = "bot@example.com"


def issue(n: int, status: str = "To Do") -> dict[str, t.Any]:
    return {
        "id": str(10000 + n),
        "key": f"OPS-{n}",
        "self": f"https://your-domain.atlassian.net/rest/api/3/issue/{10000 + n}",
        "fields": {"summary": f"Fix thing {n}", "status": {"name": status}},
    }


class Api(ZooApi):
    def __init__(self) -> None:
        super().__init__()
        self.issues = [issue(n) for n in range(1, 6)]

    def overrides(self, run: int) -> dict[str, t.Any]:
        return {"api_url": self.url, "auth": {"username": EMAIL, "password": self.token}}

    def handle(self, request: Request) -> Reply:
        expected = "Basic " + base64.b64encode(f"{EMAIL}:{self.token}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return 401, {"errorMessages": ["You are not authenticated."], "errors": {}}, {}
        if request.path != "/rest/api/3/search" or request.method != "POST":
            return 404, {"errorMessages": ["Not found"], "errors": {}}, {}
        body = request.body or {}
        if body.get("jql") != "project = OPS ORDER BY key ASC":
            return 400, {"errorMessages": ["Error in the JQL Query"], "errors": {}}, {}
        start, size = int(body.get("startAt", 0)), min(int(body.get("maxResults", 50)), 100)
        page = self.issues[start : start + size]
        return (
            200,
            {
                "expand": "names,schema",
                "startAt": start,
                "maxResults": size,
                "total": len(self.issues),
                "issues": page,
            },
            {},
        )

    def update(self) -> None:
        self.issues[1] = issue(2, "Done")
        self.issues.append(issue(6))

    def expected(self, run: int) -> dict[str, Expected]:
        return {"issues": Expected(list(self.issues), None)}
