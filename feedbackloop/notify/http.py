"""Writes to outside APIs, with an honest answer to "did it happen?".

`feedbackloop.http.HttpClient.get_json` retries 5xx and transport errors by itself; that is
right for reading and wrong for a write that may already have been applied. Here each write is
sent once (`KeepAliveHttp.send`, or httpx's `HttpClient.send` behind a proxy; 429s wait
`Retry-After` in place, since a 429 means "not processed") and classified:

- `sent`: 2xx;
- `retry`: certainly not applied (429 beyond the wait budget, 5xx, 409, the connection never
  opened, the body never left) -> the outbox tries again later;
- `rejected`: a 4xx that will not change by retrying -> the action fails and the owners hear;
- `unknown`: the request went out and no answer came back (read timeout, dropped connection) ->
  the dispatcher checks the target before it sends again, or, for a target it cannot check
  (Slack), does not send again.

The reads that check whether a write already happened (`get_json`) are retried briefly
(`READ_RETRY`). Every attempt is reported to `on_call` (-> `ops.api_usage`) under an endpoint
label that never holds a secret (Slack webhook URLs are credentials); a failure to record it
never fails the delivery. Error details keep the API's error code and a masked, shortened
message; never a request body.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from feedbackloop.http import (
    Answer,
    ApiCall,
    HttpClient,
    KeepAliveHttp,
    NoAnswer,
    RequestNotSent,
    RetryPolicy,
    UsageRecorder,
    env_proxies,
    retry_after,
)
from nlp.pii import mask

__all__ = ["READ_RETRY", "Check", "JsonApi", "Outcome", "RateLimiter", "Reply"]

log = logging.getLogger(__name__)

Outcome = Literal["sent", "retry", "rejected", "unknown"]
# Whether a write already happened, as a target's read-back says.
Check = Literal["applied", "absent", "unknown"]
# Reads are idempotent: they are retried (429, 5xx, transport), briefly.
READ_RETRY = RetryPolicy(
    max_retries=2, backoff_base=0.5, backoff_cap=5.0, default_retry_after=5.0,
    max_rate_limit_waits=3, max_retry_after=30.0,
)  # fmt: skip

# The request never reached the server, or never completed: the server cannot have acted.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


@dataclass(frozen=True)
class Reply:
    outcome: Outcome
    status: int | None
    detail: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == "sent"


class RateLimiter:
    """Spaces the writes to one target `1 / per_second` seconds apart, per key (a Slack
    webhook URL; one key for an account-wide limit), across the threads that share it. A 429
    pauses that key only, for its `Retry-After`. `per_second <= 0`: no limit, no wait.

    Slots are handed out in order (each caller reserves the next one, then sleeps until it),
    so concurrent senders never burst past the limit and never spin."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str = "") -> float:
        """Wait for this key's next slot; the seconds waited."""
        with self._lock:
            now = self.clock()
            at = max(now, self._next.get(key, now))
            if self.interval or key in self._next:
                self._next[key] = at + self.interval
        wait = at - now
        if wait > 0:
            self.sleep(wait)
        return wait

    def pause(self, key: str, seconds: float, *, resend: bool = False) -> None:
        """The target said "not before `seconds`" (a 429): hold this key's next slots. With
        `resend`, the caller resends when the pause ends and the next slot is one interval
        later (not at the same moment: two writes at once right after a 429)."""
        with self._lock:
            until = self.clock() + seconds
            after = until + self.interval if resend else until
            self._next[key] = max(self._next.get(key, after), after)


def _error_code(body: Any, raw: str) -> str:
    """The API's own error code and message (Slack: a plain-text code; Zendesk: `error` and
    `description`; HubSpot: `category` and `message`), masked and cut."""
    if isinstance(body, dict):
        parts = [
            str(body[k])
            for k in ("error", "category", "description", "message")
            if isinstance(body.get(k), (str, int))
        ]
        text = ": ".join(parts)
    else:
        text = raw.strip()
    return mask(text)[:200] or "no error message"


def _tolerant(source: str, on_call: UsageRecorder | None) -> UsageRecorder | None:
    if on_call is None:
        return None

    def record(call: ApiCall) -> None:
        try:
            on_call(call)
        except Exception as exc:  # accounting must not turn a delivery into a failure
            log.warning("%s: api usage not recorded (%s)", source, type(exc).__name__)

    return record


class JsonApi:
    """One API's writes (and the reads a write needs to be checked)."""

    def __init__(
        self,
        source: str,
        base_url: str = "",
        *,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 15.0,
        on_call: UsageRecorder | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 30.0,
        max_rate_limit_waits: int = 3,
        transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.source = source
        self.limiter = limiter
        self.sleep = sleep
        self.max_wait = max_wait
        self.max_rate_limit_waits = max_rate_limit_waits
        recorder = _tolerant(source, on_call)
        # Writes go over plain keep-alive `http.client` (a quarter of httpx's CPU per request:
        # what caps sending), unless a test transport or an environment proxy needs httpx.
        self.writes: KeepAliveHttp | None = None
        if transport is None and auth is None and not env_proxies():
            self.writes = KeepAliveHttp(
                source, base_url, headers=headers, timeout=timeout, on_call=recorder
            )
        # The httpx client (reads, and writes in the cases above) is built when first used:
        # its TLS context costs about as much CPU as a hundred sends.
        self._http: HttpClient | None = None
        self._http_options: dict[str, Any] = {
            "auth": auth,
            "headers": headers,
            "timeout": timeout,
            "on_call": recorder,
            "sleep": sleep,
            "transport": transport,
        }
        self._base_url = base_url
        self._lock = threading.Lock()

    @property
    def http(self) -> HttpClient:
        with self._lock:
            if self._http is None:
                self._http = HttpClient(
                    self.source,
                    self._base_url,
                    retry=READ_RETRY,
                    # Concurrent senders each keep a connection alive: httpx keeps 20 by
                    # default, and one closed after every request is a new TCP connection.
                    limits=httpx.Limits(max_connections=256, max_keepalive_connections=256),
                    **self._http_options,
                )
            return self._http

    @property
    def calls(self) -> int:
        reads = self._http.calls if self._http is not None else 0
        return reads + (self.writes.calls if self.writes is not None else 0)

    def close(self) -> None:
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()
        if self.writes is not None:
            self.writes.close()

    def _send(
        self, method: str, url: str, endpoint: str, json_body: Any
    ) -> httpx.Response | Answer:
        """One attempt; `RequestNotSent` / `NoAnswer` when no answer came (either client)."""
        if self.writes is not None:
            return self.writes.send(method, url, endpoint=endpoint, json_body=json_body)
        try:
            return self.http.send(method, url, endpoint=endpoint, json_body=json_body)
        except _NOT_SENT as exc:
            raise RequestNotSent(type(exc).__name__) from None
        except (httpx.WriteError, httpx.WriteTimeout) as exc:
            # The body did not leave completely: a server cannot act on half a request.
            raise RequestNotSent(type(exc).__name__) from None
        except httpx.TransportError as exc:
            raise NoAnswer(type(exc).__name__) from None

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """A read, retried briefly; raises `SourceError` when it cannot be answered."""
        return self.http.get_json(path, params)

    def request(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        json_body: Any = None,
        limit_key: str = "",
    ) -> Reply:
        """Send once (429s wait and repeat); `endpoint` is what usage records and logs show.
        With a limiter, the write waits for `limit_key`'s next slot first."""
        if self.limiter is not None:
            self.limiter.acquire(limit_key)
        waits = 0
        while True:
            try:
                response = self._send(method, url, endpoint, json_body)
            except RequestNotSent as exc:
                return Reply("retry", None, f"{exc}: the request was not sent")
            except NoAnswer as exc:
                return Reply("unknown", None, f"{exc}: no answer; it may have been applied")
            status = response.status_code
            raw = response.text
            try:
                body: Any = response.json() if raw.strip() else None
            except (ValueError, json.JSONDecodeError):
                body = raw
            headers = {k.lower(): v for k, v in response.headers.items()}
            if 200 <= status < 300:
                return Reply("sent", status, "ok", body, headers)
            if status == 429:
                after = retry_after(response.headers)
                delay = 30.0 if after is None else after
                resend = waits < self.max_rate_limit_waits and delay <= self.max_wait
                if self.limiter is not None:
                    # The other senders to this target hold back too; other targets do not.
                    self.limiter.pause(limit_key, min(delay, self.max_wait), resend=resend)
                if resend:
                    waits += 1
                    log.warning("%s %s: rate limited, waiting %.1fs", self.source, endpoint, delay)
                    self.sleep(delay)
                    continue
                return Reply("retry", status, f"rate limited (Retry-After {delay:g}s)", body)
            detail = f"HTTP {status}: {_error_code(body, raw)}"
            if status >= 500 or status == 409:
                return Reply("retry", status, detail, body, headers)
            return Reply("rejected", status, detail, body, headers)
