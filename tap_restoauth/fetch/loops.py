"""Catching an API that ignores the pagination parameter and serves one page forever.

Each request differs (page=2, page=3, ...), so the repeated-request check cannot
see it; the records can. A page whose records repeat the previous page's -- the
same primary keys in the same order, or, for a stream without primary keys, the
same content -- stops the stream with one line.

Without primary keys the content compared is a hash of up to `SAMPLE` records
spread evenly over the page (and the last one) with the page's record count:
hashing every record would cost most of what decoding the page does, and a page
served again is identical in every sampled record too.
"""

from __future__ import annotations

import hashlib
import typing as t
from operator import itemgetter

import msgspec

from tap_restoauth.errors import ApiError
from tap_restoauth.http.urls import mask_url

SAMPLE = 64

if t.TYPE_CHECKING:
    from tap_restoauth.fetch.pagination import Page


class RepeatedPageGuard:
    """Compares each page's records with the page before it (one guard per walk of the pages)."""

    def __init__(self, stream: str, primary_keys: t.Sequence[str]) -> None:
        self.stream = stream
        self.primary_keys = tuple(primary_keys)
        self._previous: t.Any = None

    def check(self, page: Page, records: list[t.Any]) -> None:
        """Raise ApiError when `records` (of `page`) repeat the previous page's records."""
        if self.repeats(records):
            self.fail(page, records)

    def repeats(self, records: list[t.Any]) -> bool:
        """Whether `records` repeat the previous page's (then remembered as the previous page)."""
        if not records:
            return False
        fingerprint = self._fingerprint(records)
        repeated = fingerprint == self._previous
        self._previous = fingerprint
        return repeated

    def fail(self, page: Page, records: list[t.Any]) -> t.NoReturn:
        what = f"primary keys ({', '.join(self.primary_keys)})" if self.primary_keys else "content"
        raise ApiError(
            f"{self.stream}: the page at {mask_url(page.request.full_url())} repeats the previous "
            f"page's {len(records)} records (same {what}) although the request changed: the API "
            "seems to ignore the pagination parameter; stopped to avoid an endless loop: check the "
            "stream's pagination settings"
        )

    def _fingerprint(self, records: list[t.Any]) -> t.Any:
        if self.primary_keys:
            key = itemgetter(*self.primary_keys)
            try:
                return list(map(key, records))
            except (KeyError, TypeError):
                pass  # a record without its key is reported by the stream; compare content here
        sample = [*records[:: max(1, len(records) // SAMPLE)], records[-1]]
        return len(records), hashlib.blake2b(msgspec.json.encode(sample), digest_size=16).digest()
