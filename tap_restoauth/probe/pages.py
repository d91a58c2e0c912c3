"""Ways to the second page, read from the first, most telling first:

- ``Link: <...>; rel="next"`` → ``link_header``;
- a field holding a URL (``next``, ``next_page``, ``@odata.nextLink``, ``nextRecordsUrl``)
  → ``next_url``;
- a cursor field (``next_cursor``, ``nextPageToken``, ``paging.next.after``, a bare
  ``next``) → ``cursor`` sent back as the parameter it is named after;
- ``has_more`` with record ids → Stripe-style ``starting_after`` the last id;
- ``total`` with ``offset``/``startAt`` → ``offset``;
- ``page``/``total_pages``/``has_more`` → ``page_number``.

Each way is a `Candidate` holding the `pagination` setting and the request for page 2;
the probe keeps the first whose page 2 brings records not seen on page 1.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t
from collections.abc import Mapping
from urllib.parse import urljoin

from requests.utils import parse_header_links

from tap_restoauth.probe.page import Records, field_path, walk

_CURSOR = re.compile(
    r"^(next_?cursor|next_?page_?token|next_?token|cursor|after|continuation(_?token)?|next)$", re.IGNORECASE
)
_URL_NAME = re.compile(r"next", re.IGNORECASE)
_NEXT_FIELD = re.compile(
    r"^(next|next_?page(_?url)?|next_?url|next_?link|@odata\.nextlink|next_?records_?url)$", re.IGNORECASE
)
_PARAM_FOR = {"nextpagetoken": "pageToken", "next_page_token": "page_token", "nexttoken": "nextToken"}


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    url: str
    params: Mapping[str, t.Any]
    body: t.Any = None


@dataclasses.dataclass(frozen=True)
class Candidate:
    kind: str
    setting: dict[str, t.Any]
    next_request: Request | None  # None: page 1 shows there is no page 2 to check it with
    evidence: str


@dataclasses.dataclass(frozen=True)
class FirstPage:
    """Page 1: how it was asked, where it came from, what it held."""

    request: Request
    url: str
    headers: Mapping[str, str]
    body: t.Any
    records: Records
    key: list[str]


def candidates(page: FirstPage) -> list[Candidate]:
    request, url, headers, body, records, key = (
        page.request,
        page.url,
        page.headers,
        page.body,
        page.records,
        page.key,
    )
    found: list[Candidate] = []
    link = _next_link(headers.get("Link", ""))
    if link:
        target = urljoin(url, link)
        found.append(
            Candidate(
                "link_header",
                {"type": "link_header"},
                Request(request.method, target, {}, request.body),
                f"pagination link_header: a Link rel=next to {_short(target)}",
            )
        )
    fields = list(walk(body))
    for keys, value in fields:
        if (
            isinstance(value, str)
            and _URL_NAME.search(keys[-1])
            and (value.startswith(("http://", "https://", "/")))
        ):
            path = field_path(keys)
            target = urljoin(url, value)
            found.append(
                Candidate(
                    "next_url",
                    {"type": "next_url", "next_url_path": path},
                    Request(request.method, target, {}, request.body),
                    f"pagination next_url {path}: a URL, {_short(target)}",
                )
            )
    for keys, value in fields:
        if (
            isinstance(value, (str, int))
            and not isinstance(value, bool)
            and value != ""
            and _CURSOR.match(keys[-1])
        ):
            if isinstance(value, str) and value.startswith(("http://", "https://", "/")):
                continue
            path = field_path(keys)
            for param in _cursor_params(keys):
                found.append(
                    _cursor(
                        request,
                        param,
                        value,
                        {"cursor_path": path},
                        f"pagination cursor {path} sent as {param}",
                    )
                )
    more = next(
        (field_path(k) for k, v in fields if v is True and re.match(r"^has_?more$", k[-1], re.I)), None
    )
    if more and key and records.records:
        last = records.records[-1].get(key[0])
        records_at = field_path(records.keys) if records.keys else "$"
        setting = {"cursor_path": f"{records_at}[-1].{key[0]}", "has_more_path": more}
        found.append(
            _cursor(
                request,
                "starting_after",
                last,
                setting,
                f"pagination cursor: {more} with the last record's {key[0]} as starting_after",
            )
        )
    found.extend(_offset(request, fields, records))
    found.extend(_numbers(request, fields, more))
    for keys, value in fields:  # last: `"next_page": null` on the only page
        if value is None and _NEXT_FIELD.match(keys[-1]):
            path = field_path(keys)
            found.append(
                Candidate(
                    "next_url",
                    {"type": "next_url", "next_url_path": path},
                    None,
                    f"pagination next_url {path}: named like a next-page URL, null on the only page",
                )
            )
    return found


def _cursor(
    request: Request, param: str, value: t.Any, setting: dict[str, t.Any], evidence: str
) -> Candidate:
    full = {"type": "cursor", "cursor_param": param, **setting}
    if request.method == "POST":
        full = {"type": "cursor", **setting, "cursor_body_path": f"$.{param}"}
        body = {**(request.body if isinstance(request.body, Mapping) else {}), param: value}
        return Candidate("cursor", full, Request("POST", request.url, request.params, body), evidence)
    return Candidate(
        "cursor",
        full,
        Request(request.method, request.url, {**request.params, param: value}, request.body),
        evidence,
    )


def _cursor_params(keys: tuple[str, ...]) -> list[str]:
    name = keys[-1]
    if name.lower() in _PARAM_FOR:
        return [_PARAM_FOR[name.lower()]]
    if name.lower() in {"next", "next_cursor", "nextcursor"}:
        return ["cursor"]
    return [name]


def _offset(
    request: Request, fields: list[tuple[tuple[str, ...], t.Any]], records: Records
) -> list[Candidate]:
    values = {
        keys[-1]: (keys, value)
        for keys, value in fields
        if isinstance(value, int) and not isinstance(value, bool)
    }
    total = next((values[n] for n in ("total", "total_count", "totalCount", "count") if n in values), None)
    start = next((n for n in ("offset", "startAt", "start_at", "start", "skip") if n in values), None)
    if total is None or start is None:
        return []
    size_name = next(
        (n for n in ("limit", "maxResults", "max_results", "page_size", "per_page") if n in values), None
    )
    size = values[size_name][1] if size_name else len(records.records)
    offset = values[start][1] + len(records.records)
    everything = total[1] <= offset  # page 1 already held every record
    setting: dict[str, t.Any] = {"type": "offset", "limit": size, "total_path": field_path(total[0])}
    if request.method == "POST":
        setting.update({"offset_body_path": f"$.{start}", "limit_body_path": f"$.{size_name or 'limit'}"})
        body = {**(request.body if isinstance(request.body, Mapping) else {}), start: offset}
        following = Request("POST", request.url, request.params, body)
    else:
        setting.update({"offset_param": start, "limit_param": size_name or "limit"})
        following = Request(request.method, request.url, {**request.params, start: offset}, request.body)
    evidence = f"pagination offset: {start} + {size_name or 'records'} with {field_path(total[0])}"
    if everything:
        evidence += f" = {total[1]}: page 1 held every record"
    return [Candidate("offset", setting, None if everything else following, evidence)]


def _numbers(
    request: Request, fields: list[tuple[tuple[str, ...], t.Any]], more: str | None
) -> list[Candidate]:
    names = {
        keys[-1]: keys for keys, value in fields if isinstance(value, int) and not isinstance(value, bool)
    }
    total = next((names[n] for n in ("total_pages", "totalPages", "page_count", "pages") if n in names), None)
    if total is None and "page" not in names and "current_page" not in names and more is None:
        return []
    current = int(request.params.get("page", 1) or 1)
    setting: dict[str, t.Any] = {"type": "page_number", "page_param": "page"}
    if total is not None:
        setting["total_pages_path"] = field_path(total)
    elif more:
        setting["has_more_path"] = more
    following = Request(request.method, request.url, {**request.params, "page": current + 1}, request.body)
    why = field_path(total) if total else more or "a page field"
    return [
        Candidate("page_number", setting, following, f"pagination page_number: page={current + 1}, {why}")
    ]


def _next_link(value: str) -> str | None:
    for link in parse_header_links(value) if value else []:
        if "next" in link.get("rel", "").split():
            return str(link["url"])
    return None


def _short(url: str) -> str:
    return url if len(url) <= 80 else url[:77] + "..."
