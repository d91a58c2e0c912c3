"""Local copies of real APIs: each module copies one provider's documented request and
response shape (paths, parameters, bodies, pagination, errors) for a few records.

Convention -- a provider is one module ``tests/api_zoo/<provider>.py`` with:

- ``EXAMPLE``: the config a user would copy, ``examples/<provider>.json``;
- ``Api``: a `ZooApi` (a local server) answering like the provider, rejecting what the
  real API rejects, with:
  - ``overrides(run)``: what the test puts into the example for run 1 and 2: ``api_url``,
    test credentials, and a fixed ``end_date`` where windows would otherwise end "now";
  - ``expected(run)``: per stream, the records the tap must emit in that run, in order,
    and the final bookmark (`Expected`);
  - ``update()``: new and changed records, arriving between run 1 and the incremental run 2.

`PROVIDERS` lists the modules tests/test_api_zoo.py runs.
"""

from __future__ import annotations

import dataclasses
import secrets
import typing as t

from tests.request_server import Reply, Request, RequestServer

PROVIDERS = (
    "zendesk",
    "reporting",
    "hubspot",
    "stripe",
    "github",
    "shopify",
    "msgraph",
    "google",
    "salesforce",
    "jira",
    "amazon_ads",
    "salesforce_bulk",
    "shopify_graphql",
    "github_graphql",
)


@dataclasses.dataclass
class Expected:
    """What one stream must produce in one run: records in order, and the final bookmark.

    `bookmark` is the stream's `replication_key_value`, or for a partitioned stream a
    mapping of each partition's JSON key (``{"account_id": "a1"}`` dumped) to its value.
    """

    records: list[dict[str, t.Any]]
    bookmark: t.Any = None


class ZooApi(RequestServer):
    """A provider's API: subclasses implement `handle`; every request is recorded."""

    def __init__(self) -> None:
        super().__init__({"*": self.handle})
        self.token = secrets.token_urlsafe(16)  # made per test run, never committed

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def bearer_ok(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def overrides(self, run: int) -> dict[str, t.Any]:
        return {"api_url": self.url, "auth": {"token": self.token}}

    def expected(self, run: int) -> dict[str, Expected]:
        raise NotImplementedError

    def update(self) -> None:
        raise NotImplementedError
