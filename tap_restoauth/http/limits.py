"""Bounds on what one response may cost: bytes (after decompression), time, JSON depth.

requests reads a whole body into memory with no size cap, and `timeout` bounds each
socket read, not the request: a server trickling one byte a second, or sending an
endless chunked body, never ends, and a 1 MB gzip body can inflate to gigabytes.
`install` adds a response hook to the session (API and token requests share it) that
reads every body itself, in chunks, before requests would:

- counting the bytes after decompression (urllib3 inflates at most one chunk per
  read), failing once `max_response_mb` is passed;
- with the socket timeout lowered to what is left of `request_deadline_seconds`,
  counted from the moment the request was sent.

Before that, while urllib3 connects and reads the status line and headers (with
`timeout` per read), a watchdog thread makes the socket's next read time out once
the deadline passes: a server trickling its headers is cut off too.

`decode` parses a body as JSON, refusing documents nested deeper than
`MAX_JSON_DEPTH` levels (before parsing) and bodies that are not UTF-8, so no
RecursionError or UnicodeDecodeError escapes and nothing downstream recurses
without bound.

Config::

    max_response_mb: 256           # per response, after decompression
    request_deadline_seconds: 300  # per request attempt: connect + headers + whole body
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import heapq
import itertools
import socket
import threading
import time
import typing as t
import weakref

import msgspec
import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

from tap_restoauth.errors import ApiError
from tap_restoauth.http.urls import mask_url
from tap_restoauth.sync import interrupt

MAX_JSON_DEPTH = 200
CHUNK = 64 * 1024
MEGABYTE = 1024 * 1024

# Every byte except JSON's brackets (and quotes): deleting them leaves the document's skeleton.
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_BRACKETS_OR_QUOTES = bytes(b for b in range(256) if b not in b'[]{}"')


@dataclasses.dataclass(frozen=True)
class ResponseLimits:
    """How big and how slow one response may be."""

    max_bytes: int = 256 * MEGABYTE
    deadline_seconds: float = 300.0


class ResponseTooLarge(ApiError):
    """The body (after decompression) passed `max_response_mb`."""


class DeadlineExceeded(ApiError):
    """The response did not arrive in full within `request_deadline_seconds`."""


class BadDocument(ValueError):
    """A body that cannot be decoded safely; the message completes "expected a JSON document, got"."""


def install(session: requests.Session, limits: ResponseLimits) -> None:
    """Read every response of `session` within `limits` (see the module docstring)."""
    session.hooks["response"].append(functools.partial(_read_body, limits=limits))
    pools = _deadline_pools(limits)
    for adapter in session.adapters.values():
        manager = getattr(adapter, "poolmanager", None)
        if manager is not None:
            manager.pool_classes_by_scheme = pools


class _Alarm:
    __slots__ = ("cancelled", "fired", "sock")

    def __init__(self, sock: socket.socket | None) -> None:
        self.sock = sock
        self.cancelled = False
        self.fired = False


class _Watchdog:
    """One daemon thread that shuts down the sockets of requests past their deadline."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._alarms: list[tuple[float, int, _Alarm]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._cancelled = 0

    def arm(self, when: float, sock: socket.socket | None) -> _Alarm:
        alarm = _Alarm(sock)
        with self._condition:
            heapq.heappush(self._alarms, (when, next(self._order), alarm))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="request-deadlines", daemon=True)
                self._thread.start()
            if self._alarms[0][2] is alarm:
                # Only a new earliest alarm changes how long the thread sleeps: requests that
                # end before their deadline never wake it (and the deadlines of sequential
                # requests only grow).
                self._condition.notify()
        return alarm

    def _run(self) -> None:
        with self._condition:
            while True:
                while self._alarms and self._alarms[0][2].cancelled:
                    heapq.heappop(self._alarms)
                    self._cancelled = max(0, self._cancelled - 1)
                if not self._alarms:
                    self._condition.wait()
                    continue
                wait = self._alarms[0][0] - time.monotonic()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                alarm = heapq.heappop(self._alarms)[2]
                alarm.fired = True
                if alarm.sock is not None:
                    # The next read times out at once (shutting the socket down instead
                    # would let http.client take the headers so far as complete). A read
                    # already waiting ends within `timeout`.
                    with contextlib.suppress(OSError):  # already closed
                        alarm.sock.settimeout(_EXPIRED)

    def disarm(self, alarm: _Alarm) -> None:
        """Forget `alarm`; cancelled alarms are dropped in bulk once they are most of the heap."""
        with self._condition:
            alarm.cancelled = True
            alarm.sock = None
            self._cancelled += 1
            if self._cancelled > 1024 and 2 * self._cancelled > len(self._alarms):
                self._alarms = [entry for entry in self._alarms if not entry[2].cancelled]
                heapq.heapify(self._alarms)
                self._cancelled = 0


_WATCHDOG = _Watchdog()
_EXPIRED = 0.001


class _OpenSockets:
    """The socket of every connection of the tap's sessions, so that a signal can abandon their
    requests. Sockets, not connections: a response that ends by closing the connection takes
    the socket over from its connection (http.client), and must be abandoned too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()

    def add(self, sock: socket.socket | None) -> None:
        if sock is not None:
            with self._lock:
                self._sockets.add(sock)

    def shut_down(self) -> None:
        """End every request in flight, in any thread: its next (or current) read sees the
        connection closed."""
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)


_OPEN = _OpenSockets()
interrupt.on_stop(_OPEN.shut_down)


class _DeadlineConnection(HTTPConnection):
    """Cut off (by the watchdog) when the status line and headers are late; abandoned (its
    socket shut down) when the run is stopped by a signal."""

    deadline_seconds: float = ResponseLimits.deadline_seconds
    _started = 0.0
    _target = ("", "")

    def connect(self) -> None:
        interrupt.check()  # no new connection once the run is stopping
        super().connect()
        _OPEN.add(self.sock)

    def request(self, method: str, url: str, *args: t.Any, **kwargs: t.Any) -> None:
        self._started = time.monotonic()
        self._target = (method, url)  # named (masked) only in an error
        super().request(method, url, *args, **kwargs)

    def getresponse(self) -> t.Any:
        alarm = _WATCHDOG.arm(self._started + self.deadline_seconds, self.sock)
        try:
            return super().getresponse()
        except Exception:
            if alarm.fired:
                method, url = self._target
                scheme = "https" if isinstance(self, HTTPSConnection) else "http"
                target = f"{method} {mask_url(f'{scheme}://{self.host}:{self.port}{url}')}"
                raise DeadlineExceeded(
                    f"{target}: no complete response headers within request_deadline_seconds "
                    f"({self.deadline_seconds:g}s): the server is too slow; raise "
                    "request_deadline_seconds if it is only slow"
                ) from None
            raise
        finally:
            _WATCHDOG.disarm(alarm)


class _DeadlineHttpsConnection(_DeadlineConnection, HTTPSConnection):
    pass


@functools.lru_cache(maxsize=8)
def _deadline_pools(limits: ResponseLimits) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pool classes whose connections observe `limits.deadline_seconds`."""
    seconds = {"deadline_seconds": limits.deadline_seconds}
    plain = type("DeadlineConnection", (_DeadlineConnection,), seconds)
    tls = type("DeadlineHttpsConnection", (_DeadlineHttpsConnection,), seconds)
    return {
        "http": type("DeadlinePool", (HTTPConnectionPool,), {"ConnectionCls": plain}),
        "https": type("DeadlineHttpsPool", (HTTPSConnectionPool,), {"ConnectionCls": tls}),
    }


def _read_body(response: requests.Response, *args: t.Any, limits: ResponseLimits, **kwargs: t.Any) -> None:
    """Read the body within `limits` now; a streamed response (`stream=True`, a download
    read as it arrives) is instead given a bounded reader that `streamed_chunks` uses."""
    if response._content_consumed:  # type: ignore[attr-defined]
        return
    where = _Where(response)
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        response.close()
        raise ResponseTooLarge(
            f"{where}: the response is {int(declared) / MEGABYTE:.0f} MB (Content-Length), more than "
            f"max_response_mb ({limits.max_bytes / MEGABYTE:g} MB): request smaller pages or raise "
            "max_response_mb"
        )
    deadline = time.monotonic() - response.elapsed.total_seconds() + limits.deadline_seconds

    def bounded(decode: Decode) -> t.Iterator[bytes]:
        timed = _timed_chunks(response, limits, deadline, where)
        return _capped(decode(timed), response, limits, where)

    if kwargs.get("stream"):
        response.bounded_chunks = bounded  # type: ignore[attr-defined]
        return
    # Joined once at the end: one copy of the body (a growing bytearray, then bytes(), made two).
    response._content = b"".join(bounded(_as_is))
    response._content_consumed = True  # type: ignore[attr-defined]


Decode = t.Callable[[t.Iterator[bytes]], t.Iterator[bytes]]


class _Where:
    """The request a response answers, as error messages name it (`GET https://...`, masked).

    Masking a URL (parsing it, re-encoding its query, matching every registered secret) costs
    tens of microseconds per response: it is done only when an error is raised.
    """

    __slots__ = ("response",)

    def __init__(self, response: requests.Response) -> None:
        self.response = response

    def __str__(self) -> str:
        request = self.response.request
        return f"{request.method if request is not None else 'GET'} {mask_url(self.response.url)}"


def streamed_chunks(response: requests.Response, size: int, decode: Decode) -> t.Iterator[bytes]:
    """The body of a streamed response, `decode`d (e.g. un-gzipped), in chunks: the size cap
    counts what `decode` yields, so a compressed download cannot inflate past it."""
    bounded = getattr(response, "bounded_chunks", None)
    return bounded(decode) if bounded is not None else decode(response.iter_content(size))


def read_streamed(response: requests.Response) -> bytes:
    """The whole body of a streamed response, read within the same limits as any other
    (size after decompression, deadline), and kept as `response.content`."""
    if not response._content_consumed:  # type: ignore[attr-defined]
        response._content = b"".join(streamed_chunks(response, CHUNK, _as_is))
        response._content_consumed = True  # type: ignore[attr-defined]
    return response.content


def _as_is(chunks: t.Iterator[bytes]) -> t.Iterator[bytes]:
    return chunks


def _timed_chunks(
    response: requests.Response, limits: ResponseLimits, deadline: float, where: _Where
) -> t.Iterator[bytes]:
    """The body in chunks (Content-Encoding decoded), failing past the request's deadline:
    the socket timeout is lowered to what is left of it."""
    raw = response.raw
    connection = getattr(raw, "connection", None)
    sock: socket.socket | None = getattr(connection, "sock", None)
    default_timeout = sock.gettimeout() if sock is not None else None
    received = 0
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _too_slow(where, limits, received)
            if sock is not None:
                sock.settimeout(remaining if default_timeout is None else min(remaining, default_timeout))
            try:
                chunk = raw.read1(CHUNK, decode_content=True)
            except ReadTimeoutError as exc:
                interrupt.check()
                if deadline - time.monotonic() <= 0:
                    raise _too_slow(where, limits, received) from None
                raise requests.exceptions.ConnectionError(exc) from None
            except (ProtocolError, DecodeError, SSLError) as exc:
                # A run that is stopping shut this socket down (sync/interrupt.py): not a failure.
                interrupt.check()
                raise _transport_error(exc) from None
            except OSError:
                interrupt.check()
                raise
            if not chunk:
                interrupt.check()  # the end may be the shutdown's: a cut body is never taken as whole
                break
            received += len(chunk)
            if threading.current_thread() is not threading.main_thread():
                interrupt.check()  # a worker stops between chunks
            yield chunk
    except BaseException:
        response.close()
        raise
    if sock is not None:
        sock.settimeout(default_timeout)


def _transport_error(exc: Exception) -> Exception:
    """requests' exception for a urllib3 failure while reading a body (as `iter_content` raises)."""
    if isinstance(exc, ProtocolError):
        return requests.exceptions.ChunkedEncodingError(exc)
    if isinstance(exc, DecodeError):
        return requests.exceptions.ContentDecodingError(exc)
    return requests.exceptions.SSLError(exc)


def _capped(
    chunks: t.Iterator[bytes], response: requests.Response, limits: ResponseLimits, where: _Where
) -> t.Iterator[bytes]:
    """`chunks`, failing once more than `max_response_mb` has come out of them."""
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limits.max_bytes:
            response.close()
            decompressed = bool(response.headers.get("Content-Encoding"))
            raise ResponseTooLarge(
                f"{where}: the response passed max_response_mb ({limits.max_bytes / MEGABYTE:g} MB"
                f"{', after decompression' if decompressed else ''}); "
                "request smaller pages or raise max_response_mb"
            )
        yield chunk


def _too_slow(where: _Where, limits: ResponseLimits, received: int) -> DeadlineExceeded:
    return DeadlineExceeded(
        f"{where}: the response did not arrive in full within request_deadline_seconds "
        f"({limits.deadline_seconds:g}s; {received} bytes of body received): the server is too slow "
        "or never ends the body; raise request_deadline_seconds if it is only slow"
    )


def decode(content: bytes) -> t.Any:
    """`content` as JSON; BadDocument when it is nested too deep or not UTF-8."""
    if nesting_exceeds(content, MAX_JSON_DEPTH):
        raise BadDocument(f"JSON nested deeper than {MAX_JSON_DEPTH} levels (the tap's limit)")
    try:
        return msgspec.json.decode(content)
    except UnicodeDecodeError as exc:
        raise BadDocument(f"a body that is not valid UTF-8 ({exc.reason})") from None
    except msgspec.DecodeError as exc:
        if "UTF-8" in str(exc):  # msgspec reports bad bytes inside a string this way
            raise BadDocument(f"a body that is not valid UTF-8 ({exc})") from None
        raise
    except RecursionError:
        raise BadDocument(f"JSON nested deeper than {MAX_JSON_DEPTH} levels (the tap's limit)") from None


def nesting_exceeds(content: bytes, limit: int) -> bool:
    """Whether the JSON in `content` nests arrays/objects more than `limit` levels deep.

    Works on the bracket skeleton, in C: deleting every other byte, then the
    innermost pairs once per level, takes a few passes over a fraction of the body
    for an ordinary page (a few percent of the decoding time). When brackets inside
    strings leave that quick pass undecided or over the limit, a slower pass drops
    the strings first. Malformed skeletons are left to the JSON decoder to report;
    a document deeper than the interpreter's recursion limit is caught by `decode`.
    """
    if _peel(content.translate(None, _NOT_BRACKETS), limit) is False:
        return False
    if b'\\"' in content or b"\\\\" in content:
        content = content.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(content.translate(None, _NOT_BRACKETS_OR_QUOTES).split(b'"')[::2])
    return bool(_peel(outside_strings, limit))


def _peel(skeleton: bytes, limit: int) -> bool | None:
    """True: deeper than `limit`; False: not; None: the skeleton does not pair up.

    A few passes delete the innermost pairs (an ordinary page is then empty); a skeleton
    still nested after them is measured by its running bracket count instead, in one
    linear pass (peeling a 100,000-deep line 200 times was quadratic).
    """
    for _ in range(min(limit, _PEEL_PASSES)):
        peeled = skeleton.replace(b"[]", b"").replace(b"{}", b"")
        if not peeled:
            return False
        if len(peeled) == len(skeleton):
            return None
        skeleton = peeled
    if limit <= _PEEL_PASSES:
        return True
    steps = _BRACKET_STEP.__getitem__
    if sum(map(steps, skeleton)) != 0 or min(itertools.accumulate(map(steps, skeleton))) < 0:
        return None
    return max(itertools.accumulate(map(steps, skeleton))) > limit - _PEEL_PASSES


_PEEL_PASSES = 8
_BRACKET_STEP = [0] * 256
_BRACKET_STEP[ord("[")] = _BRACKET_STEP[ord("{")] = 1
_BRACKET_STEP[ord("]")] = _BRACKET_STEP[ord("}")] = -1
