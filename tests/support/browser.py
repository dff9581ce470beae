"""What the browser tests share: a real headless Chromium (Debian's `chromium`, driven by
Playwright) against the app under uvicorn on 127.0.0.1, on a database of the test's own with
the dashboard's password set. Chromium missing is a failure, not a skip: `make
install-browser` installs it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from feedbackloop.config import Settings
from feedbackloop.db import embedded_server, ensure_ready
from feedbackloop.web import create_app
from feedbackloop.web.server import serve_app

CHROMIUM = Path(os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium"))
# As root in a container, without the network: no sandbox, no GPU, no calls home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "browser-test-password"
TIMEOUT_MS = 20_000


def require_browser() -> Any:
    """Playwright's sync API, or a failure that says how to install what is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run `make install-browser` (installs Debian's "
            "chromium package) or point CHROMIUM_BIN at a Chromium binary",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the playwright package is missing: run `make install` (or `make install-browser`)",
            pytrace=False,
        )
    return sync_playwright


@contextmanager
def serve_site(
    pg_state_dir: Path, load: Callable[[Settings, Engine], None], thread_name: str
) -> Iterator[tuple[str, Engine, Settings]]:
    """The app (webhooks + dashboard) under uvicorn on 127.0.0.1, a free port, in a thread,
    over a new database that `load` filled: its base URL, engine and settings."""
    require_browser()  # fail before spending a minute on the data
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("FEEDBACKLOOP_"):
                mp.delenv(key)
        name = f"t_{uuid.uuid4().hex[:12]}"
        settings = Settings(
            state_dir=pg_state_dir,
            embedded_database=name,
            dashboard_password=SecretStr(PASSWORD),
        )
        embedded_server(settings).ensure_database(name)
        engine = ensure_ready(settings)
        load(settings, engine)

    with serve_app(create_app(settings, engine=engine), name=thread_name) as url:
        yield url, engine, settings


def navigation_status(tab: Any, url: str) -> int | None:
    """The HTTP status the browser got for `url`. Chromium answers a 401 it has no (right)
    credentials for with a failed navigation (net::ERR_INVALID_AUTH_CREDENTIALS) or with the
    401 page, depending on timing; the response itself is seen either way."""
    seen: list[int] = []
    tab.on("response", lambda r: seen.append(r.status) if r.url == url else None)
    try:
        response = tab.goto(url)
    except Exception as exc:  # playwright's Error
        assert "ERR_INVALID_AUTH_CREDENTIALS" in str(exc), exc
    else:
        assert response is not None
        seen.append(response.status)
    return seen[-1] if seen else None
