"""GitHub REST issues, ``GET /repos/{owner}/{repo}/issues?state=all&since=<ISO>&per_page=2``,
and their comments, ``GET /repos/{owner}/{repo}/issues/{issue_number}/comments?since=<ISO>``.

Pages are linked by the ``Link`` header (RFC 8288)::

    Link: <https://api.github.com/repositories/1/issues?state=all&per_page=2&page=2>; rel="next",
          <https://api.github.com/repositories/1/issues?state=all&per_page=2&page=3>; rel="last"

``since`` keeps issues updated at or after the time; ``sort=updated&direction=asc`` orders
them. The response is a JSON array. The example keeps one comments bookmark for all
issues (``per_parent: false``). Requests need ``Accept: application/vnd.github+json``
(else 415 here) and a bearer token.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from urllib.parse import urlencode

from tests.api_zoo import Expected, ZooApi
from tests.request_server import Reply, Request

EXAMPLE = "examples/github.json"
OWNER, REPO = "octo-org", "hello-world"
UTC = dt.timezone.utc


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def issue(number: int, updated: dt.datetime, state: str = "open") -> dict[str, t.Any]:
    return {
        "id": 1000 + number,
        "number": number,
        "title": f"Issue {number}",
        "state": state,
        "user": {"login": f"user{number % 3}"},
        "updated_at": stamp(updated),
    }


def comment(number: int, index: int, updated: dt.datetime) -> dict[str, t.Any]:
    return {
        "id": number * 100 + index,
        "body": f"Comment {index} on {number}",
        "user": {"login": f"user{index}"},
        "updated_at": stamp(updated),
    }


class Api(ZooApi):
    def __init__(self) -> None:
        super().__init__()
        start = dt.datetime(2024, 2, 1, tzinfo=UTC)
        self.comments = {
            n: [comment(n, j, start + dt.timedelta(hours=5 * n - 2 + j)) for j in range(1, n % 3 + 1)]
            for n in range(1, 6)
        }
        self.issues = [
            issue(n, dt.datetime(2024, 2, 1, tzinfo=UTC) + dt.timedelta(hours=5 * n)) for n in range(1, 6)
        ]

    def overrides(self, run: int) -> dict[str, t.Any]:
        return {
            "api_url": self.url,
            "auth": {"token": self.token},
            "github_owner": OWNER,
            "github_repo": REPO,
        }

    def handle(self, request: Request) -> Reply:
        if not self.bearer_ok(request):
            return (
                401,
                {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
                {},
            )
        if request.headers.get("accept") != "application/vnd.github+json":
            return 415, {"message": "Unsupported 'Accept' header"}, {}
        prefix = f"/repos/{OWNER}/{REPO}/issues"
        if request.path == prefix:
            rows = sorted(self.issues, key=lambda i: i["updated_at"])
        elif request.path.startswith(prefix + "/") and request.path.endswith("/comments"):
            rows = self.comments.get(int(request.path.split("/")[5]), [])
        else:
            return 404, {"message": "Not Found"}, {}
        if "since" in request.query:
            since = dt.datetime.fromisoformat(request.query["since"].replace("Z", "+00:00"))
            rows = [
                i for i in rows if dt.datetime.fromisoformat(i["updated_at"].replace("Z", "+00:00")) >= since
            ]
        page, size = int(request.query.get("page", 1)), int(request.query.get("per_page", 30))
        links = []
        last = max(1, -(-len(rows) // size))
        query = {k: v for k, v in request.query.items() if k != "page"}
        if page < last:
            links.append(f'<{self.url}{request.path}?{urlencode({**query, "page": page + 1})}>; rel="next"')
            links.append(f'<{self.url}{request.path}?{urlencode({**query, "page": last})}>; rel="last"')
        headers = {"Link": ", ".join(links)} if links else {}
        return 200, rows[(page - 1) * size : page * size], headers

    def update(self) -> None:
        self.issues[0] = issue(1, dt.datetime(2024, 2, 3, tzinfo=UTC), state="closed")
        self.comments[1].append(comment(1, 2, dt.datetime(2024, 2, 2, 23, tzinfo=UTC)))
        self.issues.append(issue(6, dt.datetime(2024, 2, 4, tzinfo=UTC)))

    def expected(self, run: int) -> dict[str, Expected]:
        since = "2024-01-01T00:00:00Z" if run == 1 else "2024-02-02T01:00:00Z"
        rows = sorted((i for i in self.issues if i["updated_at"] >= since), key=lambda i: i["updated_at"])
        # Comments: one bookmark for all issues, the lowest of each issue's newest comment.
        comments_since = "2024-01-01T00:00:00Z" if run == 1 else "2024-02-01T04:00:00Z"
        comments = [
            {**c, "parent_number": i["number"]}
            for i in rows
            for c in self.comments.get(i["number"], [])
            if c["updated_at"] >= comments_since
        ]
        newest = [max(c["updated_at"] for c in group) for group in _by_issue(comments)]
        return {
            "issues": Expected(rows, rows[-1]["updated_at"]),
            "comments": Expected(comments, min(newest)),
        }


def _by_issue(comments: list[dict[str, t.Any]]) -> list[list[dict[str, t.Any]]]:
    groups: dict[int, list[dict[str, t.Any]]] = {}
    for c in comments:
        groups.setdefault(c["parent_number"], []).append(c)
    return list(groups.values())
