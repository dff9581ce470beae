"""A 429 storm and 500s from the source: the sync completes and waits as told. Duplicate
webhook deliveries of one ticket update: one outbound reply, however often it arrives."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import Engine, text

from demo.fake_zendesk import FaultPlan, serve_fake_zendesk
from demo.generator import generate
from feedbackloop.config import Settings
from feedbackloop.http import engine_usage_recorder
from feedbackloop.routing import scored_hook
from feedbackloop.scoring import score_pending
from feedbackloop.serve import free_port, webhook_receiver
from feedbackloop.sources import zendesk
from feedbackloop.sources.webhooks import process_webhook_events
from feedbackloop.web import create_app
from feedbackloop.web.app import zendesk_signature
from nlp import load_pipeline

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from support.routing import routing_world, rules

RULES_ONLY = {"sentiment_model": "rules"}  # what these tests route on: the rule scorer

SECRET = "storm-secret"


def test_a_429_storm_and_500s_complete_after_waiting_as_told(
    engine: Engine, settings: Settings
) -> None:
    dataset = generate(seed=61, tickets=40, now=datetime(2026, 11, 20, tzinfo=UTC))
    faults = FaultPlan(rate_limited=4, retry_after=1, server_errors=3, only_paths=("tickets",))
    with serve_fake_zendesk(dataset, page_size=10, faults=faults) as fake:
        client = zendesk.ZendeskClient(
            fake.base_url, fake.email, fake.api_token, on_call=engine_usage_recorder(engine)
        )
        started = time.monotonic()
        result = zendesk.sync_tickets(engine, client, hash_key=settings.hash_key())
        elapsed = time.monotonic() - started
    assert result.rows_written == len(dataset.tickets)
    assert elapsed >= 4 * 1  # four 429s, each asking for one second
    with engine.connect() as conn:
        statuses = dict(
            conn.execute(text("SELECT status, count(*) FROM ops.api_usage GROUP BY status")).all()
        )
        stored = conn.execute(text("SELECT count(DISTINCT source_id) FROM raw.tickets")).scalar()
    assert statuses[429] == 4 and statuses[500] == 3 and statuses[200] >= 4
    assert stored == len(dataset.tickets)


def _update_event(event_id: str, ticket_id: str, now: str) -> bytes:
    return json.dumps(
        {
            "type": "zen:event-type:ticket.status_changed",
            "id": event_id,
            "time": now,
            "subject": f"zen:ticket:{ticket_id}",
            "detail": {
                "id": ticket_id,
                "subject": "Charged twice, third time asking",
                "description": "I was charged twice and nobody answers. This is unacceptable.",
                "status": "OPEN",
                "created_at": now,
                "updated_at": now,
            },
            "event": {"current": "OPEN", "previous": "NEW"},
        }
    ).encode()


CONTACT = """
max_item_age_days: 100000
rules:
  - name: apologize
    when: {sentiment_label: [very_negative, negative]}
    actions:
      - {type: auto_reply, template: sorry}
templates:
  sorry: {body: "Sorry about ticket {ticket_id}.\\n\\n{disclosure}"}
"""


def test_duplicate_webhook_deliveries_send_one_reply(engine: Engine, settings: Settings) -> None:
    with routing_world(engine, settings) as w:
        ticket = w.ticket(0)
        # Reopened at Zendesk (closed tickets refuse updates); the webhooks say so below.
        w.zendesk.update_ticket(ticket.source_id, status="open")
        w.set_contact(ticket.requester_source_id, consent_contact=True, email_valid=True)
        app_settings = w.settings.model_copy(update={"zendesk_webhook_secret": SecretStr(SECRET)})
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        port = free_port()
        with webhook_receiver(create_app(app_settings, engine=engine), "127.0.0.1", port):
            url = f"http://127.0.0.1:{port}/webhooks/zendesk"
            answers = []
            with httpx.Client(timeout=10) as client:
                # Zendesk retries a delivery with the same id; a second event carries the same
                # ticket state under a new id.
                for event_id in ("evt-a", "evt-a", "evt-a", "evt-b"):
                    body = _update_event(event_id, ticket.source_id, now)
                    stamp = str(int(time.time()))
                    headers = {
                        "X-Zendesk-Webhook-Signature": zendesk_signature(SECRET, stamp, body),
                        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
                        "Content-Type": "application/json",
                    }
                    answers.append(client.post(url, content=body, headers=headers).status_code)
        assert all(200 <= a < 300 for a in answers), answers
        routing = rules(CONTACT)
        for _ in range(2):  # a rerun of the whole chain changes nothing
            process_webhook_events(engine)
            score_pending(engine, load_pipeline(**RULES_ONLY), on_scored=scored_hook(routing))
            w.dispatch()
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM raw.webhook_events")).scalar()
            replies = conn.execute(
                text(
                    "SELECT count(*) FROM ops.actions WHERE action_type = 'auto_reply' "
                    "AND item_source_id = :t"
                ),
                {"t": ticket.source_id},
            ).scalar()
        assert stored == 2  # evt-a once, evt-b once
        assert replies == 1
        assert len(w.zendesk.added_comments[int(ticket.source_id)]) == 1
