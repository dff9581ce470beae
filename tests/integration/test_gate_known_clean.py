"""The gate on a batch of pages (#20): its PII scan skips only texts the pages' masker found
nothing in, so a text stored without masking is still caught and quarantined; the raw gate's
item types are the caller's vocabulary, handed to GX per run. Real GX, real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, text
from support.clock import NOW
from support.gx import feedback_text, ticket_row

from expectations.checkpoints import Validator
from feedbackloop.config import Settings
from feedbackloop.db import database_url
from feedbackloop.db.models import Ticket
from feedbackloop.governance.gate import ScreenedMasker, gate_feedback, table_gate
from feedbackloop.sources import base

CARD = "4111 1111 1111 1111"


@pytest.fixture
def validator(engine: Engine, settings: Settings) -> Validator:
    url = database_url(settings).render_as_string(hide_password=False)
    return Validator(settings.state_path, url, known_sources=["zendesk"], ephemeral=True, now=NOW)


def _ticket(source_id: str, subject: str, description: str | None) -> dict:
    return {
        "source": "zendesk",
        "source_id": source_id,
        "subject": subject,
        "description": description,
        "status": "open",
        "priority": None,
        "channel": None,
        "product_area": None,
        "language": None,
        "requester_source_id": None,
        "assignee_source_id": None,
        "account_source_id": None,
        "tags": [],
        "is_deleted": False,
        "created_at": NOW - timedelta(days=1),
        "updated_at": NOW,
    }


def test_a_text_stored_unmasked_is_quarantined_though_the_masker_saw_it(
    engine: Engine, validator: Validator
) -> None:
    leaked = f"Please charge my card {CARD} again"
    page = base.Page(masked_columns=frozenset({"subject", "description"}))
    assert isinstance(page.masker, ScreenedMasker)
    mask = page.masker
    rows = [_ticket(str(i), mask(f"Export report {i}") or "", None) for i in range(3)]
    # Masked for one ticket; a connector bug stores it raw for another. No subject: the
    # gate's text is the description alone, the very string the masker saw.
    rows.append(_ticket("10", "", mask(leaked)))
    rows.append(_ticket("11", "", leaked))
    for row in rows:
        page.add(Ticket, row)
    assert {r["subject"] for r in rows[:3]} <= mask.clean and leaked not in mask.clean
    result = base.SyncResult("tickets")
    hooks = base.SyncHooks(gate=table_gate(validator))
    base.commit_batch(
        engine, result, [(page, "c1", {})], source="zendesk", hooks=hooks, actor="t",
        hash_key=b"k",
    )  # fmt: skip

    assert (result.rows_written, result.quarantined) == (4, 1)
    with engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT source_id, description FROM raw.tickets")).all())
        parked = conn.execute(
            text("SELECT source_id, reason, payload::text FROM ops.quarantine")
        ).one()
    assert set(stored) == {"0", "1", "2", "10"}
    assert stored["10"] == "Please charge my card <CREDIT_CARD> again"
    assert parked.source_id == "11" and "unmasked_pii" in parked.reason
    assert CARD not in parked.payload


def test_an_item_type_outside_the_vocabulary_is_rejected(validator: Validator) -> None:
    rows = [ticket_row(str(i), f"fine text {i}", NOW) for i in range(3)]
    ok = gate_feedback(validator, rows, "ticket", feedback_text)
    assert ok.outcome is not None and ok.outcome.success and len(ok.passed) == 3
    bad = gate_feedback(validator, rows, "memo", feedback_text)
    assert len(bad.rejected) == 3
    assert all("expect_column_values_to_be_in_set(item_type)" in r for _, r in bad.rejected)
