"""The three APIs of the worked examples (docs/worked-examples.md), on one local server.

- ``/crm``: OAuth 2.0 client credentials (HTTP Basic client auth), cursor pagination
  ``{"results": [...], "paging": {"next": {"after": "100"}}}``, filter ``updatedAfter``.
- ``/payroll``: HTTP Basic with the company id as user and an API token as password, page
  numbers ``?page=&page_size=`` with ``{"employees": [...], "has_more": true}``.
- ``/tasks``: refresh-token grant that rotates the refresh token on every use, Link-header
  pagination (at most 5 records a page), tasks below each project (``/projects/{id}/tasks``),
  filter ``since``.

Run them for the worked examples (writes each example's config, pointed at this server):

    python -m tests.example_apis --port 8766 --configs output/examples
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import re
import secrets
import threading
import typing as t
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import yaml

from tap_restoauth.sandbox import JsonHandler, LocalServer

CRM_CLIENT = ("reporting-tap", "crm-client-secret-value")
PAYROLL_LOGIN = ("48213", "payroll-api-token-value")
TASKS_CLIENT = ("tasks-export", "tasks-client-secret-value")
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
# The pages whose `<!-- example: NAME -->` blocks are checked (tests/test_docs.py).
ROOT = Path(__file__).resolve().parent.parent
PAGES = (ROOT / "README.md", ROOT / "docs" / "configuration.md", ROOT / "docs" / "worked-examples.md")
# Which local API each worked example (docs/worked-examples.md) runs against.
EXAMPLES = {"oauth-cursor": "crm", "basic-page-numbers": "payroll", "refresh-link-header": "tasks"}


def _iso(hours: int) -> str:
    return (EPOCH + dt.timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


class ExampleApis(LocalServer):
    def __init__(self, port: int = 0, *, listen: bool = True) -> None:
        super().__init__(_Handler, port, listen=listen)
        self.lock = threading.Lock()
        self.access_tokens: set[str] = set()
        self.refresh_token = secrets.token_urlsafe(16)  # the one live refresh token
        self.data: dict[str, list[dict[str, t.Any]]] = {
            "contacts": [
                {"id": str(n), "email": f"c{n}@example.com", "updatedAt": _iso(n)} for n in range(250)
            ],
            "deals": [{"id": n, "amount": n * 10} for n in range(30)],
            "employees": [{"id": n, "name": f"Employee {n}"} for n in range(230)],
            "payslips": [{"id": n, "issued_at": _iso(24 * n)[:10]} for n in range(40)],
            "projects": [{"id": n, "name": f"Project {n}"} for n in range(1, 8)],
        }
        self.tasks = {
            project["id"]: [
                {"id": project["id"] * 100 + k, "updated_at": _iso(k)} for k in range(project["id"] * 3)
            ]
            for project in self.data["projects"]
        }

    def counts(self) -> dict[str, int]:
        counts = {name: len(rows) for name, rows in self.data.items()}
        counts["tasks"] = sum(len(rows) for rows in self.tasks.values())
        return counts


class _Handler(JsonHandler):
    server: ExampleApis

    def _basic(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user, password

    def _issue(self, **extra: str) -> None:
        token = secrets.token_urlsafe(16)
        with self.server.lock:
            self.server.access_tokens.add(token)
        self.send_json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600, **extra})

    def do_POST(self) -> None:
        form = dict(parse_qsl(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()))
        path = urlsplit(self.path).path
        if path == "/crm/oauth2/token" and form.get("grant_type") == "client_credentials":
            if self._basic() != CRM_CLIENT:
                self.send_json(401, {"error": "invalid_client"})
                return
            self._issue()
        elif path == "/tasks/oauth/token" and form.get("grant_type") == "refresh_token":
            if self._basic() != TASKS_CLIENT:
                self.send_json(401, {"error": "invalid_client"})
                return
            with self.server.lock:
                if form.get("refresh_token") != self.server.refresh_token:
                    self.send_json(400, {"error": "invalid_grant"})
                    return
                self.server.refresh_token = secrets.token_urlsafe(16)  # rotate; the old one is dead
                rotated = self.server.refresh_token
            self._issue(refresh_token=rotated)
        else:
            self.send_json(400, {"error": "unsupported_grant_type"})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        api, _, rest = parts.path.lstrip("/").partition("/")
        if api == "payroll":
            if self._basic() != PAYROLL_LOGIN:
                self.send_json(401, {"error": "unauthorized"})
                return
            self._payroll(rest, query)
            return
        header = self.headers.get("Authorization", "")
        if header[7:] not in self.server.access_tokens:
            self.send_json(401, {"error": "invalid_token"})
            return
        if api == "crm":
            self._crm(rest, query)
        elif api == "tasks":
            self._tasks(parts.path, rest, query)
        else:
            self.send_json(404, {"error": "not found"})

    def _crm(self, rest: str, query: dict[str, str]) -> None:
        name = rest.removeprefix("v3/")
        rows = self.server.data.get(name) if name in ("contacts", "deals") else None
        if rows is None:
            self.send_json(404, {"error": "not found"})
            return
        if "updatedAfter" in query:
            rows = [r for r in rows if r["updatedAt"] >= query["updatedAfter"].replace("+00:00", "Z")]
        start, limit = int(query.get("after", 0)), int(query.get("limit", 10))
        body: dict[str, t.Any] = {"results": rows[start : start + limit]}
        if start + limit < len(rows):
            body["paging"] = {"next": {"after": str(start + limit)}}
        self.send_json(200, body)

    def _payroll(self, rest: str, query: dict[str, str]) -> None:
        name = rest.removeprefix("v1/")
        if name not in ("employees", "payslips"):
            self.send_json(404, {"error": "not found"})
            return
        rows = self.server.data[name]
        if "issued_since" in query:
            rows = [r for r in rows if r["issued_at"] >= query["issued_since"]]
        page, size = int(query.get("page", 1)), int(query.get("page_size", 20))
        chunk = rows[(page - 1) * size : page * size]
        self.send_json(200, {name: chunk, "has_more": page * size < len(rows)})

    def _tasks(self, path: str, rest: str, query: dict[str, str]) -> None:
        segments = rest.split("/")
        if segments == ["projects"]:
            rows = self.server.data["projects"]
        elif len(segments) == 3 and segments[0] == "projects" and segments[2] == "tasks":
            rows = self.server.tasks.get(int(segments[1]), [])
            if "since" in query:
                rows = [r for r in rows if r["updated_at"] >= query["since"].replace("+00:00", "Z")]
        else:
            self.send_json(404, {"error": "not found"})
            return
        page, size = int(query.get("page", 1)), min(int(query.get("per_page", 30)), 5)  # the server's cap
        headers = {}
        if page * size < len(rows):
            following = urlencode({**query, "page": page + 1})
            headers["Link"] = f'<{self.server.url}{path}?{following}>; rel="next"'
        self.send_json(200, rows[(page - 1) * size : page * size], headers)


def readme_examples(text: str | None = None) -> dict[str, dict[str, t.Any]]:
    """Code blocks placed right after `<!-- example: NAME -->` in the README and docs (JSON or YAML)."""
    text = "\n".join(page.read_text() for page in PAGES) if text is None else text
    found = re.findall(r"<!-- example: ([\w-]+) -->\s*```(?:json|yaml)\n(.*?)```", text, re.S)
    return {name: yaml.safe_load(body) for name, body in found}


def local_config(name: str, server: ExampleApis, token_file: Path) -> dict[str, t.Any]:
    """The worked example `name` as printed, pointed at `server`.

    Only the hosts change, and the sm:// references become the values they would resolve to;
    the refresh token goes through `token_file`, where rotated tokens are written back.
    """
    api = EXAMPLES[name]
    secret_values = {
        "sm://my-project/crm-client-secret": CRM_CLIENT[1],
        "sm://my-project/payroll-api-token": PAYROLL_LOGIN[1],
        "sm://my-project/tasks-client-secret": TASKS_CLIENT[1],
    }
    config = readme_examples()[name]["config"]
    config["api_url"] = f"{server.url}/{api}"
    auth = config["auth"]
    if "token_url" in auth:
        auth["token_url"] = f"{server.url}/{api}/{urlsplit(auth['token_url']).path.lstrip('/')}"
    for key, value in auth.items():
        auth[key] = secret_values.get(value, value) if isinstance(value, str) else value
    if auth["type"] == "oauth2_refresh_token":
        token_file.write_text(server.refresh_token + "\n")
        token_file.chmod(0o600)
        auth["refresh_token"] = server.refresh_token
        auth["refresh_token_file"] = str(token_file)  # the file wins once it holds a token
    return config


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--configs", type=Path, default=Path("output/examples"), help="folder for NAME.json")
    args = parser.parse_args()
    server = ExampleApis(args.port, listen=False)  # accepts once the configs are written
    args.configs.mkdir(parents=True, exist_ok=True)
    for name in EXAMPLES:
        path = args.configs / f"{name}.json"
        path.write_text(json.dumps(local_config(name, server, args.configs / f"{name}.token"), indent=2))
        path.chmod(0o600)
        print(f"{name}: .venv/bin/tap-restoauth --config {path}", flush=True)
    server.server_activate()
    print(f"serving the examples' APIs on {server.url} (Ctrl-C stops)", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
