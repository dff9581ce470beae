"""What the fake APIs share: a quiet JSON request handler, the request log entry, write faults
and serving a handler on 127.0.0.1 in a thread. The fakes import this module and never each
other."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import SplitResult, urlsplit


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    content_type: ClassVar[str] = "application/json"
    # Headers and body go out in two writes: with Nagle's algorithm the body waits for the
    # client's delayed ACK of the headers, ~40 ms per response that no real API adds.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        self._write(status, json.dumps(body).encode(), self.content_type, headers)

    def _write(self, status: int, data: bytes, content_type: str, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def _log_get(self, fake: Any) -> SplitResult:
        """Append the path to the fake's request log (under its lock); the split path."""
        with fake._lock:
            fake.requests.append(self.path)
        return urlsplit(self.path)

    def _read_json(self) -> tuple[bytes, Any]:
        """The raw body and its JSON (a `ValueError` instance when it is not JSON)."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return raw, json.loads(raw) if raw else None
        except ValueError:
            return raw, ValueError("not JSON")

    def _received(self, method: str, path: str, body: Any) -> Received:
        headers = {k.lower(): v for k, v in self.headers.items()}
        return Received(method, path, headers, body, time.time())


def retry_after_header(seconds: int | None) -> dict[str, str]:
    """A 429's headers: `Retry-After`, or none (the client then backs off on its own)."""
    return {} if seconds is None else {"Retry-After": str(seconds)}


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float


@dataclass
class WriteFaults:
    """Faults for the next write requests, consumed in order: `rate_limited` 429s, then
    `server_errors` answers with `error_status`, then `drop_after_processing` requests applied
    and left unanswered. `delay_after_processing` seconds pass between applying a write and
    answering it (every write). `only_paths` limits the faults to paths containing one of them."""

    rate_limited: int = 0
    retry_after: int | None = 1
    server_errors: int = 0
    error_status: int = 500
    drop_after_processing: int = 0
    delay_after_processing: float = 0.0
    only_paths: tuple[str, ...] = ()
    _seen: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def next(self, path: str) -> str | None:
        """The fault for this request: 'rate_limited', 'server_error', 'drop' or None."""
        if self.only_paths and not any(p in path for p in self.only_paths):
            return None
        with self._lock:
            n = self._seen
            self._seen += 1
        if n < self.rate_limited:
            return "rate_limited"
        n -= self.rate_limited
        if n < self.server_errors:
            return "server_error"
        n -= self.server_errors
        if n < self.drop_after_processing:
            return "drop"
        return None


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a client opening tens of keep-alive
    # connections at once (a dispatcher's senders) would see some of them reset.
    request_queue_size = 128
    daemon_threads = True


@contextmanager
def serving(
    fake: Any, handler: type[BaseHTTPRequestHandler], name: str, port: int = 0
) -> Iterator[Any]:
    """Serve `handler` on 127.0.0.1 (`port=0`: a free port) in a thread until the block ends;
    `fake.base_url` is set to where it listens. Yields `fake`."""
    server = _Server(("127.0.0.1", port), handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
