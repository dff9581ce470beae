"""An ASGI app under uvicorn in a thread, for a block: `feedbackloop serve`'s webhook receiver,
the demo's form visits and the tests all serve the app this one way."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def serve_app(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    name: str = "uvicorn",
    error: type[Exception] = RuntimeError,
    timeout: float = 60,
) -> Iterator[str]:
    """Serve `app` until the block ends; yields its base URL (port 0: a free port)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise error(f"{name} could not listen on {host}:{port}")
        time.sleep(0.05)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
