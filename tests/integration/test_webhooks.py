"""The webhook receiver over real HTTP (uvicorn on 127.0.0.1, a migrated PostgreSQL): signatures,
replay window, de-duplication, masking, quarantine, and the drain into raw rows."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, text
from support.webhooks import post_generic, post_zendesk, serve_webhooks

from feedbackloop.config import Settings
from feedbackloop.sources.webhooks import process_webhook_events
from feedbackloop.web import create_app
from feedbackloop.web.app import (
    generic_signature,
    verify_zendesk_signature,
    zendesk_signature,
)

SECRET = "test-zendesk-signing-secret"
SURVEY_SECRET = "test-survey-secret"
CARD = "4111 1111 1111 1111"

# The worked example from Zendesk's "Verifying webhook authenticity" page.
DOC_SECRET = "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA="
DOC_BODY = b'{"say": "hello"}'
DOC_TIMESTAMP = "2021-07-25T10:00:00Z"
DOC_SIGNATURE = "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw="


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "zendesk_webhook_secret": SecretStr(SECRET),
            "webhook_secrets": {"survey": SecretStr(SURVEY_SECRET)},
        }
    )


@pytest.fixture
def base(web_settings: Settings, engine: Engine) -> Iterator[str]:
    with serve_webhooks(create_app(web_settings, engine=engine)) as url:
        yield url


def _now_iso(offset: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) + offset).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ticket_event(kind: str = "ticket.created", **detail: Any) -> dict[str, Any]:
    return {
        "type": f"zen:event-type:{kind}",
        "account_id": 22129848,
        "id": "d4f5c389-8f4a-4c2e-a1b9-8e4f39c71d52",
        "time": "2026-10-08T14:25:30.123456789Z",
        "zendesk_event_version": "2022-11-06",
        "subject": "zen:ticket:5158",
        "detail": {
            "id": "5158",
            "subject": "Cannot login to mobile app",
            "description": "App crashes at login",
            "status": "OPEN",
            "priority": "HIGH",
            "requester_id": "900",
            "assignee_id": "901",
            "tags": ["mobile"],
            "via": {"channel": "web"},
            "created_at": "2026-10-08T10:12:07Z",
            "updated_at": "2026-10-08T14:25:30Z",
            **detail,
        },
        "event": {},
    }


def _post_zendesk(
    base: str,
    payload: dict[str, Any] | bytes,
    *,
    invocation: str | None = "inv-1",
    timestamp: str | None = None,
    secret: str = SECRET,
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    ts = timestamp or _now_iso()
    return post_zendesk(base, body, ts, secret, invocation)


def _events(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(text("SELECT * FROM raw.webhook_events ORDER BY id")).all()


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_signed_event_is_stored_masked_then_deduplicated(base: str, engine: Engine) -> None:
    event = _ticket_event(description=f"my card is {CARD}, call +44 20 7946 0958")
    first = _post_zendesk(base, event, invocation="8350205582")
    assert first.status_code == 200
    assert first.json() == {"status": "stored", "delivery_id": "8350205582"}
    again = _post_zendesk(base, event, invocation="8350205582")
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"

    (row,) = _events(engine)
    assert (row.source, row.source_id) == ("zendesk", "8350205582")
    assert row.event_type == "zen:event-type:ticket.created"
    assert row.updated_at == datetime(2026, 10, 8, 14, 25, 30, 123456, tzinfo=UTC)
    assert row.processed_at is None
    stored = json.dumps(row.payload)
    assert CARD not in stored and "7946 0958" not in stored
    assert "<CREDIT_CARD>" in row.payload["detail"]["description"]
    assert row.payload["detail"]["subject"] == "Cannot login to mobile app"


def test_documented_example_verifies(web_settings: Settings, engine: Engine) -> None:
    assert verify_zendesk_signature(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY, DOC_SIGNATURE)
    assert not verify_zendesk_signature(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY + b" ", DOC_SIGNATURE)
    assert not verify_zendesk_signature(DOC_SECRET, "2021-07-25T10:00:01Z", DOC_BODY, DOC_SIGNATURE)
    assert not verify_zendesk_signature("other", DOC_TIMESTAMP, DOC_BODY, DOC_SIGNATURE)
    assert not verify_zendesk_signature(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY, "not base64!")

    # The same request end to end, with the clock set to one minute after the example.
    doc_settings = web_settings.model_copy(update={"zendesk_webhook_secret": SecretStr(DOC_SECRET)})
    at = datetime(2021, 7, 25, 10, 1, tzinfo=UTC).timestamp()
    with serve_webhooks(create_app(doc_settings, engine=engine, clock=lambda: at)) as url:
        headers = {
            "x-zendesk-webhook-signature": DOC_SIGNATURE,
            "x-zendesk-webhook-signature-timestamp": DOC_TIMESTAMP,
            "x-zendesk-webhook-invocation-id": "doc-example",
        }
        ok = httpx.post(f"{url}/webhooks/zendesk", content=DOC_BODY, headers=headers)
        tampered = httpx.post(
            f"{url}/webhooks/zendesk", content=b'{"say": "hellO"}', headers=headers
        )
    assert ok.status_code == 200 and ok.json()["status"] == "stored"
    assert tampered.status_code == 401
    (row,) = _events(engine)
    assert row.payload == {"say": "hello"}


def test_bad_missing_and_stale_signatures_are_refused(base: str, engine: Engine) -> None:
    event = _ticket_event()
    assert _post_zendesk(base, event, secret="wrong-secret").status_code == 401
    assert _post_zendesk(base, event, timestamp=_now_iso(timedelta(minutes=-6))).status_code == 401
    assert _post_zendesk(base, event, timestamp=_now_iso(timedelta(minutes=6))).status_code == 401
    assert _post_zendesk(base, event, timestamp="yesterday").status_code == 401
    unsigned = httpx.post(f"{base}/webhooks/zendesk", json=event)
    assert unsigned.status_code == 401
    ts = _now_iso()
    body = json.dumps(event).encode()
    no_ts = httpx.post(
        f"{base}/webhooks/zendesk",
        content=body,
        headers={"x-zendesk-webhook-signature": zendesk_signature(SECRET, ts, body)},
    )
    assert no_ts.status_code == 401
    # Signed over different bytes than were sent (e.g. a re-serialized body).
    resent = httpx.post(
        f"{base}/webhooks/zendesk",
        content=json.dumps(event, indent=2).encode(),
        headers={
            "x-zendesk-webhook-signature": zendesk_signature(SECRET, ts, body),
            "x-zendesk-webhook-signature-timestamp": ts,
        },
    )
    assert resent.status_code == 401
    assert _events(engine) == []
    # Within the window it is accepted.
    assert _post_zendesk(base, event, timestamp=_now_iso(timedelta(minutes=-4))).status_code == 200


def test_without_delivery_id_the_event_identity_dedupes(base: str, engine: Engine) -> None:
    ts = _now_iso()
    event = _ticket_event()
    assert _post_zendesk(base, event, invocation=None, timestamp=ts).json()["status"] == "stored"
    assert _post_zendesk(base, event, invocation=None, timestamp=ts).json()["status"] == "duplicate"
    (row,) = _events(engine)
    assert row.source_id == f"event:{event['id']}"
    # A body that is no Zendesk event (a trigger's own JSON) is known by its hash.
    trigger = json.dumps({"ticket_id": "5158", "status": "open"}).encode()
    assert _post_zendesk(base, trigger, invocation=None).json()["status"] == "stored"
    assert _events(engine)[-1].source_id == hashlib.sha256(trigger).hexdigest()


def test_malformed_json_is_refused_and_quarantined_masked(base: str, engine: Engine) -> None:
    body = b'{"comment": "card ' + CARD.encode() + b'", '
    response = _post_zendesk(base, body, invocation="broken-1")
    assert response.status_code == 400
    assert _events(engine) == []
    with engine.connect() as conn:
        (parked,) = conn.execute(text("SELECT * FROM ops.quarantine")).all()
    assert (parked.source, parked.stream, parked.source_id) == (
        "zendesk",
        "webhook_events",
        "broken-1",
    )
    assert parked.reason.startswith("malformed JSON")
    assert CARD not in parked.payload["excerpt"] and "<CREDIT_CARD>" in parked.payload["excerpt"]


def test_generic_source_good_bad_unknown(base: str, engine: Engine) -> None:
    body = json.dumps({"type": "survey.answered", "answer": "great", "score": 9}).encode()
    ts = str(int(time.time()))

    def post(source: str, signature: str, timestamp: str = ts) -> httpx.Response:
        return httpx.post(
            f"{base}/webhooks/{source}",
            content=body,
            headers={
                "x-feedbackloop-signature": signature,
                "x-feedbackloop-timestamp": timestamp,
                "x-feedbackloop-delivery": "sv-1",
            },
        )

    good = post("survey", generic_signature(SURVEY_SECRET, ts, body))
    assert good.status_code == 200 and good.json()["status"] == "stored"
    assert post("survey", generic_signature("nope", ts, body)).status_code == 401
    assert post("survey", "sha256=" + "0" * 64).status_code == 401
    old = str(int(time.time()) - 600)
    assert post("survey", generic_signature(SURVEY_SECRET, old, body), old).status_code == 401
    assert post("gong", generic_signature(SURVEY_SECRET, ts, body)).status_code == 404
    (row,) = _events(engine)
    assert (row.source, row.source_id, row.event_type) == ("survey", "sv-1", "survey.answered")


def test_healthz(base: str) -> None:
    response = httpx.get(f"{base}/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_process_webhook_events_builds_raw_rows_idempotently(base: str, engine: Engine) -> None:
    created = _ticket_event()
    comment = _ticket_event(
        "ticket.comment_added", status="PENDING", updated_at="2026-10-08T15:00:00Z"
    )
    comment["time"] = "2026-10-08T15:00:00Z"
    comment["event"] = {
        "comment": {
            "id": 9876543210,
            "body": f"Here is my card {CARD}",
            "is_public": True,
            "author": {"id": 900, "is_staff": False, "name": "Jane"},
        }
    }
    user_event = {"type": "zen:event-type:user.created", "detail": {"id": "1"}, "event": {}}
    broken = _ticket_event(status="ARCHIVED")
    for i, payload in enumerate([created, comment, user_event, broken]):
        assert _post_zendesk(base, payload, invocation=f"inv-{i}").status_code == 200
    # A late retry of the older event with a new invocation id must not roll the ticket back.
    assert _post_zendesk(base, created, invocation="inv-late").status_code == 200

    assert process_webhook_events(engine, limit=2) == 2
    assert process_webhook_events(engine) == 3
    assert process_webhook_events(engine) == 0

    with engine.connect() as conn:
        ticket = conn.execute(text("SELECT * FROM raw.tickets")).one()
        body = conn.execute(text("SELECT * FROM raw.ticket_comments")).one()
        parked = conn.execute(text("SELECT source_id, reason FROM ops.quarantine")).all()
    assert (ticket.source, ticket.source_id, ticket.status) == ("zendesk", "5158", "pending")
    assert ticket.priority == "high" and ticket.channel == "web" and ticket.tags == ["mobile"]
    # A ticket the connector has not seen: the requester gets the connector's name for a
    # Zendesk user it has not resolved to a CRM id yet.
    assert ticket.requester_source_id == "zendesk-user-900"
    assert (body.source_id, body.ticket_source_id, body.author_role) == (
        "9876543210",
        "5158",
        "end_user",
    )
    assert CARD not in body.body and "<CREDIT_CARD>" in body.body
    reasons = dict(parked)
    assert reasons["inv-2"] == "unsupported event type 'zen:event-type:user.created'"
    assert reasons["inv-3"].startswith(
        "invalid zen:event-type:ticket.created payload: detail.status"
    )
    assert _count(engine, "SELECT count(*) FROM raw.webhook_events WHERE processed_at IS NULL") == 0

    # Draining again, or the same events delivered again, changes nothing.
    before = (ticket.loaded_at, body.loaded_at)
    assert _post_zendesk(base, comment, invocation="inv-again").status_code == 200
    assert process_webhook_events(engine) == 1
    with engine.connect() as conn:
        after = conn.execute(
            text(
                "SELECT (SELECT loaded_at FROM raw.tickets),"
                " (SELECT loaded_at FROM raw.ticket_comments)"
            )
        ).one()
    assert tuple(after) == before
    assert _count(engine, "SELECT count(*) FROM raw.tickets") == 1
    assert _count(engine, "SELECT count(*) FROM raw.ticket_comments") == 1


def test_ids_holding_personal_data_are_stored_as_keyed_hashes(base: str, engine: Engine) -> None:
    """An address as the event id or a card number as an account id never reaches storage;
    the same event delivered again finds the same hashed id (stored once)."""
    email = "Liam.Miller@example.com"
    body = json.dumps(
        {"id": email, "type": "survey.answered", "account_id": CARD, "answer": "fine"}
    ).encode()

    def post() -> httpx.Response:
        return post_generic(base, "survey", body, str(int(time.time())), SURVEY_SECRET)

    assert post().json()["status"] == "stored"
    assert post().json()["status"] == "duplicate"
    (row,) = _events(engine)
    stored = json.dumps({"id": row.source_id, "payload": row.payload}).lower()
    assert email.lower() not in stored and "liam" not in stored
    assert CARD not in stored and CARD.replace(" ", "") not in stored
    assert row.payload["id"].startswith("pii-")
