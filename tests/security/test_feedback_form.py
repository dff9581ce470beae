"""The public feedback form through a real server (uvicorn on 127.0.0.1): CSRF, honeypot, size
and rate limits, framing, survey-link tokens (forged, expired, opened twice, answered twice) and
what an answer leaves in the database (masked text, no invalid address, consent, the item)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from support.db import count, crm_contact, one, rows
from support.form import form_token, post_form, serve_app, survey_link_for_ticket, token_of

from feedbackloop.config import Settings
from feedbackloop.db import embedded_server, ensure_ready, get_engine
from feedbackloop.governance.identity import email_hash
from feedbackloop.surveys import sign_token

FRAMERS = ["'self'", "https://www.example.com", "bad; script-src *"]


@pytest.fixture(scope="module")
def site(pg_state_dir: Path) -> Iterator[tuple[str, Engine, Settings]]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    settings = Settings(
        state_dir=pg_state_dir,
        embedded_database=name,
        public_base_url="https://feedback.example.com",
        feedback_form_frame_ancestors=FRAMERS,
        feedback_form_rate_limit=1000,
        feedback_form_max_text=2000,
    )
    embedded_server(settings).ensure_database(name)
    engine = ensure_ready(settings)
    with serve_app(settings, engine) as url:
        yield url, engine, settings
    get_engine(settings).dispose()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as c:
        yield c


def _answers(engine: Engine) -> int:
    return count(engine, "SELECT count(*) FROM raw.survey_responses")


@contextmanager
def _nothing_stored(engine: Engine) -> Iterator[None]:
    """The block adds no answer."""
    before = _answers(engine)
    yield
    assert _answers(engine) == before


def test_the_form_is_accessible_and_framed_only_by_configured_origins(
    site: tuple[str, Engine, Settings], client: httpx.Client
) -> None:
    url, _, _ = site
    page = client.get(f"{url}/feedback")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'self' https://www.example.com" in csp
    assert "script-src" not in csp  # a setting cannot add a directive
    assert "x-frame-options" not in page.headers
    html = page.text
    assert '<html lang="en">' in html
    assert "<fieldset" in html and "<legend>" in html
    for value in range(1, 6):
        assert f'<label for="rating-{value}">' in html and f'id="rating-{value}"' in html
    for field in ("text", "email", "consent"):
        assert f'<label for="{field}">' in html and f'id="{field}"' in html
    assert "automated system reads every answer" in html
    assert "<script" not in html
    nps = client.get(f"{url}/feedback", params={"scale": "nps"}).text
    assert 'id="rating-0"' in nps and 'id="rating-10"' in nps


def test_a_post_without_or_with_a_wrong_form_token_is_403(
    site: tuple[str, Engine, Settings], client: httpx.Client
) -> None:
    url, engine, _ = site
    with _nothing_stored(engine):
        missing = client.post(f"{url}/feedback", data={"rating": "4", "text": "fine"})
        assert missing.status_code == 403
        wrong = client.post(
            f"{url}/feedback", data={"rating": "4", "text": "fine", "csrf_token": "123.abc"}
        )
        assert wrong.status_code == 403


def test_a_filled_honeypot_gets_the_thank_you_page_and_stores_nothing(
    site: tuple[str, Engine, Settings], client: httpx.Client
) -> None:
    url, engine, _ = site
    with _nothing_stored(engine):
        response = post_form(
            client, url, rating="5", text="buy cheap pills", website="spam.example"
        )
        assert response.status_code == 200 and 'id="thanks"' in response.text


def test_oversized_text_is_413_and_not_stored(
    site: tuple[str, Engine, Settings], client: httpx.Client
) -> None:
    url, engine, _ = site
    with _nothing_stored(engine):
        assert post_form(client, url, rating="3", text="x" * 2001).status_code == 413
        # Far beyond the body cap: refused on its declared length.
        assert post_form(client, url, rating="3", text="y" * 200_000).status_code == 413


def _crm_contact(engine: Engine, source_id: str, email: str, key: bytes) -> None:
    """A CRM contact with a valid `email`, stored as its hash under `key`."""
    with engine.begin() as conn:
        crm_contact(conn, source_id, email_hash=email_hash(email, key), email_valid=True)


def test_an_answer_is_masked_gated_and_becomes_a_feedback_item(
    site: tuple[str, Engine, Settings], client: httpx.Client
) -> None:
    url, engine, settings = site
    _crm_contact(engine, "c-42", "known@example.com", settings.hash_key())
    response = post_form(
        client,
        url,
        rating="2",
        text="Call me on +1 415 555 0132 or write to liam.otoole@example.org, exports fail",
        email="Known@Example.com",
        consent="yes",
    )
    assert response.status_code == 200 and 'id="thanks"' in response.text
    row = one(
        engine,
        "SELECT * FROM raw.survey_responses WHERE contact_source_id = 'c-42'",
    )
    assert "555" not in row.text and "example.org" not in row.text and "<" in row.text
    assert row.rating == 2 and row.rating_scale == "1-5" and row.consent_improvement
    assert row.survey_link_id is None and row.source_id.startswith("form-")
    item = one(
        engine,
        "SELECT * FROM ops.feedback_items WHERE item_type = 'survey_response' "
        "AND item_source_id = :s",
        s=row.source_id,
    )
    assert item.has_text and item.channel == "feedback_form" and item.contact_id == "c-42"
    consent = one(
        engine,
        "SELECT granted, recorded_by FROM ops.consent WHERE contact_source = 'crm' "
        "AND contact_source_id = 'c-42' AND purpose = 'improvement'",
    )
    assert consent.granted is True and consent.recorded_by == "feedbackloop feedback form"
    # Unticked on a later answer: the person's latest decision, one row per contact and purpose.
    assert post_form(client, url, rating="3", email="known@example.com").status_code == 200
    assert one(
        engine,
        "SELECT count(*) AS n, bool_and(granted) AS granted FROM ops.consent "
        "WHERE contact_source_id = 'c-42' AND purpose = 'improvement'",
    ) == (1, False)
    runs = count(
        engine,
        "SELECT count(*) FROM ops.validation_runs WHERE batch = 'feedback_form survey_responses'",
    )
    assert runs >= 1
    assert (
        count(
            engine,
            "SELECT count(*) FROM ops.audit_log WHERE action = 'survey_answer' AND entity_id = :e",
            e=f"feedback_form:{row.source_id}",
        )
        == 1
    )


def test_an_invalid_address_leaves_nothing_behind(
    site: tuple[str, Engine, Settings], client: httpx.Client
) -> None:
    url, engine, settings = site
    response = post_form(client, url, rating="4", text="nice work", email="not an address@@x")
    assert response.status_code == 200
    stored = rows(
        engine,
        "SELECT contact_source_id, email_invalid_reason FROM raw.survey_responses "
        "WHERE email_valid IS false",
    )
    assert stored and all(r.contact_source_id is None and r.email_invalid_reason for r in stored)
    # Neither the address nor its keyed hash is stored anywhere (valid or not).
    hashed = email_hash("not an address@@x", settings.hash_key())
    known = email_hash("known@example.com", settings.hash_key())
    for table in ("raw.survey_responses", "ops.quarantine", "ops.audit_log"):
        dump = " ".join(str(v) for r in rows(engine, f"SELECT * FROM {table}") for v in r)
        assert "address@@x" not in dump and hashed not in dump and known not in dump


def test_a_survey_link_is_opened_once_and_answered_once(
    site: tuple[str, Engine, Settings], client: httpx.Client
) -> None:
    url, engine, settings = site
    link = survey_link_for_ticket(engine, settings, ticket_id="7001", contact_id="c-7")
    assert "7001" not in link.url and "c-7" not in link.url and link.url.count("/") == 3
    token = token_of(link.url)
    for _ in range(2):
        assert client.get(f"{url}/feedback", params={"t": token}).status_code == 200
    opened = one(engine, "SELECT opened_at, answers FROM ops.survey_links WHERE token = :r",
                 r=link.rid)  # fmt: skip
    assert opened.opened_at is not None and opened.answers == 0
    first = post_form(client, url, t=token, rating="3", text="ok I guess", consent="yes")
    assert first.status_code == 200
    second = post_form(client, url, t=token, rating="5", text="actually great", consent="yes")
    assert second.status_code == 200
    answers = rows(
        engine,
        "SELECT r.source_id, r.rating, r.text, r.ticket_source_id, r.contact_source_id "
        "FROM raw.survey_responses r JOIN ops.survey_links l ON l.id = r.survey_link_id "
        "WHERE l.token = :r",
        r=link.rid,
    )
    assert len(answers) == 1  # updated, never duplicated
    assert answers[0].rating == 5 and answers[0].text == "actually great"
    assert answers[0].ticket_source_id == "7001" and answers[0].contact_source_id == "c-7"
    after = one(
        engine,
        "SELECT opened_at, answered_at, last_answered_at, answers FROM ops.survey_links "
        "WHERE token = :r",
        r=link.rid,
    )
    assert after.opened_at == opened.opened_at  # the second open counted nothing
    assert after.answers == 2 and after.answered_at < after.last_answered_at
    item = one(
        engine,
        "SELECT department, zendesk_ticket_id FROM ops.feedback_items "
        "WHERE item_type = 'survey_response' AND item_source_id = :s",
        s=answers[0].source_id,
    )
    assert item.department == "support" and item.zendesk_ticket_id == "7001"


@pytest.mark.parametrize("kind", ["expired", "forged"])
def test_an_expired_or_forged_token_still_gets_the_form_but_no_link(
    site: tuple[str, Engine, Settings], client: httpx.Client, kind: str
) -> None:
    url, engine, settings = site
    link = survey_link_for_ticket(engine, settings, ticket_id=f"80{len(kind)}", contact_id="c-8")
    rid, stamp, mac = token_of(link.url).split(".")
    if kind == "expired":
        token = sign_token(settings.survey_secret(), rid, datetime.now(UTC) - timedelta(hours=1))
    else:
        token = f"{rid}.{stamp}.{mac[::-1]}"
    page = client.get(f"{url}/feedback", params={"t": token})
    assert page.status_code == 200 and 'name="t"' not in page.text
    marker = f"{kind} token answer"
    response = post_form(client, url, t=token, rating="4", text=marker)
    assert response.status_code == 200 and 'id="thanks"' in response.text
    stored = one(
        engine,
        "SELECT survey_link_id, ticket_source_id, contact_source_id FROM raw.survey_responses "
        "WHERE text = :m",
        m=marker,
    )
    assert stored.survey_link_id is None and stored.ticket_source_id is None
    assert stored.contact_source_id is None
    untouched = one(
        engine, "SELECT opened_at, answers FROM ops.survey_links WHERE token = :r", r=rid
    )
    assert untouched.opened_at is None and untouched.answers == 0


def test_a_client_over_the_rate_limit_gets_429_with_retry_after(
    pg_state_dir: Path, client: httpx.Client
) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    settings = Settings(state_dir=pg_state_dir, embedded_database=name, feedback_form_rate_limit=2)
    embedded_server(settings).ensure_database(name)
    engine = ensure_ready(settings)
    try:
        with serve_app(settings, engine) as url:
            token = form_token(client.get(f"{url}/feedback").text)
            statuses = [
                client.post(f"{url}/feedback", data={"csrf_token": token, "rating": "4"})
                for _ in range(3)
            ]
            assert [r.status_code for r in statuses] == [200, 200, 429]
            retry = int(statuses[-1].headers["retry-after"])
            assert 0 < retry <= 600
            assert _answers(engine) == 2
    finally:
        get_engine(settings).dispose()


def test_erasure_reaches_the_answers_of_the_person(
    site: tuple[str, Engine, Settings], client: httpx.Client
) -> None:
    from feedbackloop.governance.erasure import ERASED, forget

    url, engine, settings = site
    key = settings.hash_key()
    _crm_contact(engine, "c-erase", "erase.me@example.com", key)
    link = survey_link_for_ticket(engine, settings, ticket_id="9911", contact_id="c-erase")
    assert post_form(client, url, t=token_of(link.url), rating="1", text="awful").is_success
    assert post_form(client, url, rating="2", text="still bad", email="erase.me@example.com")
    with engine.begin() as conn:
        report = forget(conn, "erase.me@example.com", key, actor="test")
    assert report.changed["raw.survey_responses"] == 2
    texts = rows(
        engine, "SELECT text FROM raw.survey_responses WHERE contact_source_id = 'c-erase'"
    )
    assert [r.text for r in texts] == [ERASED, ERASED]


def test_without_a_survey_secret_in_production_the_form_is_closed(
    settings: Settings, engine: Engine
) -> None:
    from pydantic import SecretStr

    production = settings.model_copy(
        update={
            "database_url": SecretStr("postgresql://feedback@db.internal/feedback"),
            "pii_hash_key": SecretStr("a-production-key"),
        }
    )
    with serve_app(production, engine) as url, httpx.Client(timeout=30) as client:
        closed = client.get(f"{url}/feedback")
        assert closed.status_code == 503
        assert "FEEDBACKLOOP_SURVEY_LINK_SECRET" in closed.text
        assert client.post(f"{url}/feedback", data={"rating": "5"}).status_code == 503
        assert client.get(f"{url}/healthz").status_code == 200  # the webhooks run on
