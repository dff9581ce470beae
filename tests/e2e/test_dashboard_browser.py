"""The dashboard in a real headless Chromium (Debian's `chromium`, driven by Playwright) against
uvicorn on 127.0.0.1, on demo data with real marts: charts render, a click on an action shows
why it was taken, accepting an FAQ candidate and rating a review reach the database, and a
request without credentials gets 401. The landing page's screenshot is kept as an artifact:
`$TEST_ARTIFACTS_DIR/dashboard.png`, by default `<pytest basetemp>/artifacts/dashboard.png`.

Chromium missing is a failure, not a skip: `make install-browser` installs it.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, text

from feedbackloop.config import Settings
from feedbackloop.db import embedded_server, ensure_ready
from feedbackloop.demo.generator import generate
from feedbackloop.demo.load import load_dataset
from feedbackloop.marts import build_marts
from feedbackloop.review import sample_for_review
from feedbackloop.routing import load_rules, scored_hook
from feedbackloop.scoring import score_pending
from feedbackloop.topics import assign_topics
from feedbackloop.web import create_app
from nlp import load_pipeline

RULES_ONLY = {"sentiment_model": "rules"}  # what these tests route on: the rule scorer

REPO = Path(__file__).resolve().parents[2]
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


def _require_browser() -> Any:
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


# ------------------------------------------------------------------------------------ data


def _load_demo(settings: Settings, engine: Engine) -> None:
    """Demo items scored and routed (live actions marked sent, one with two delivery
    attempts), topics, this week's review sample, and the marts (FAQ threshold 3, so the demo's
    small clusters are candidates)."""
    now = datetime.now(UTC)
    load_dataset(engine, generate(seed=23, tickets=300, now=now), hash_key=settings.hash_key())
    rules = load_rules(REPO / "config" / "routing.yml")
    score_pending(engine, load_pipeline(**RULES_ONLY), on_scored=scored_hook(rules, now=now))
    with engine.begin() as conn:
        conn.execute(text("UPDATE ops.actions SET status = 'sent' WHERE status = 'pending'"))
        conn.execute(
            text(
                "INSERT INTO ops.action_attempts (action_id, attempt_no, finished_at, outcome, "
                "http_status) SELECT id, 1, now(), 'sent', 200 FROM ops.actions "
                "WHERE status = 'sent'"
            )
        )
        conn.execute(text("UPDATE ops.actions SET attempts = 1 WHERE status = 'sent'"))
    assign_topics(engine, settings)
    sample_for_review(engine)
    build_marts(settings, quiet=True, dbt_vars={"faq_min_similar": 3})


@pytest.fixture(scope="module")
def site(pg_state_dir: Path) -> Iterator[tuple[str, Engine]]:
    """The app (webhooks + dashboard) under uvicorn on 127.0.0.1, a free port, in a thread."""
    import uvicorn

    _require_browser()  # fail before spending a minute on the data
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
        _load_demo(settings, engine)

    config = uvicorn.Config(
        create_app(settings, engine=engine), host="127.0.0.1", port=0, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="dashboard-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", engine
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser(site: tuple[str, Engine]) -> Iterator[Any]:
    sync_playwright = _require_browser()
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


# ----------------------------------------------------------------------------------- tests


def _navigation_status(tab: Any, url: str) -> int | None:
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


def test_a_request_without_credentials_gets_401(browser: Any, site: tuple[str, Engine]) -> None:
    url, _ = site
    for credentials in (None, {"username": "admin", "password": "wrong"}):
        context = browser.new_context(http_credentials=credentials)
        try:
            for path in ("/", "/faq", "/failures"):
                assert _navigation_status(context.new_page(), url + path) == 401, path
        finally:
            context.close()


def test_the_landing_page_renders_every_chart(
    page: Any, site: tuple[str, Engine], artifacts: Path
) -> None:
    url, _ = site
    response = page.goto(url + "/")
    assert response is not None and response.status == 200
    page.wait_for_load_state("load")

    def drawn(selector: str) -> int:
        """Shapes the browser laid out with a visible size."""
        boxes = [
            page.locator(selector).nth(i).bounding_box() for i in range(min(200, count(selector)))
        ]
        return sum(1 for b in boxes if b and b["width"] > 0 and b["height"] > 0)

    def count(selector: str) -> int:
        return page.locator(selector).count()

    # Key numbers: five cards, each with a value and a sparkline drawn.
    assert count(".kpi") == 5
    assert count(".kpi svg.spark") == 5 and count(".kpi svg.spark polyline") >= 4
    assert all(v.strip() for v in page.locator(".kpi .value").all_inner_texts())
    # Sentiment over 30 days: stacked bars of the five levels.
    assert drawn("#sentiment svg.chart-stacked rect.bar") > 20
    for level in ("very_negative", "negative", "neutral", "positive", "very_positive"):
        assert count(f'#sentiment rect.bar[data-level="{level}"]') > 0, level
    # Topic heat map: cells with items.
    assert drawn("#topics svg.chart-heatmap rect.cell.filled") > 0
    assert page.locator("#recent-actions a.action-link").count() > 0
    assert page.locator(".error-box").count() == 0  # every mart was readable as bi_reader

    shot = artifacts / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    print(f"landing page screenshot: {shot}")


def test_clicking_an_action_shows_why(page: Any, site: tuple[str, Engine]) -> None:
    url, engine = site
    page.goto(url + "/")
    link = page.locator("#recent-actions a.action-link").first
    action_id = int(link.inner_text().lstrip("#"))
    link.click()
    page.wait_for_url(re.compile(rf"/actions/{action_id}$"))
    with engine.connect() as conn:
        action = conn.execute(
            text("SELECT rule, model_version, explanation FROM ops.actions WHERE id = :a"),
            {"a": action_id},
        ).one()
    assert f"Why action #{action_id}" in page.locator("h1").inner_text()
    assert action.rule in page.locator("#rule h2").inner_text()
    rows = page.locator("#conditions tr").count() - 1  # less the header
    assert rows == max(len(action.explanation["conditions"]), 1)
    assert page.locator("#sentiment .model-version").inner_text() == action.model_version
    assert page.locator("#sentiment table.signals tr").count() > 1  # tokens and weights
    assert page.locator("#attempts").is_visible() and page.locator("#audit").is_visible()


def test_accepting_an_faq_candidate_changes_its_state(page: Any, site: tuple[str, Engine]) -> None:
    url, engine = site
    page.goto(url + "/faq")
    card = page.locator(".faq-candidate[data-decision='']").first
    cluster = int(card.get_attribute("data-cluster"))
    card.locator("input[name=reviewer]").fill("browser-tester")
    card.locator("button", has_text="Accept").click()
    page.wait_for_url(re.compile(r"/faq\?done=accepted"))
    assert f"Cluster {cluster} accepted" in page.locator(".flash").inner_text()
    with engine.connect() as conn:
        decision = conn.execute(
            text(
                "SELECT decision, decided_by FROM ops.faq_decisions WHERE cluster_id = :c "
                "ORDER BY id DESC LIMIT 1"
            ),
            {"c": cluster},
        ).one()
    assert tuple(decision) == ("accepted", "browser-tester")
    state = page.locator(f"#cluster-{cluster} .state").inner_text()
    assert "accepted" in state and "browser-tester" in state


def test_rating_a_review_item_stores_the_rating(page: Any, site: tuple[str, Engine]) -> None:
    url, engine = site
    page.goto(url + "/reviews")
    item = page.locator(".review-item").first
    review_id = int(item.get_attribute("data-review"))
    item.locator("select[name=sentiment_label]").select_option("very_negative")
    item.locator("button", has_text="Wrong").click()
    page.wait_for_url(re.compile(r"/reviews\?done=rated"))
    assert f"Review {review_id} stored." in page.locator(".flash").inner_text()
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT reviewer, verdict, sentiment_label, reviewed_at IS NOT NULL AS done "
                "FROM ops.human_reviews WHERE id = :r"
            ),
            {"r": review_id},
        ).one()
    assert tuple(row) == ("admin", "wrong", "very_negative", True)
    assert page.locator(f"#review-{review_id}").count() == 0  # left the queue
