"""The generator's explanation: one line per endpoint kept or skipped, and why.

Printed on stderr, e.g.::

    kept GET /v1/customers -> customers: records $.data[*]; cursor: starting_after with the
        last record's id while $.has_more; primary key id; full table: no updated-like date-time
    skipped GET /v1/customers/{customer}: the 2xx response is one object, not a list
"""

from __future__ import annotations

import dataclasses
import typing as t
from collections import Counter


@dataclasses.dataclass
class Report:
    """Lines for stderr and counts for the figures in docs/openapi.md."""

    lines: list[str] = dataclasses.field(default_factory=list)
    counts: Counter[str] = dataclasses.field(default_factory=Counter)

    def kept(self, method: str, path: str, name: str, reasons: t.Iterable[str]) -> None:
        self.lines.append(f"kept {method} {path} -> {name}: {'; '.join(reasons)}")

    def skipped(self, method: str, path: str, reason: str) -> None:
        self.lines.append(f"skipped {method} {path}: {reason}")

    def note(self, text: str) -> None:
        self.lines.append(text)

    def count(self, what: str, amount: int = 1) -> None:
        self.counts[what] += amount

    def text(self) -> str:
        return "\n".join(self.lines)
