"""Bad input at the webhook door: every signed delivery is answered (never a 500), stored or
refused with a clear status; every stored one becomes a raw row or a quarantined record."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import SecretStr
from sqlalchemy import Engine, text
from support.webhooks import post_generic, post_zendesk

from feedbackloop.config import Settings
from feedbackloop.serve import free_port, webhook_receiver
from feedbackloop.sources.webhooks import process_webhook_events
from feedbackloop.web import create_app

from .corpus import NASTY_TEXTS

SECRET = "bad-input-secret"


def _ticket_event(n: int, description: object) -> bytes:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(
        {
            "type": "zen:event-type:ticket.created",
            "id": f"evt-{n}",
            "time": now,
            "subject": f"zen:ticket:{n}",
            "detail": {
                "id": str(9000 + n),
                "subject": "bad input",
                "description": description,
                "status": "NEW",
                "created_at": now,
                "updated_at": now,
            },
            "event": {},
        }
    ).encode()


def _bodies() -> list[bytes]:
    bodies = [_ticket_event(n, value) for n, value in enumerate(NASTY_TEXTS.values())]
    bodies += [
        _ticket_event(90, {"nested": ["object", 1e308]}),
        _ticket_event(91, 10**40),
        b"\xff\xfe\x00 not utf-8",
        b"",
        b"[1, 2, 3]",
        b'{"type": "zen:event-type:ticket.created", "detail": {"id": 1e999, "status": "NEW"}}',
        b'{"type": "zen:event-type:ticket.created", "detail": "not an object"}',
        b'{"type": "zen:event-type:ticket.created"}',
        b'{"type": "zen:event-type:user.created", "detail": {"id": "5"}}',
        b"[" * 10_000 + b"]" * 10_000,  # deep nesting
        b'{"a": "' + b"x" * 1_100_000 + b'"}',  # over the 1 MB limit
    ]
    return bodies


def test_every_delivery_is_answered_and_every_stored_one_accounted_for(
    engine: Engine, settings: Settings
) -> None:
    web_settings = settings.model_copy(
        update={
            "zendesk_webhook_secret": SecretStr(SECRET),
            "webhook_secrets": {"survey": SecretStr(SECRET)},
        }
    )
    statuses: list[int] = []
    with webhook_receiver(create_app(web_settings, engine=engine), "127.0.0.1", free_port()) as url:
        for n, body in enumerate(_bodies()):
            ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            zendesk = post_zendesk(url, body, ts, SECRET, f"inv-{n}")
            generic = post_generic(url, "survey", body, ts, SECRET, f"dlv-{n}")
            statuses += [zendesk.status_code, generic.status_code]
            for answer in (zendesk, generic):
                assert answer.status_code in (200, 400, 413), (n, answer.status_code, answer.text)
                assert answer.json()  # a clear JSON answer, whatever the status

    while process_webhook_events(engine) > 0:
        pass
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM raw.webhook_events")).scalar_one()
        unprocessed = conn.execute(
            text("SELECT count(*) FROM raw.webhook_events WHERE processed_at IS NULL")
        ).scalar_one()
        tickets = conn.execute(text("SELECT count(*) FROM raw.tickets")).scalar_one()
        parked = conn.execute(text("SELECT stream, reason FROM ops.quarantine")).all()
        descriptions = conn.execute(text("SELECT description FROM raw.tickets")).scalars().all()
    assert stored == statuses.count(200)
    assert unprocessed == 0
    refused_at_door = sum(1 for s in statuses if s == 400)  # parked with the reason
    from_events = [p for p in parked if p.stream == "webhook_events"]
    assert len(from_events) >= refused_at_door
    # Each stored event made a ticket or a quarantined record with a reason.
    assert tickets + len(from_events) - refused_at_door == stored
    assert all(p.reason for p in parked)
    assert tickets >= len(NASTY_TEXTS) - 2
    assert not any(d and "\x00" in d for d in descriptions)
