"""What the feedback-form tests share: the app under uvicorn on 127.0.0.1 in a thread, the
form's token read from a page, a survey link made by the library for a ticket's auto-reply."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import Engine, text

from feedbackloop.config import Settings
from feedbackloop.surveys import NewLink, SurveyLinks, record_link
from feedbackloop.web import create_app
from feedbackloop.web.server import serve_app as serving

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def serve_app(settings: Settings, engine: Engine) -> Iterator[str]:
    """`create_app` under uvicorn on a free port of 127.0.0.1; its base URL."""
    with serving(create_app(settings, engine=engine), name="form-uvicorn") as url:
        yield url


def form_token(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no form token on the page"
    return found.group(1)


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["t"][0]


def post_form(client: httpx.Client, base: str, **fields: str) -> httpx.Response:
    """GET the form (with `t` when given), then POST it with its token and `fields`."""
    params = {"t": fields["t"]} if "t" in fields else None
    page = client.get(f"{base}/feedback", params=params)
    assert page.status_code == 200, page.text
    return client.post(
        f"{base}/feedback", data={"csrf_token": form_token(page.text), **fields}, timeout=120
    )


def survey_link_for_ticket(
    engine: Engine,
    settings: Settings,
    *,
    ticket_id: str = "5001",
    contact_id: str | None = "c-900",
    now: datetime | None = None,
    rule: str = "survey-after-solved-ticket",
    template: str = "survey_after_ticket",
    segment: str = "pro",
    status: str = "sent",
) -> NewLink:
    """An auto-reply action on a ticket with its survey link, written as `decide` writes them."""
    now = now or datetime.now(UTC)
    links = SurveyLinks.from_settings(settings)
    assert links is not None, "set public_base_url"
    link = links.new(now)
    with engine.begin() as conn:
        action_id = conn.execute(
            text(
                "INSERT INTO ops.actions (idempotency_key, item_type, item_source, item_source_id,"
                " rule, action_type, status, sent_at) VALUES (:k, 'ticket', 'zendesk', :t, :r,"
                " 'auto_reply', :s, CASE WHEN :sent THEN now() END) RETURNING id"
            ),
            {"k": f"ticket:zendesk:{ticket_id}|{rule}|auto_reply", "t": ticket_id, "r": rule,
             "s": status, "sent": status == "sent"},
        ).scalar_one()  # fmt: skip
        record_link(
            conn,
            link,
            action_id=action_id,
            item=("ticket", "zendesk", ticket_id),
            rule=rule,
            template=template,
            segment=segment,
            ticket_id=ticket_id,
            contact_id=contact_id,
            account_id=None,
            language="en",
        )
    return link
