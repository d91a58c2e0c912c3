"""SIGTERM and SIGINT: stop between pages, write the last consistent STATE, exit 143 / 130.

The SDK's handler writes STATE and calls `sys.exit(0)` from wherever the main
thread is -- possibly halfway through writing a page, which is then cut or
written twice -- and reports success for a run cut short. Here the handler only
records the signal, except while the main thread waits on the network or a
timer (`interruptible()`): nothing is being written then, so it raises
`Interrupted` at once. Everywhere else the sync loop calls `check()` between pages,
after the page's records are written and its bookmark advanced; worker threads
check between chunks and while sleeping (`sleep()`).

Exit codes follow the shell convention (128 + signal number), so Meltano, Airflow
and Cloud Run Jobs see a failed run and the next run resumes from the STATE.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

_SLICE = 0.1  # how often a sleeping worker thread looks at the flag

_signal: int | None = None
_interruptible = 0  # > 0 while the main thread is in an interruptible() block
_shielded = 0  # > 0 while the main thread must not be cut short (e.g. saving a rotated token)


class Interrupted(BaseException):
    """The run was stopped by a signal (a BaseException, like KeyboardInterrupt, so that no
    `except Exception` on the way up mistakes it for a failure to log or retry)."""

    def __init__(self, signum: int | None) -> None:
        super().__init__(signum)
        self.signum = signum if signum is not None else signal.SIGTERM

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def install() -> None:
    """Handle SIGTERM and SIGINT as described above (main thread only, like `signal.signal`)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _handle)


def _handle(signum: int, frame: FrameType | None) -> None:
    global _signal  # noqa: PLW0603 - one process, one signal
    if _signal is None:
        _signal = signum
    if _interruptible and not _shielded:
        raise Interrupted(_signal)


def requested() -> bool:
    return _signal is not None


def signal_number() -> int | None:
    return _signal


def check() -> None:
    """Raise Interrupted if a signal came: call where stopping leaves everything consistent."""
    if _signal is not None:
        raise Interrupted(_signal)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """A block of the main thread that writes nothing (a request, a wait): a signal ends it at once."""
    global _interruptible  # noqa: PLW0603
    if threading.current_thread() is not threading.main_thread():
        check()
        yield
        return
    check()
    _interruptible += 1
    try:
        yield
    finally:
        _interruptible -= 1


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """A block a signal must not cut (it may still stop at a `check()` or `sleep()` inside)."""
    global _shielded  # noqa: PLW0603
    if threading.current_thread() is not threading.main_thread():
        yield  # the handler runs in the main thread: only its blocks matter
        return
    _shielded += 1
    try:
        yield
    finally:
        _shielded -= 1


def sleep(seconds: float) -> None:
    """`time.sleep` that a signal cuts short (raising Interrupted) in any thread."""
    deadline = time.monotonic() + seconds
    with interruptible():
        while True:
            check()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, _SLICE))


def reset() -> None:
    """Forget a received signal (tests running the tap in-process)."""
    global _signal  # noqa: PLW0603
    _signal = None
