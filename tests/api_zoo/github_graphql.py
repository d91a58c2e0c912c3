"""GitHub GraphQL API: an organization's repositories, and each repository's issues with a
nested connection (labels), with ``rateLimit { remaining resetAt }`` in every query.

``POST /graphql`` (bearer token) with the repositories query::

    query($org:String!,$first:Int!,$after:String){ organization(login:$org){
      repositories(first:$first, after:$after, orderBy:{field:NAME, direction:ASC}){
        pageInfo{hasNextPage endCursor} nodes{name updatedAt} } } rateLimit{remaining resetAt} }

and the issues query (one per repository: ``$repo`` is the parent's ``name``)::

    query($org:String!,$repo:String!,$first:Int!,$after:String,$since:DateTime){
      repository(owner:$org, name:$repo){ issues(first:$first, after:$after,
        filterBy:{since:$since}, orderBy:{field:UPDATED_AT, direction:ASC}){
          pageInfo{hasNextPage endCursor}
          nodes{number title updatedAt labels(first:5){nodes{name}}} } } rateLimit{remaining resetAt} }

answering ``{"data": {"repository": {"issues": {"pageInfo": ..., "nodes": [...]}},
"rateLimit": {"remaining": 4990, "resetAt": "2026-12-06T07:00:00Z"}}}``. `remaining` drops by
one a query from `budget`; at 0 the API answers ``{"errors": [{"type": "RATE_LIMITED",
"message": "API rate limit exceeded for user ID 1."}]}``.

Config: examples/github_graphql.json.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import typing as t
from pathlib import Path

from tests.api_zoo import Expected, ZooApi
from tests.request_server import Reply, Request

EXAMPLE = "examples/github_graphql.json"
ROOT = Path(__file__).resolve().parents[2]
ORG = "octo-org"
UTC = dt.timezone.utc


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def issue(repo: int, n: int, updated: dt.datetime) -> dict[str, t.Any]:
    return {
        "number": n,
        "title": f"Issue {n} of repo {repo}",
        "updatedAt": stamp(updated),
        "labels": {"nodes": [{"name": "bug"}] + ([{"name": "good first issue"}] if n % 2 else [])},
    }


def cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def offset(after: t.Any) -> int:
    return int(base64.b64decode(after).decode().rsplit(":", 1)[1]) if after else 0


class Api(ZooApi):
    def __init__(self, budget: int = 5000) -> None:
        super().__init__()
        base = dt.datetime(2024, 1, 2, tzinfo=UTC)
        self.repositories = [{"name": f"repo-{r}", "updatedAt": stamp(base)} for r in range(1, 4)]
        self.issues = {
            f"repo-{r}": [issue(r, n, base + dt.timedelta(days=n, hours=r)) for n in range(1, 2 + r)]
            for r in range(1, 4)
        }
        self.remaining = budget
        self.reset_in = dt.timedelta(hours=1)
        self.lock = threading.Lock()
        self.before: dict[str, str] = {}
        self.partial_error = False  # issues answers carry an error next to their data

    def overrides(self, run: int) -> dict[str, t.Any]:
        example = json.loads((ROOT / EXAMPLE).read_text())
        for stream in example["streams"]:
            stream["graphql"]["variables"]["first"] = 2
        return {"api_url": self.url, "auth": {"token": self.token}, "streams": example["streams"]}

    def rate_limit(self) -> dict[str, t.Any]:
        resets = dt.datetime.now(UTC) + self.reset_in
        return {"remaining": self.remaining, "resetAt": stamp(resets)}

    def handle(self, request: Request) -> Reply:
        if not self.bearer_ok(request):
            return 401, {"message": "Bad credentials"}, {}
        if request.method != "POST" or request.path != "/graphql":
            return 404, {"message": "Not Found"}, {}
        body = request.body if isinstance(request.body, dict) else {}
        query, variables = str(body.get("query", "")), body.get("variables") or {}
        with self.lock:
            if self.remaining <= 0:
                return 200, {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}]}, {}
            self.remaining -= 1
        if variables.get("org") != ORG:
            return 200, {"data": {"organization": None}, "errors": [{"message": "Could not resolve"}]}, {}
        first = int(variables.get("first", 0))
        if not 0 < first <= 100:
            return 200, {"errors": [{"type": "MISSING_PAGINATION_BOUNDARIES", "message": "first"}]}, {}
        start = offset(variables.get("after"))
        if "organization(login:$org)" in query and "repositories(" in query:
            nodes = self.repositories
            data: dict[str, t.Any] = {"organization": {"repositories": self.connection(nodes, start, first)}}
        elif "repository(owner:$org, name:$repo)" in query and "issues(" in query:
            issues = self.issues.get(str(variables.get("repo")))
            if issues is None:
                return (
                    200,
                    {"data": {"repository": None}, "errors": [{"type": "NOT_FOUND", "message": "repo"}]},
                    {},
                )
            since = str(variables.get("since") or "")
            nodes = sorted((i for i in issues if i["updatedAt"] >= since), key=lambda i: i["updatedAt"])
            data = {"repository": {"issues": self.connection(nodes, start, first)}}
        else:
            return 200, {"errors": [{"message": "Parse error"}]}, {}
        if "rateLimit{remaining resetAt}" in query:
            data["rateLimit"] = self.rate_limit()
        if self.partial_error and "issues(" in query:
            error = {
                "type": "FORBIDDEN",
                "message": "Resource not accessible by integration",
                "path": ["labels"],
            }
            return 200, {"data": data, "errors": [error]}, {}
        return 200, {"data": data}, {}

    @staticmethod
    def connection(nodes: list[dict[str, t.Any]], start: int, first: int) -> dict[str, t.Any]:
        page = nodes[start : start + first]
        return {
            "pageInfo": {"hasNextPage": start + first < len(nodes), "endCursor": cursor(start + len(page))},
            "nodes": page,
        }

    def update(self) -> None:
        self.before = {name: max(i["updatedAt"] for i in rows) for name, rows in self.issues.items()}
        self.issues["repo-2"].append(issue(2, 9, dt.datetime(2024, 3, 1, tzinfo=UTC)))

    def expected(self, run: int) -> dict[str, Expected]:
        issues, marks = [], {}
        for repo in self.repositories:
            name = repo["name"]
            rows = sorted(self.issues[name], key=lambda i: i["updatedAt"])
            if run == 2:  # `since` is the bookmark, inclusive: the last issue again, and what is new
                rows = [row for row in rows if row["updatedAt"] >= self.before[name]]
            marks[json.dumps({"repo": name})] = rows[-1]["updatedAt"]
            issues += [{**row, "repo": name} for row in rows]
        return {"repositories": Expected(list(self.repositories)), "issues": Expected(issues, marks)}
