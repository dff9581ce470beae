"""Writes to outside APIs, with an honest answer to "did it happen?".

`sources.http.HttpClient` retries 5xx and transport errors by itself and only GETs; that is
right for reading and wrong for a write that may already have been applied. Here each write is
sent once (429s wait `Retry-After` in place, since a 429 means "not processed") and classified:

- `sent`: 2xx;
- `retry`: certainly not applied (429 beyond the wait budget, 5xx, 409, the connection never
  opened, the body never left) -> the outbox tries again later;
- `rejected`: a 4xx that will not change by retrying -> the action fails and the owners hear;
- `unknown`: the request went out and no answer came back (read timeout, dropped connection) ->
  the dispatcher checks the target before it sends again, or, for a target it cannot check
  (Slack), does not send again.

Every attempt is reported to `on_call` (-> `ops.api_usage`) under an endpoint label that never
holds a secret (Slack webhook URLs are credentials). Error details keep the API's error code and
a masked, shortened message; never a request body.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from feedbackloop.governance.pii import mask
from feedbackloop.sources.http import ApiCall, UsageRecorder, _retry_after

__all__ = ["JsonApi", "Outcome", "Reply"]

log = logging.getLogger(__name__)

Outcome = Literal["sent", "retry", "rejected", "unknown"]

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
    ) -> None:
        self.source = source
        self.on_call = on_call
        self.sleep = sleep
        self.max_wait = max_wait
        self.max_rate_limit_waits = max_rate_limit_waits
        self.calls = 0
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=auth,
            headers={"Accept": "application/json", **(headers or {})},
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def _record(self, method: str, endpoint: str, status: int | None, started: float) -> None:
        self.calls += 1
        duration_ms = (time.perf_counter() - started) * 1000.0
        log.debug("%s %s %s -> %s in %.0f ms", self.source, method, endpoint, status, duration_ms)
        if self.on_call is not None:
            try:
                self.on_call(ApiCall(self.source, endpoint, method, status, duration_ms))
            except Exception as exc:  # accounting must not turn a delivery into a failure
                log.warning("%s: api usage not recorded (%s)", self.source, type(exc).__name__)

    def request(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Reply:
        """Send once (429s wait and repeat); `endpoint` is what usage records and logs show."""
        waits = 0
        while True:
            started = time.perf_counter()
            try:
                response = self._http.request(method, url, json=json_body, params=params)
            except _NOT_SENT as exc:
                self._record(method, endpoint, None, started)
                return Reply("retry", None, f"{type(exc).__name__}: the request was not sent")
            except (httpx.WriteError, httpx.WriteTimeout) as exc:
                # The body did not leave completely: a server cannot act on half a request.
                self._record(method, endpoint, None, started)
                return Reply("retry", None, f"{type(exc).__name__}: the request was not sent")
            except httpx.TransportError as exc:
                self._record(method, endpoint, None, started)
                return Reply(
                    "unknown", None, f"{type(exc).__name__}: no answer; it may have been applied"
                )
            status = response.status_code
            self._record(method, endpoint, status, started)
            raw = response.text
            try:
                body: Any = response.json() if raw.strip() else None
            except (ValueError, json.JSONDecodeError):
                body = raw
            headers = {k.lower(): v for k, v in response.headers.items()}
            if 200 <= status < 300:
                return Reply("sent", status, "ok", body, headers)
            if status == 429:
                after = _retry_after(response.headers)
                delay = 30.0 if after is None else after
                if waits < self.max_rate_limit_waits and delay <= self.max_wait:
                    waits += 1
                    log.warning("%s %s: rate limited, waiting %.1fs", self.source, endpoint, delay)
                    self.sleep(delay)
                    continue
                return Reply("retry", status, f"rate limited (Retry-After {delay:g}s)", body)
            detail = f"HTTP {status}: {_error_code(body, raw)}"
            if status >= 500 or status == 409:
                return Reply("retry", status, detail, body, headers)
            return Reply("rejected", status, detail, body, headers)
