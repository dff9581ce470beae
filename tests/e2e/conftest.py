"""Browser fixtures of the e2e tests: each browser test module defines a module-scoped `site`
fixture (`support.browser.serve_site`) that these start after."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD, TIMEOUT_MS, require_browser


@pytest.fixture(scope="module")
def browser(site: tuple[Any, ...]) -> Iterator[Any]:
    sync_playwright = require_browser()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A signed-in tab (the browser answers the Basic-auth challenge with these credentials)."""
    context = browser.new_context(
        http_credentials={"username": "admin", "password": PASSWORD},
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("TEST_ARTIFACTS_DIR")
    path = Path(folder) if folder else tmp_path_factory.getbasetemp() / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path
