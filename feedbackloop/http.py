"""The one HTTP layer: a small synchronous client that sources (reads) and notify (writes) share.

What every caller of an outside API needs and should not re-implement:

- each HTTP attempt is timed and reported (source, path without query, method, status,
  duration) to a callback, e.g. `engine_usage_recorder(engine)` -> one `ops.api_usage` row;
- 429: wait `Retry-After` seconds (30 when the header is missing) and try again;
- 5xx, timeouts and connection errors: bounded retries with exponential backoff and full
  jitter (a 5xx `Retry-After` is honoured too);
- 401/403/404 and other 4xx: a `SourceError` at once, naming the source, endpoint and status.

`get_json` does all of that for reads; `send` is one timed and reported attempt, for writes
that must not be repeated blindly (`feedbackloop.notify.http` classifies their outcome).

Nothing here logs a query string, a header or a response body: credentials travel in headers
and cursors can embed ids, so only paths and status codes are ever written down.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import json
import logging
import random
import select
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import urlsplit

import httpx
import orjson
from sqlalchemy import Connection, Engine, insert

from feedbackloop.db.models import ApiUsage

__all__ = [
    "Answer",
    "ApiCall",
    "Closing",
    "HttpClient",
    "KeepAliveHttp",
    "NoAnswer",
    "RequestNotSent",
    "RetryPolicy",
    "SourceError",
    "UsageBuffer",
    "UsageRecorder",
    "basic_auth",
    "engine_usage_recorder",
    "env_proxies",
    "retry_after",
]

log = logging.getLogger(__name__)

_AUTH_HINTS = {
    401: "authentication failed: check the configured API user and token",
    403: "permission denied: the API user lacks access to this endpoint",
    404: "not found: check the base URL and that the endpoint exists for this account",
}


# Every digit as "9", every other byte as a space: a run of 20 digits is then a substring
# search (two passes in C, about 40% of orjson's own time on a page; a regex took 3x orjson's).
_DIGITS_AS_9 = bytes(0x39 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_TWENTY_DIGITS = b"9" * 20


class SourceError(RuntimeError):
    """A source request failed for good. The message names the source, the endpoint (path
    only) and the HTTP status; it never holds a credential, a query string or a body."""

    def __init__(
        self, source: str, endpoint: str, status: int | None, detail: str, *, method: str = "GET"
    ) -> None:
        self.source = source
        self.endpoint = endpoint
        self.status = status
        self.method = method
        where = f"{source}: {method} {endpoint}"
        super().__init__(
            f"{where} failed with HTTP {status}: {detail}"
            if status is not None
            else f"{where} failed: {detail}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled whole (a forked worker, `feedbackloop.forked`, hands its failure back so):
        # the default would call the class with the message alone.
        return (_rebuilt, (type(self), self.args, self.__dict__))


def _rebuilt(cls: type[SourceError], args: tuple[Any, ...], state: dict[str, Any]) -> SourceError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One HTTP attempt, as `ops.api_usage` stores it."""

    source: str
    endpoint: str
    method: str
    status: int | None
    duration_ms: float


UsageRecorder = Callable[[ApiCall], None]


def engine_usage_recorder(engine: Engine) -> UsageRecorder:
    """Write each call to `ops.api_usage` in its own short transaction, so the record
    survives a rollback of the page being loaded (the call happened either way)."""

    def record(call: ApiCall) -> None:
        with engine.begin() as conn:
            conn.execute(
                insert(ApiUsage).values(
                    source=call.source,
                    endpoint=call.endpoint,
                    method=call.method,
                    status=call.status,
                    duration_ms=call.duration_ms,
                )
            )

    return record


class UsageBuffer:
    """Calls kept in memory and written to `ops.api_usage` in one multi-row insert: one row
    per call as `engine_usage_recorder` writes, without a transaction per call. The
    dispatcher flushes it with each batch it records; `flush()` without a connection (and
    `Targets.close()`) writes what is left in a transaction of its own. Thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._calls: list[ApiCall] = []
        self._lock = threading.Lock()

    def __call__(self, call: ApiCall) -> None:
        with self._lock:
            self._calls.append(call)

    def flush(self, conn: Connection | None = None) -> int:
        """Write the buffered calls (in `conn`'s transaction when given); how many."""
        with self._lock:
            calls, self._calls = self._calls, []
        if not calls:
            return 0
        rows = [
            {
                "source": c.source,
                "endpoint": c.endpoint,
                "method": c.method,
                "status": c.status,
                "duration_ms": c.duration_ms,
            }
            for c in calls
        ]
        try:
            if conn is not None:
                conn.execute(insert(ApiUsage), rows)
            else:
                with self.engine.begin() as own:
                    own.execute(insert(ApiUsage), rows)
        except Exception:
            with self._lock:  # kept for the next flush; the caller decides what a failure means
                self._calls[:0] = calls
            raise
        return len(calls)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5  # for 5xx and transport errors
    backoff_base: float = 1.0  # seconds; attempt n waits uniform(0, min(cap, base * 2**n))
    backoff_cap: float = 60.0
    default_retry_after: float = 30.0  # a 429 without Retry-After
    max_rate_limit_waits: int = 100  # a 429 storm that never ends still ends the sync
    max_retry_after: float = 3600.0  # a silly header must not park the worker for days


def retry_after(headers: httpx.Headers | http.client.HTTPMessage) -> float | None:
    """Seconds a `Retry-After` header asks for (delta or HTTP-date), or None."""
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:  # the HTTP-date form
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Closing:
    """Closed at the end of a `with` block."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class HttpClient(Closing):
    """One API's HTTP: GET JSON with retries and rate-limit waits, single sends, usage accounting.

    `sleep` and `rand` are injectable so tests neither wait nor depend on jitter.
    """

    def __init__(
        self,
        source: str,
        base_url: str,
        *,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        on_call: UsageRecorder | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
        limits: httpx.Limits | None = None,
    ) -> None:
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.on_call = on_call
        self.sleep = sleep
        self.rand = rand
        self.calls = 0
        self._options: dict[str, Any] = {
            "base_url": self.base_url,
            "auth": auth,
            "headers": {"Accept": "application/json", **(headers or {})},
            "timeout": timeout,
            "transport": transport,
            "follow_redirects": False,
            **({} if limits is None else {"limits": limits}),
        }
        self._http = httpx.Client(**self._options)
        self._inherited: list[httpx.Client] = []

    def close(self) -> None:
        self._http.close()

    def reopen(self) -> None:
        """A connection pool of its own, for a forked child (`feedbackloop.forked`): the
        inherited pool's keep-alive sockets are the parent's (a request on one would interleave
        with the parent's) and its locks may have been held at the fork. The old pool is kept,
        not closed, so nothing is sent on the parent's connections. A `transport` given to the
        constructor is shared as it is."""
        self._inherited.append(self._http)
        self._http = httpx.Client(**self._options)

    # ------------------------------------------------------------------------------ calls

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET `path` (relative to the base URL) and return the decoded JSON body."""
        endpoint = urlsplit(path).path or "/"
        response = self._request("GET", path, endpoint, params)
        content = response.content
        # orjson: a third of json's CPU on the pages collect reads (issue #20). It refuses NaN
        # and a non-UTF-8 body, and reads an integer past 64 bits as a float: those bodies (any
        # run of 20 digits) go to the json module, which keeps every digit.
        if _TWENTY_DIGITS not in content.translate(_DIGITS_AS_9):
            try:
                return orjson.loads(content)
            except orjson.JSONDecodeError:
                pass
        try:
            return response.json()
        except ValueError:
            raise SourceError(
                self.source, endpoint, response.status_code, "the response is not JSON"
            ) from None

    def _record(self, method: str, endpoint: str, status: int | None, started: float) -> None:
        _report(self, method, endpoint, status, started)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.retry.backoff_cap, self.retry.backoff_base * (2**attempt))
        return self.rand() * ceiling  # full jitter

    def send(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """One attempt, timed and reported under `endpoint` (a label that never holds a secret
        or a query) whatever its outcome; a transport error is raised after it is reported."""
        started = time.perf_counter()
        try:
            response = self._http.request(method, url, json=json_body, params=params)
        except httpx.TransportError:
            self._record(method, endpoint, None, started)
            raise
        self._record(method, endpoint, response.status_code, started)
        return response

    def _request(
        self, method: str, path: str, endpoint: str, params: Mapping[str, Any] | None
    ) -> httpx.Response:
        def failed(status: int | None, detail: str) -> SourceError:
            return SourceError(self.source, endpoint, status, detail, method=method)

        def wait(delay: float, why: str) -> None:
            log.warning("%s %s %s: %s, waiting %.1fs", self.source, method, endpoint, why, delay)
            self.sleep(delay)

        failures = 0  # 5xx and transport errors
        waits = 0  # 429s
        while True:
            try:
                response = self.send(method, path, endpoint=endpoint, params=params)
            except httpx.TransportError as exc:
                if failures >= self.retry.max_retries:
                    why = f"{type(exc).__name__} after {failures + 1} attempts"
                    raise failed(None, why) from None
                delay = self._backoff(failures)
                failures += 1
                wait(delay, f"{type(exc).__name__}, retry {failures}")
                continue
            status = response.status_code
            if status < 400:
                return response
            after = retry_after(response.headers)
            if status == 429:
                if waits >= self.retry.max_rate_limit_waits:
                    raise failed(status, f"still rate limited after {waits} waits")
                waits += 1
                default = self.retry.default_retry_after
                wait(
                    min(self.retry.max_retry_after, default if after is None else after),
                    "rate limited",
                )
                continue
            if status >= 500:
                if failures >= self.retry.max_retries:
                    raise failed(status, f"server error after {failures + 1} attempts")
                delay = (
                    min(self.retry.max_retry_after, after)
                    if after is not None
                    else self._backoff(failures)
                )
                failures += 1
                wait(delay, f"HTTP {status}, retry {failures}")
                continue
            raise failed(status, _AUTH_HINTS.get(status, "the request was refused"))


# ---------------------------------------------------------------------- keep-alive writes


class RequestNotSent(Exception):
    """The request cannot have reached the server: the connection never opened, or the
    request did not leave completely (a server does not act on half a request)."""


class NoAnswer(Exception):
    """The request went out and no complete answer came back: it may have been applied."""


class Answer:
    """A response read whole: status, headers (case-insensitive `get`), body."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: http.client.HTTPMessage, content: bytes):
        self.status_code = status_code
        self.headers = headers
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


def basic_auth(user: str, password: str) -> str:
    """An `Authorization` header value for HTTP Basic auth (as `httpx.BasicAuth` sends)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def env_proxies() -> bool:
    """Whether the environment names an HTTP proxy (httpx would use it; `KeepAliveHttp`
    cannot)."""
    return bool(urllib.request.getproxies())


class KeepAliveHttp(Closing):
    """One attempt per call over the standard library's `http.client`, with one keep-alive
    connection per thread and host: about a quarter of httpx's CPU per request against the
    loopback fakes (`benchmarks/send_bench.py --clients`), which is what caps a sender.

    Each attempt is timed and reported to `on_call` like `HttpClient.send`. No retries, no
    redirects, no proxies, no compression. A failure says whether the request can have been
    acted on: `RequestNotSent` or `NoAnswer`; an idle connection the server has closed is
    noticed before it is reused (as httpx does), so a keep-alive race does not turn into a
    false "no answer" but in the rare case where the close lands mid-request."""

    def __init__(
        self,
        source: str,
        base_url: str = "",
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        on_call: UsageRecorder | None = None,
    ) -> None:
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.timeout = timeout
        self.on_call = on_call
        self.calls = 0
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._ssl: ssl.SSLContext | None = None

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        conns: dict[str, http.client.HTTPConnection] = self._local.__dict__.setdefault("c", {})
        key = f"{scheme}://{netloc}"
        conn = conns.get(key)
        if conn is not None and conn.sock is not None and _closed_by_peer(conn.sock):
            conn.close()  # reconnects below; nothing was sent on it
        if conn is None:
            if scheme == "https":
                if self._ssl is None:
                    self._ssl = httpx.create_ssl_context()  # the same trust as httpx
                conn = http.client.HTTPSConnection(netloc, timeout=self.timeout, context=self._ssl)
            elif scheme == "http":
                conn = http.client.HTTPConnection(netloc, timeout=self.timeout)
            else:
                raise RequestNotSent(f"UnsupportedProtocol: {scheme!r}")
            conns[key] = conn
            with self._lock:
                self._all.append(conn)
        if conn.sock is None:
            _before_sending(conn, "Connect", conn.connect)
        return conn

    def send(self, method: str, url: str, *, endpoint: str, json_body: Any = None) -> Answer:
        """One attempt, reported under `endpoint` whatever its outcome (`HttpClient.send`)."""
        started = time.perf_counter()
        status: int | None = None
        try:
            answer = self._attempt(method, url, json_body)
            status = answer.status_code
            return answer
        finally:
            _report(self, method, endpoint, status, started)

    def _attempt(self, method: str, url: str, json_body: Any) -> Answer:
        parts = urlsplit(url if "://" in url else self.base_url + url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn = self._connection(parts.scheme, parts.netloc)
        headers = dict(self.headers)
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        _before_sending(conn, "Write", conn.request, method, target or "/", body, headers)
        try:
            response = conn.getresponse()
            content = response.read()
        except TimeoutError:
            conn.close()
            raise NoAnswer("ReadTimeout") from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise NoAnswer(f"RemoteProtocolError ({type(exc).__name__})") from None
        if response.will_close:
            conn.close()
        return Answer(response.status, response.headers, content)


def _before_sending(
    conn: http.client.HTTPConnection, step: str, call: Callable[..., None], *args: Any
) -> None:
    """`call` (connect, write the request): a failure closes `conn` and is `RequestNotSent`,
    named as httpx names it (`ConnectTimeout`, `WriteError`), so a retry is always safe."""
    try:
        call(*args)
    except TimeoutError:
        conn.close()
        raise RequestNotSent(f"{step}Timeout") from None
    except OSError:
        conn.close()
        raise RequestNotSent(f"{step}Error") from None


def _closed_by_peer(sock: socket.socket) -> bool:
    """An idle keep-alive socket that is readable has been closed (or sent garbage)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _report(
    client: HttpClient | KeepAliveHttp,
    method: str,
    endpoint: str,
    status: int | None,
    started: float,
) -> None:
    client.calls += 1
    duration_ms = (time.perf_counter() - started) * 1000.0
    log.debug("%s %s %s -> %s in %.0f ms", client.source, method, endpoint, status, duration_ms)
    if client.on_call is not None:
        client.on_call(ApiCall(client.source, endpoint, method, status, duration_ms))
