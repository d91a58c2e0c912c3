"""Date windows: an incremental range cut into requests of at most `step` each.

Many APIs take a start and an end and cap the range per request (reporting APIs,
Zendesk, Stripe events). Config::

    incremental: {param: start_time, end_param: end_time, format: epoch,
                  step: P1D, lookback: PT6H, granularity: PT1S}

sends ``?start_time=1704067200&end_time=1704153599`` for the first day, then the
next day, and so on up to `end` (default: now). Each window is fetched in full
before the stream's bookmark moves to its end, so an interrupted run resumes at
the first unfinished window. `granularity` is the unit the API rounds to when its
end bound is inclusive: bounds are aligned to it and each window's end is sent as
the next window's start minus one unit, so windows neither overlap nor leave gaps.

On a grid (`plan(..., grid=True)`, used when the run is sharded) every window but a
clipped first and last one is a whole `step` cell aligned as `Duration.floor` aligns
(P1D: UTC days, P1W: Mondays, P1M: months from January), whatever the bookmark: a
window's `key` is its cell's start, the same in every process and run.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import re
import typing as t
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from tap_restoauth.errors import ConfigError
from tap_restoauth.sync import interrupt

_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
UTC = dt.timezone.utc
MAX_WINDOWS = 100_000  # a year of 5-minute windows; beyond that a step is a typo
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
MONDAY = dt.datetime(1970, 1, 5, tzinfo=UTC)  # weeks start on Mondays (ISO 8601)


@dataclasses.dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration (``P1D``, ``PT6H``, ``P1M``): calendar months plus fixed time."""

    months: int = 0
    delta: dt.timedelta = dt.timedelta(0)
    text: str = ""

    @classmethod
    def parse(cls, text: str, where: str) -> Duration:
        match = _DURATION.match(text.strip().upper()) if isinstance(text, str) else None
        if not match or text.strip().upper() in {"P", "PT"}:
            raise ConfigError(
                f"{where}: expected an ISO 8601 duration such as P1D, PT6H, P1M or P1Y, got {text!r}"
            )
        n = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
        duration = cls(
            months=n["years"] * 12 + n["months"],
            delta=dt.timedelta(
                weeks=n["weeks"], days=n["days"], hours=n["hours"], minutes=n["minutes"], seconds=n["seconds"]
            ),
            text=text.strip().upper(),
        )
        if not duration.months and not duration.delta:
            raise ConfigError(f"{where}: the duration {text!r} is zero")
        return duration

    def after(self, moment: dt.datetime, times: int = 1) -> dt.datetime:
        """`moment` plus `times` this duration (months first, day clamped to the month's end)."""
        if self.months:
            total = moment.month - 1 + self.months * times
            year, month = moment.year + total // 12, total % 12 + 1
            day = min(moment.day, calendar.monthrange(year, month)[1])
            moment = moment.replace(year=year, month=month, day=day)
        return moment + self.delta * times

    def before(self, moment: dt.datetime) -> dt.datetime:
        moment = moment - self.delta
        if self.months:
            total = moment.month - 1 - self.months
            year, month = moment.year + total // 12, total % 12 + 1
            day = min(moment.day, calendar.monthrange(year, month)[1])
            moment = moment.replace(year=year, month=month, day=day)
        return moment

    def floor(self, moment: dt.datetime) -> dt.datetime:
        """The start of the unit `moment` falls in (UTC): months from January, weeks from a
        Monday, other fixed units from 1970-01-01."""
        moment = moment.astimezone(UTC)
        if self.months:
            index = (moment.year * 12 + moment.month - 1) // self.months * self.months
            return dt.datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
        unit = self.delta // dt.timedelta(microseconds=1)
        origin = MONDAY if self.delta % dt.timedelta(days=7) == dt.timedelta(0) else EPOCH
        elapsed = (moment - origin) // dt.timedelta(microseconds=1)
        return origin + dt.timedelta(microseconds=elapsed // unit * unit)

    def ceil(self, moment: dt.datetime) -> dt.datetime:
        floored = self.floor(moment)
        return floored if floored == moment else self.after(floored)


@dataclasses.dataclass(frozen=True)
class Window:
    """One request range: ``[start, end)``; `done_at` is the bookmark once it is fetched.

    `key` is stable across runs (the start instant, on a grid its cell's start), for
    logs and for sharding.
    """

    start: dt.datetime
    end: dt.datetime
    done_at: dt.datetime
    sent_end: dt.datetime  # the end as sent: `end` minus one granularity unit when inclusive
    cell: dt.datetime | None = None  # on a grid: the start of the step cell the window lies in

    @property
    def key(self) -> str:
        return (self.cell or self.start).isoformat()


def plan(
    start: dt.datetime,
    end: dt.datetime,
    *,
    step: Duration | None,
    granularity: Duration | None = None,
    lookback: Duration | None = None,
    grid: bool = False,
) -> list[Window]:
    """The windows from `start` (less `lookback`) to `end`, in order; empty when start >= end.

    With `grid`, window bounds are step cells (see the module docstring), the first one
    starting at `start`. With a `granularity`, the first bound is floored and the last
    ceiled to it, but no window's `done_at` passes `end`: the part of the last unit after
    `end` is read again by the next run.
    """
    if lookback:
        start = lookback.before(start)
    if granularity:
        start, last = granularity.floor(start), granularity.ceil(end)
    else:
        last = end
    windows: list[Window] = []
    if start >= end:
        return windows
    index = 0
    lower = start
    anchor = step.floor(start) if grid and step else start
    while lower < last:
        if len(windows) >= MAX_WINDOWS:
            raise ConfigError(
                f"incremental.step {step.text if step else ''}: {start.isoformat()} to {end.isoformat()} "
                f"makes more than {MAX_WINDOWS:,} windows; use a larger step or a later start_date"
            )
        index += 1
        upper = min(step.after(anchor, index), last) if step else last
        if upper <= lower:  # a month step clamped to a shorter month: move on
            continue
        sent_end = upper - (granularity.delta if granularity and not granularity.months else dt.timedelta(0))
        if granularity and granularity.months:
            sent_end = granularity.before(upper)
        cell = (step.after(anchor, index - 1) if step else EPOCH) if grid else None
        windows.append(Window(lower, upper, min(upper, end), sent_end, cell))
        lower = upper
    return windows


T = t.TypeVar("T")
R = t.TypeVar("R")


def in_order(
    items: Iterable[T],
    fetch: Callable[[T], R],
    concurrency: int,
    abandon: Callable[[], None] | None = None,
) -> Generator[tuple[T, R], None, None]:
    """`(item, fetch(item))` in the order of `items`, up to `concurrency` fetched at once.

    At most 2 x `concurrency` results are held ahead of the one being consumed. On an
    error (or when the consumer stops), fetches not yet started are cancelled and
    `abandon` is called first, so that fetches under way (a job being polled) can stop.
    """
    items = list(items)
    if concurrency < 2 or len(items) < 2:
        for item in items:
            yield item, fetch(item)
        return
    ahead = 2 * concurrency
    pool = ThreadPoolExecutor(concurrency, thread_name_prefix="windows")
    pending: list[tuple[T, Future[R]]] = []
    try:
        position = 0
        while position < len(items) or pending:
            while position < len(items) and len(pending) < ahead:
                pending.append((items[position], pool.submit(fetch, items[position])))
                position += 1
            item, future = pending.pop(0)
            yield item, interrupt.result(future)
    finally:
        if pending and abandon is not None:
            abandon()
        for _, future in pending:
            future.cancel()
        # A stopped run abandons a window whose request still hangs (sync/interrupt.py).
        pool.shutdown(wait=not interrupt.stopping(), cancel_futures=True)
