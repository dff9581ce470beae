"""The dashboard in a real headless Chromium (Debian's `chromium`, driven by Playwright) against
uvicorn on 127.0.0.1, on demo data with real marts: charts render, a click on an action shows
why it was taken, accepting an FAQ candidate and rating a review reach the database, and a
request without credentials gets 401. The landing page's screenshot is kept as an artifact:
`$TEST_ARTIFACTS_DIR/dashboard.png`, by default `<pytest basetemp>/artifacts/dashboard.png`.

Chromium missing is a failure, not a skip: `make install-browser` installs it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from sqlalchemy import Engine, text
from support.browser import navigation_status, serve_site
from support.db import one
from support.items import scored_and_routed

from feedbackloop.config import Settings
from feedbackloop.marts import build_marts
from feedbackloop.review import sample_for_review
from feedbackloop.routing import load_rules
from feedbackloop.topics import assign_topics

RULES_ONLY = {"sentiment_model": "rules"}  # what these tests route on: the rule scorer

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------ data


def _load_demo(settings: Settings, engine: Engine) -> None:
    """Demo items scored and routed (live actions marked sent, one with two delivery
    attempts), topics, this week's review sample, and the marts (FAQ threshold 3, so the demo's
    small clusters are candidates)."""
    now = datetime.now(UTC)
    scored_and_routed(engine, settings, load_rules(REPO / "config" / "routing.yml"), now=now)
    with engine.begin() as conn:
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
    """The app (webhooks + dashboard) on the demo data; the browser fixtures are in conftest."""
    with serve_site(pg_state_dir, _load_demo, "dashboard-uvicorn") as (url, engine, _):
        yield url, engine


# ----------------------------------------------------------------------------------- tests


def test_a_request_without_credentials_gets_401(browser: Any, site: tuple[str, Engine]) -> None:
    url, _ = site
    for credentials in (None, {"username": "admin", "password": "wrong"}):
        context = browser.new_context(http_credentials=credentials)
        try:
            for path in ("/", "/faq", "/failures"):
                assert navigation_status(context.new_page(), url + path) == 401, path
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
    action = one(
        engine,
        "SELECT rule, model_version, explanation FROM ops.actions WHERE id = :a",
        a=action_id,
    )
    assert f"Why action #{action_id}" in page.locator("h1").inner_text()
    assert action.rule in page.locator("#rule h2").inner_text()
    rows = page.locator("#conditions tr").count() - 1  # less the header
    assert rows == max(len(action.explanation["conditions"]), 1)
    assert page.locator("#sentiment .model-version").inner_text() == action.model_version
    assert page.locator("#sentiment table.signals tr").count() > 1  # tokens and weights
    assert page.locator("#attempts").is_visible() and page.locator("#audit").is_visible()


class _Form(NamedTuple):
    """A card's form on a dashboard page, and where its button redirects to (`?done=`)."""

    path: str
    card: str
    id_attribute: str
    button: str
    done: str


FAQ_ACCEPT = _Form("/faq", ".faq-candidate[data-decision='']", "data-cluster", "Accept", "accepted")
REVIEW_WRONG = _Form("/reviews", ".review-item", "data-review", "Wrong", "rated")

# The row each form stores, `:id` the card's id.
FAQ_DECISION = (
    "SELECT decision, decided_by FROM ops.faq_decisions WHERE cluster_id = :id "
    "ORDER BY id DESC LIMIT 1"
)
REVIEW_RATING = (
    "SELECT reviewer, verdict, sentiment_label, reviewed_at IS NOT NULL AS done "
    "FROM ops.human_reviews WHERE id = :id"
)


def _sign(card: Any) -> None:
    card.locator("input[name=reviewer]").fill("browser-tester")


def _rate(item: Any) -> None:
    item.locator("select[name=sentiment_label]").select_option("very_negative")


def _shows_the_acceptance(page: Any, cluster: int) -> None:
    state = page.locator(f"#cluster-{cluster} .state").inner_text()
    assert "accepted" in state and "browser-tester" in state


def _left_the_queue(page: Any, review: int) -> None:
    assert page.locator(f"#review-{review}").count() == 0


@pytest.mark.parametrize(
    ("form", "fill", "flash", "stored", "row", "after"),
    [
        (
            FAQ_ACCEPT,
            _sign,
            "Cluster {} accepted",
            FAQ_DECISION,
            ("accepted", "browser-tester"),
            _shows_the_acceptance,
        ),
        (
            REVIEW_WRONG,
            _rate,
            "Review {} stored.",
            REVIEW_RATING,
            ("admin", "wrong", "very_negative", True),
            _left_the_queue,
        ),
    ],
    ids=["accepting-an-faq-candidate", "rating-a-review-item"],
)
def test_a_card_form_reaches_the_database_and_the_page(
    page: Any,
    site: tuple[str, Engine],
    form: _Form,
    fill: Callable[[Any], Any],
    flash: str,
    stored: str,
    row: tuple[Any, ...],
    after: Callable[[Any, int], None],
) -> None:
    """Fill in the form's first card and press its button: the flash names the card, the
    database holds the row the form stores, and the page shows the card's new state."""
    url, engine = site
    page.goto(url + form.path)
    first = page.locator(form.card).first
    card_id = int(first.get_attribute(form.id_attribute))
    fill(first)
    first.locator("button", has_text=form.button).click()
    page.wait_for_url(re.compile(re.escape(f"{form.path}?done={form.done}")))
    assert flash.format(card_id) in page.locator(".flash").inner_text()
    assert tuple(one(engine, stored, id=card_id)) == row
    after(page, card_id)
