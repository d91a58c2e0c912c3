"""SIGTERM and SIGINT: one stop event that every wait watches; exit 143 / 130 within seconds.

The SDK's handler writes STATE and calls `sys.exit(0)` from wherever the main
thread is -- possibly halfway through writing a page, which is then cut or
written twice -- and reports success for a run cut short. Here the handler
records the signal and sets one stop event; then:

- every wait of the tap watches that event and ends at once, in any thread:
  retry backoff, Retry-After, rate-limit resets, lease and token waits, polls,
  waiting for a page another thread fetches. Use the API below for any new wait;
- in-flight requests are abandoned: a "stopper" thread runs the `on_stop`
  callbacks (http/limits.py registers one that shuts down the socket of every
  open API and token connection), so a request that hangs, in any thread, ends;
- while the main thread waits on the network (`interruptible()`), nothing is
  being written, so the handler raises `Interrupted` there at once; a timer
  wait (`wait()`) ends when the stopper sets the event (the handler takes no
  lock and raises nothing inside `threading`'s own code);
  Everywhere else the sync loop calls `check()` between pages, after the page's
  records are written and its bookmark advanced.

The tap then writes its last consistent STATE and exits with the shell's code
(128 + signal number), without joining worker threads, so Meltano, Airflow and
Cloud Run Jobs (SIGTERM, then SIGKILL 10 s later) see a failed run and the next
run resumes from the STATE.

The API for code that waits (raises `Interrupted`, a BaseException, when stopped)::

    from tap_restoauth.sync import interrupt

    interrupt.wait(30)                 # sleep 30 s, or less if a signal comes
    page = interrupt.result(future)    # a Future's result, or Interrupted
    while not done():                  # a poll loop
        interrupt.wait(poll_seconds)
    interrupt.check()                  # a point where stopping leaves everything consistent
    interrupt.stopping()               # True once a signal came (to skip optional work)
    interrupt.on_stop(abandon)         # called once, from a helper thread, when a signal comes
    with interrupt.unless_shielded():  # a call a signal ends at once, unless it saves something
        ...
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
import typing as t
from concurrent import futures

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType

T = t.TypeVar("T")

_SLICE = 0.25  # a future's result is looked at this often (the stop event ends the wait anyway)

_signal: int | None = None
_stop = threading.Event()  # set by the stopper thread, never by the handler
_received: queue.SimpleQueue[int] = queue.SimpleQueue()  # the handler's signals, for the stopper
_callbacks: list[Callable[[], None]] = []
_callbacks_lock = threading.Lock()
_stopper: threading.Thread | None = None
_watcher: threading.Thread | None = None  # reads the signal wakeup fd (`_watch_wakeup_fd`)
_wakeup_write: int | None = None
_BARRIER = 0  # no signal has number 0: written by `reset` after the signals to forget
_drained = threading.Event()
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
    _watch_wakeup_fd()
    _start_stopper()


def _watch_wakeup_fd() -> None:
    """Hear a signal in whichever thread the kernel delivers it to.

    Python runs `_handle` only in the main thread, when that thread next executes bytecode:
    a signal delivered to another thread while the main thread sleeps in a lock's timed wait
    (`_stop.wait(30)`) would be handled only when that wait times out. The interpreter's C
    handler also writes the signal number to the wakeup fd, at once and from any thread; a
    watcher thread reading it records the signal and wakes the stopper.
    """
    global _watcher, _wakeup_write  # noqa: PLW0603 - one process, one watcher
    if _watcher is not None and _watcher.is_alive():
        return
    read_end, _wakeup_write = os.pipe()
    os.set_blocking(_wakeup_write, False)
    signal.set_wakeup_fd(_wakeup_write, warn_on_full_buffer=False)
    _watcher = threading.Thread(target=_read_wakeup_fd, args=(read_end,), name="signals", daemon=True)
    _watcher.start()


def _read_wakeup_fd(fd: int) -> None:
    global _signal  # noqa: PLW0603 - one process, one signal
    while data := os.read(fd, 64):
        for byte in data:
            if byte == _BARRIER:
                _drained.set()
            elif byte in (signal.SIGTERM, signal.SIGINT):
                if _signal is None:
                    _signal = byte
                _received.put(byte)


def _drain_wakeup_fd() -> None:
    """Wait until the watcher has read every signal written so far (a barrier byte after them)."""
    if _watcher is None or not _watcher.is_alive() or _wakeup_write is None:
        return
    _drained.clear()
    with contextlib.suppress(OSError):
        os.write(_wakeup_write, bytes([_BARRIER]))
        _drained.wait(5)


def _start_stopper() -> None:
    """Start the thread that sets the stop event and runs the callbacks, unless it runs."""
    global _stopper  # noqa: PLW0603 - one process, one stopper
    with _callbacks_lock:
        if _stopper is None or not _stopper.is_alive():
            _stopper = threading.Thread(target=_run_stop_callbacks, name="stopper", daemon=True)
            _stopper.start()


def _handle(signum: int, frame: FrameType | None) -> None:
    """Runs in the main thread between two bytecodes, possibly while that thread holds a lock
    (the stop event's own, inside `_stop.wait()`): it takes none. `_stop.set()` would (a
    deadlock when the signal lands inside that wait); the stopper thread sets the event,
    woken through `_received` (a SimpleQueue: its `put` is reentrant and takes no lock)."""
    global _signal  # noqa: PLW0603 - one process, one signal
    if _signal is None:
        _signal = signum
    _received.put(signum)
    if _interruptible and not _shielded:
        raise Interrupted(_signal)


def _run_stop_callbacks() -> None:
    _received.get()
    _stop.set()
    with _callbacks_lock:
        callbacks = list(_callbacks)
    for callback in callbacks:
        with contextlib.suppress(Exception):  # abandoning is best effort; the exit comes anyway
            callback()


def _start_stopper_once() -> None:
    """Waits end when the stopper sets the event: make sure it runs (tests that call the
    handler in-process without `install()`)."""
    if _stopper is None:
        _start_stopper()


def on_stop(callback: Callable[[], None]) -> None:
    """Call `callback` once when a signal comes (from the stopper thread, not the handler):
    abandon something that would keep a thread waiting, e.g. shut down sockets."""
    with _callbacks_lock:
        _callbacks.append(callback)


def stopping() -> bool:
    """Whether a signal came (the run is ending)."""
    return _signal is not None


def signal_number() -> int | None:
    return _signal


def check() -> None:
    """Raise Interrupted if a signal came: call where stopping leaves everything consistent."""
    if _signal is not None:
        raise Interrupted(_signal)


def wait(seconds: float) -> None:
    """Sleep `seconds` in any thread; raise Interrupted as soon as a signal comes."""
    _start_stopper_once()
    check()
    # Not cut by the handler: raised inside the event's own code, Interrupted could leave its
    # lock held. The stopper thread sets the event a moment after the signal.
    with shielded():
        stopped = _stop.wait(max(0.0, seconds))
    if stopped:
        check()


sleep = wait


def result(future: futures.Future[T]) -> T:
    """`future.result()`, in any thread; raise Interrupted as soon as a signal comes (the
    future is left running: its thread is abandoned)."""
    _start_stopper_once()
    with interruptible():
        while True:
            try:
                return future.result(timeout=_SLICE)
            except futures.TimeoutError:
                if future.done():
                    raise  # the work itself raised TimeoutError (the same class since 3.11)
                check()


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """A block of the main thread that writes nothing (a request, a wait): a signal ends it at once.

    In another thread it only checks for a signal on entry (signals reach the main thread).
    """
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
def unless_shielded() -> Iterator[None]:
    """`interruptible()` for a network call that may also run inside a shielded block (a
    Secret Manager read, or the write of a rotated token): there, and in other threads, the
    call runs to its own deadline and no signal cuts it."""
    if threading.current_thread() is threading.main_thread() and not _shielded:
        with interruptible():
            yield
    else:
        yield


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """A block a signal must not cut (it may still stop at a `check()` or `wait()` inside)."""
    global _shielded  # noqa: PLW0603
    if threading.current_thread() is not threading.main_thread():
        yield  # the handler runs in the main thread: only its blocks matter
        return
    _shielded += 1
    try:
        yield
    finally:
        _shielded -= 1


def reset() -> None:
    """Forget a received signal (tests running the tap in-process); the stop callbacks already
    run are not run again."""
    global _signal  # noqa: PLW0603
    _drain_wakeup_fd()
    _signal = None
    while not _received.empty():
        _received.get_nowait()
    _stop.clear()
    if _stopper is not None:
        _start_stopper()
