"""One API request as the HTTP client sends it: what `ApiClient.get_json` and `open` take.

    ApiRequest(stream="users", method="GET", url="https://api.example.com/v1/users",
               params={"page": 2}, headers={"Accept": "application/json"}, rules=stream_rules)

`fetch/endpoint.py` builds one per page from its `PageRequest` (the page to ask for, without
the stream's response rules or the decoder's `Accept`).
"""

from __future__ import annotations

import dataclasses
import typing as t

from tap_restoauth.http.rules import NO_RULES, ResponseRules


@dataclasses.dataclass(frozen=True)
class ApiRequest:
    """The stream asking (for log lines and errors), the request, and the rules for its answer."""

    stream: str
    method: str
    url: str
    params: t.Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    body: t.Any = None
    headers: t.Mapping[str, str] | None = None  # the stream's, merged over the top-level ones
    rules: ResponseRules = NO_RULES
    accept: str | None = None  # the Accept header a streamed format asks for
    # False for a file on another origin (a presigned storage URL): nothing of the tap's is
    # sent on any hop, and only https (or loopback) URLs are fetched.
    credentials: bool = True
