"""The quick feedback form in a real headless Chromium with JavaScript disabled, against uvicorn
on 127.0.0.1, outside requests blocked: reached by keyboard alone, a survey link's answer is
sent and the thank-you page shown, the answer is stored linked to its ticket. The thank-you
page's screenshot is kept: `$TEST_ARTIFACTS_DIR/feedback-form.png`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine
from support.browser import TIMEOUT_MS, serve_site
from support.db import one
from support.form import survey_link_for_ticket, token_of

from feedbackloop.config import Settings

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


# The element's text colour and the first opaque background up its ancestors, as RGB.
_COLORS = """el => {
  const rgb = c => c.match(/[\\d.]+/g).slice(0, 4).map(Number);
  let bg = el;
  while (bg && (rgb(getComputedStyle(bg).backgroundColor)[3] === 0)) bg = bg.parentElement;
  const back = bg ? rgb(getComputedStyle(bg).backgroundColor) : [255, 255, 255];
  return [rgb(getComputedStyle(el).color).slice(0, 3), back.slice(0, 3)];
}"""


def _luminance(rgb: list[float]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(fore: list[float], back: list[float]) -> float:
    """WCAG 2 contrast ratio."""
    light, dark = sorted((_luminance(fore), _luminance(back)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _nothing(settings: Settings, engine: Engine) -> None:
    """The form needs no data of its own."""


@pytest.fixture(scope="module")
def site(pg_state_dir: Path) -> Iterator[tuple[str, Engine, Settings]]:
    with serve_site(pg_state_dir, _nothing, "form-uvicorn") as served:
        yield served


@pytest.fixture
def no_script_tab(browser: Any) -> Iterator[tuple[Any, list[str]]]:
    """A tab with JavaScript off; every request recorded, any to a non-loopback host aborted."""
    context = browser.new_context(java_script_enabled=False, viewport={"width": 800, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    seen: list[str] = []

    def handle(route: Any) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            route.abort("blockedbyclient")

    context.on("request", lambda r: seen.append(r.url))
    context.route("**/*", handle)
    try:
        yield context.new_page(), seen
    finally:
        context.close()


def test_the_form_submits_without_javascript_and_thanks(
    site: tuple[str, Engine, Settings], no_script_tab: tuple[Any, list[str]], artifacts: Path
) -> None:
    url, engine, settings = site
    tab, seen = no_script_tab
    settings = settings.model_copy(update={"public_base_url": "https://feedback.example.com"})
    link = survey_link_for_ticket(engine, settings, ticket_id="4242", contact_id="c-77")
    response = tab.goto(f"{url}/feedback?t={token_of(link.url)}")
    assert response is not None and response.status == 200

    # Contrast of every text the form shows against its background: at least 4.5:1.
    for selector in ("h1", "legend", "#rating-hint", ".scale label", ".field label", "#text",
                     "#disclosure", ".check label", "button"):  # fmt: skip
        colors = tab.locator(selector).first.evaluate(_COLORS)
        assert _contrast(*colors) >= 4.5, (selector, colors)

    # Keyboard only: the first radio of the rating group, arrows to 4, then on to the text box.
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.name") == "rating"
    for _ in range(3):
        tab.keyboard.press("ArrowRight")
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.id") == "text"
    tab.keyboard.type("Solved quickly, thanks. Exports still feel slow.")
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.id") == "email"
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.id") == "consent"
    tab.keyboard.press("Space")
    tab.keyboard.press("Tab")  # the honeypot is skipped (tabindex -1)
    assert tab.evaluate("document.activeElement.tagName") == "BUTTON"
    with tab.expect_navigation():
        tab.keyboard.press("Enter")

    assert tab.locator("#thanks").is_visible()
    assert "Thank you" in tab.locator("h1").inner_text()
    shot = artifacts / "feedback-form.png"
    tab.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 2_000

    stored = one(
        engine,
        "SELECT r.rating, r.text, r.consent_improvement, r.ticket_source_id, l.answers "
        "FROM raw.survey_responses r JOIN ops.survey_links l ON l.id = r.survey_link_id "
        "WHERE l.token = :rid",
        rid=link.rid,
    )
    assert stored.rating == 4 and stored.consent_improvement and stored.answers == 1
    assert stored.ticket_source_id == "4242" and stored.text.startswith("Solved quickly")
    outside = [u for u in seen if urlsplit(u).hostname not in LOOPBACK]
    assert outside == [], outside
