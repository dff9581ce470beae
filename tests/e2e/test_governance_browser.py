"""Data Docs and the `/governance` page in a real headless Chromium with every request to a host
other than loopback blocked (and recorded: none may even be attempted). Real GX runs in the
file context: a passing and a failing page of the raw-feedback gate, the scored-feedback check.

Browser, tab and launch flags come from conftest.py and support.browser; the app runs under
uvicorn on 127.0.0.1 as in test_dashboard_browser. Screenshots:
`$TEST_ARTIFACTS_DIR/data_docs_*.png` and `governance.png`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine
from support.browser import navigation_status, serve_site
from support.db import rows_by
from support.gx import feedback_text, ticket_row

from expectations.checkpoints import RAW_GATE, Validator, build_data_docs
from feedbackloop.config import Settings
from feedbackloop.db import database_url
from feedbackloop.governance.gate import gate_feedback, record_run

NOW = datetime.now(UTC)
SUITE = "raw_feedback_batch"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
# Rows of GX's expectation tables (header "Expectation"), not its nested value tables.
EXPECTATION_ROWS = 'table:has(> thead th:text-is("Expectation")) > tbody > tr'


def _ticket(source_id: str, body: str, source: str = "zendesk") -> dict:
    return ticket_row(source_id, body, NOW, source=source)


def _gx_runs(settings: Settings, engine: Engine) -> None:
    """A passing page, then a failing page (two rows from an unknown source), of the raw gate,
    and the scored-feedback check; recorded like the flows do, then the site built."""
    url = database_url(settings).render_as_string(hide_password=False)
    validator = Validator(
        settings.state_path, url, known_sources=["zendesk", "app_store", "crm"], now=NOW
    )
    good = [_ticket(str(i), f"How do I export report {i}?") for i in range(4)]
    bad = good[:2] + [_ticket(str(i), "hi", source="myspace") for i in (8, 9)]
    docs = str(validator.data_docs_index)
    for number, rows in enumerate((good, bad), start=1):
        decision = gate_feedback(validator, rows, "ticket", feedback_text)
        assert decision.outcome is not None
        with engine.begin() as conn:
            record_run(conn, decision.outcome, batch=f"page {number}", data_docs_path=docs)
    with engine.begin() as conn:
        record_run(conn, validator.check_scores(), batch="nlp.feedback_scores", data_docs_path=docs)
    build_data_docs(settings.state_path)


@pytest.fixture(scope="module")
def site(pg_state_dir: Path) -> Iterator[tuple[str, Engine, Settings]]:
    """The app under uvicorn on 127.0.0.1 (a free port, in a thread) over the GX runs above."""
    with serve_site(pg_state_dir, _gx_runs, "governance-uvicorn") as served:
        yield served


def _block_outside(context: Any) -> list[str]:
    """Every request the tab makes, recorded; any to a host other than loopback aborted."""
    seen: list[str] = []

    def local(url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("file", "data", "about", "blob") or parts.hostname in LOOPBACK

    def handle(route: Any) -> None:
        if local(route.request.url):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    context.on("request", lambda r: seen.append(r.url))
    context.route("**/*", handle)
    return seen


def _outside(seen: list[str]) -> list[str]:
    return [
        u
        for u in seen
        if urlsplit(u).scheme not in ("file", "data", "about", "blob")
        and urlsplit(u).hostname not in LOOPBACK
    ]


def _latest(engine: Engine) -> dict[str, Any]:
    sql = (
        "SELECT DISTINCT ON (checkpoint) checkpoint, id, results FROM ops.validation_runs "
        "ORDER BY checkpoint, run_at DESC, id DESC"
    )
    return rows_by(engine, "checkpoint", sql)


def _expectation_rows(tab: Any, engine: Engine) -> None:
    """The open validation page shows the failing raw-gate run's expectations, one visible row
    each, one of them failed with its two unexpected values."""
    stored = _latest(engine)[RAW_GATE].results["expectations"]
    rows = tab.locator(EXPECTATION_ROWS)
    assert rows.count() == len(stored) > 0
    boxes = [rows.nth(i).bounding_box() for i in range(rows.count())]
    assert all(b and b["width"] > 0 and b["height"] > 0 for b in boxes)
    failed = rows.filter(has=tab.locator("i.fa-times"))
    assert failed.count() == sum(1 for e in stored if not e["success"]) == 1
    assert "2 unexpected values found" in failed.first.inner_text()


def test_data_docs_index_lists_validations_offline(
    browser: Any, site: tuple[str, Engine, Settings], artifacts: Path
) -> None:
    _, engine, settings = site
    index = Path(settings.state_path) / "gx/gx/uncommitted/data_docs/local_site/index.html"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    seen = _block_outside(context)
    tab = context.new_page()
    try:
        tab.goto(index.as_uri())
        tab.wait_for_load_state("load")
        listed = tab.locator("#validations tr.validation a.validation-link")
        names = set(listed.all_inner_texts())
        latest = _latest(engine)
        suites = {s for r in latest.values() for s in r.results["pages"]}
        assert suites == {SUITE, "scored_feedback"} and suites <= names
        # The failing run is listed as failed and links to its page.
        page_path = latest[RAW_GATE].results["pages"][SUITE]
        link = tab.locator(f'a.validation-link[href="{page_path}"]')
        assert link.count() == 1
        row = tab.locator("tr.validation", has=link)
        assert "failed" in (row.get_attribute("class") or "")
        tab.screenshot(path=str(artifacts / "data_docs_index.png"), full_page=True)
        link.click()
        tab.wait_for_url(re.compile(re.escape(page_path) + "$"))
        _expectation_rows(tab, engine)
        tab.screenshot(path=str(artifacts / "data_docs_validation.png"), full_page=True)
    finally:
        context.close()
    assert seen, "no request was recorded at all"
    assert _outside(seen) == []


def test_governance_page_shows_the_latest_run_per_checkpoint(
    page: Any, site: tuple[str, Engine, Settings], artifacts: Path
) -> None:
    url, engine, _ = site
    seen = _block_outside(page.context)
    response = page.goto(url + "/governance")
    assert response is not None and response.status == 200
    latest = _latest(engine)
    cards = page.locator("section.checkpoint")
    assert {cards.nth(i).get_attribute("data-checkpoint") for i in range(cards.count())} == set(
        latest
    )
    for name, run in latest.items():
        card = page.locator(f'section.checkpoint[data-checkpoint="{name}"]')
        assert card.get_attribute("data-run") == str(run.id)
    raw = page.locator(f'section.checkpoint[data-checkpoint="{RAW_GATE}"]')
    assert raw.get_attribute("data-success") == "false"
    failing = raw.locator("tr.expectation.failed")
    assert failing.count() == 1
    assert "be in set" in failing.inner_text() and "source" in failing.inner_text()
    assert failing.locator("td.failing").inner_text().strip() == "2 of 4"
    assert raw.locator("tr.expectation.passed").count() > 0
    page.screenshot(path=str(artifacts / "governance.png"), full_page=True)

    raw.locator(f'a.docs-link[data-suite="{SUITE}"]').click()
    page_path = latest[RAW_GATE].results["pages"][SUITE]
    page.wait_for_url(re.compile(re.escape("/governance/docs/" + page_path) + "$"))
    _expectation_rows(page, engine)
    # Home of the site, served the same way.
    page.goto(url + "/governance/docs/")
    assert page.locator("#validations tr.validation").count() >= 3
    assert seen and _outside(seen) == []


def test_governance_needs_credentials_and_serves_nothing_outside_the_site(
    browser: Any, page: Any, site: tuple[str, Engine, Settings]
) -> None:
    url, _, _ = site
    for path in ("/governance", "/governance/docs/index.html"):
        context = browser.new_context()
        try:
            assert navigation_status(context.new_page(), url + path) == 401, path
        finally:
            context.close()
    for path in (
        "/governance/docs/..%2F..%2F..%2Fpii_hash_key",
        "/governance/docs/%2E%2E/%2E%2E/great_expectations.yml",
        "/governance/docs/../../great_expectations.yml",
        "/governance/docs/nothing.html",
    ):
        response = page.request.get(url + path)
        assert response.status == 404, (path, response.status)
