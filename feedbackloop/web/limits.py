"""Limits at the HTTP door: bodies read under a cap, and log lines that cannot flood.

`read_capped` streams a request body and stops at the cap, so a chunked upload of any size
costs at most the cap in memory (Starlette's ``request.body()`` buffers everything first).

`RepeatLog` writes the first occurrence of a failure at once and then at most one summary line
per interval ("...: 1,234 more in the last 10 s"): a burst of refused requests
during an outage or an attack costs a few log lines, not one (or a traceback) per request.

`db_reason` names a database failure by exception class and a fixed phrase: the text of a
SQLAlchemy error holds the SQL statement and its parameters, which never go to a log.

`Refusals` is how a webhook endpoint says no, through two `RepeatLog`s: `reject` (4xx, the
sender's fault) and `refuse` (503 with Retry-After: the database could not take it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import Request
from starlette.responses import JSONResponse

__all__ = ["RETRY_AFTER_SECONDS", "Refusals", "RepeatLog", "db_reason", "read_capped"]

SUMMARY_SECONDS = 10.0
RETRY_AFTER_SECONDS = 30
_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout, OSError)


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as more than `limit` bytes arrived (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def db_reason(exc: BaseException) -> str:
    """``database unavailable (OperationalError)``: class and a fixed phrase, no message text."""
    orig = getattr(exc, "orig", None)
    name = type(orig).__name__ if isinstance(orig, BaseException) else type(exc).__name__
    what = "database unavailable" if isinstance(exc, _UNAVAILABLE) else "database error"
    return f"{what} ({name})"


class RepeatLog:
    """One line for the first failure of a kind, then one summary per `interval` seconds.

    `failed(key, what)` counts a failure; `key` groups failures that share one line (for
    example ``("store", "database unavailable (OperationalError)")``). `ok(key)` ends a run of
    failures and reports what was not summarised yet. Keys are few and fixed by the caller
    (never one per client). Thread-safe: called on the event loop and in worker threads.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = SUMMARY_SECONDS,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._interval = interval
        self._level = level
        self._clock = clock
        self._lock = threading.Lock()
        # key -> [failures not reported yet, time of the last line]
        self._runs: dict[tuple[str, ...], list[float]] = {}
        self._texts: dict[tuple[str, ...], str] = {}

    def failed(self, key: tuple[str, ...], what: str) -> None:
        now = self._clock()
        with self._lock:
            run = self._runs.get(key)
            if run is None or (run[0] == 0 and now - run[1] >= self._interval):
                # First of a run (or the first after a quiet interval): said at once.
                self._runs[key] = [0, now]
                self._texts[key] = what
                line = f"{what} (repeats summarised every {self._interval:g} s)"
            else:
                run[0] += 1
                if now - run[1] < self._interval:
                    return
                line = f"{what}: {int(run[0]):,} more in the last {now - run[1]:.0f} s"
                run[0], run[1] = 0, now
        self._log.log(self._level, "%s", line)

    def ok(self, key: tuple[str, ...]) -> None:
        """A success after failures of `key`: report the ones not summarised yet."""
        if key not in self._runs:  # the common case, without taking the lock
            return
        with self._lock:
            run = self._runs.pop(key, None)
            what = self._texts.pop(key, "")
        if run is not None and run[0]:
            self._log.log(self._level, "%s", f"{what}: {int(run[0]):,} more, then it recovered")


class Refusals:
    """The answers of a webhook endpoint that does not store a delivery, logged without
    flooding; `refused` starts the 503 line (``webhook deliveries refused``)."""

    def __init__(self, logger: logging.Logger, refused: str) -> None:
        self.rejects = RepeatLog(logger)
        self.outage = RepeatLog(logger)
        self.unavailable = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        self._refused = refused

    def reject(
        self, status: int, detail: str, source: str, *, unread: bool = False
    ) -> JSONResponse:
        self.rejects.failed((source, str(status), detail), f"webhook {source} {status}: {detail}")
        # Body left unread: closing the connection stops the server from receiving the rest.
        headers = {"Connection": "close"} if unread else None
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)

    def refuse(self, what: str, exc: Exception) -> JSONResponse:
        # Class name and a fixed phrase only: the exception's text holds SQL and parameters.
        self.outage.failed(("store",), f"{self._refused} (503), {what}: {db_reason(exc)}")
        return JSONResponse(
            {"detail": "storage unavailable"}, status_code=503, headers=self.unavailable
        )
