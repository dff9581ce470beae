"""The GX gate with real validations: failing data is caught per row and per expectation,
rows are quarantined with the expectation's name, runs are recorded, nothing leaks."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text
from support.clock import NOW
from support.gx import feedback_text, ticket_row

import nlp.pii.masking as pii_module
from demo.generator import generate
from demo.load import load_dataset
from expectations.checkpoints import Validator, build_data_docs
from feedbackloop.config import Settings
from feedbackloop.db import database_url
from feedbackloop.governance.gate import gate_contacts, gate_feedback
from feedbackloop.marts import build_marts
from nlp.pii import MaskResult

CARD = "4111 1111 1111 1111"
SOURCES = ["zendesk", "app_store", "crm", "zendesk_guide", "gong", "salesforce", "survey",
           "cs_platform"]  # fmt: skip


@pytest.fixture
def validator(engine: Engine, settings: Settings) -> Validator:
    url = database_url(settings).render_as_string(hide_password=False)
    return Validator(settings.state_path, url, known_sources=SOURCES, ephemeral=True, now=NOW)


def _ticket(source_id: str, body: str | None, **extra: object) -> dict:
    return ticket_row(source_id, body, NOW, **extra)


def test_clean_batch_passes(validator: Validator) -> None:
    rows = [_ticket(str(i), f"How do I export report {i} to CSV?") for i in range(5)]
    decision = gate_feedback(validator, rows, "ticket", feedback_text)
    assert decision.outcome is not None and decision.outcome.success
    assert len(decision.passed) == 5 and decision.rejected == []


@pytest.mark.parametrize(
    ("bad_row", "expected"),
    [
        (_ticket("9", f"my card is {CARD}"), "expect_column_values_to_be_null(unmasked_pii)"),
        (_ticket("9", None), "expect_column_values_to_not_be_null(text)"),
        (_ticket("9", "hi", source="myspace"), "expect_column_values_to_be_in_set(source)"),
        (
            _ticket("9", "hi", created_at=NOW + timedelta(days=30)),
            "expect_column_values_to_be_between(created_at)",
        ),
        (
            _ticket("9", "hi", updated_at=NOW - timedelta(days=9)),
            "expect_column_pair_values_a_to_be_greater_than_b(updated_at,created_at)",
        ),
        (_ticket("1", "same id twice"), "expect_compound_columns_to_be_unique"),
    ],
)
def test_each_failing_row_is_named_with_its_expectation(
    validator: Validator, bad_row: dict, expected: str
) -> None:
    rows = [_ticket(str(i), f"fine text {i}") for i in range(1, 4)] + [bad_row]
    decision = gate_feedback(validator, rows, "ticket", feedback_text)
    assert decision.outcome is not None and not decision.outcome.success
    reasons = " ".join(reason for _, reason in decision.rejected)
    assert expected in reasons
    assert bad_row in [row for row, _ in decision.rejected]
    # Only the bad row (and, for a duplicate id, its twin) is rejected.
    assert len(decision.passed) >= 2


def test_unmasked_card_in_a_load_is_quarantined_and_recorded_without_the_number(
    engine: Engine, settings: Settings, validator: Validator, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = generate(seed=11, tickets=150, now=NOW)
    leaky = dataclasses.replace(dataset.notes[0], text=f"Customer read out {CARD} on the call")
    dataset = dataclasses.replace(dataset, notes=(leaky, *dataset.notes[1:]))

    # A connector bug: masking skipped for this one text. The gate must still stop it.
    real_mask_text = pii_module.mask_text

    def forgetful(value: str) -> MaskResult:
        return MaskResult(text=value, entities=()) if CARD in value else real_mask_text(value)

    monkeypatch.setattr(pii_module, "mask_text", forgetful)
    report = load_dataset(engine, dataset, hash_key=settings.hash_key(), validator=validator)

    assert report.reconciles()
    assert report.gate_rejected["notes"] == 1
    assert report.gate_failures == {}  # 1 of 30 notes is under the 5% stop threshold
    with engine.connect() as conn:
        q = conn.execute(
            text(
                "SELECT reason, payload::text AS payload FROM ops.quarantine WHERE stream = 'notes'"
            )
        ).one()
        runs = conn.execute(text("SELECT success, results::text FROM ops.validation_runs")).all()
        stored = conn.execute(
            text("SELECT count(*) FROM raw.notes WHERE source_id = :id"), {"id": leaky.source_id}
        ).scalar_one()
        audit = conn.execute(
            text("SELECT count(*) FROM ops.audit_log WHERE action = 'quarantine'")
        ).scalar_one()
    assert "unmasked_pii" in q.reason
    # The quarantine payload is masked on the way in, so the number is not kept there either.
    assert CARD not in q.payload and "<CREDIT_CARD>" in q.payload
    assert stored == 0 and audit == 1
    assert any(not success for success, _ in runs)
    assert all(CARD not in results for _, results in runs)


def test_a_stream_over_the_failure_threshold_stops_the_loop(
    engine: Engine, settings: Settings, validator: Validator
) -> None:
    dataset = generate(seed=12, tickets=100, now=NOW)
    future = NOW + timedelta(days=400)
    bad = tuple(
        dataclasses.replace(r, created_at=future, updated_at=future) for r in dataset.reviews
    )
    report = load_dataset(
        engine,
        dataclasses.replace(dataset, reviews=bad),
        hash_key=settings.hash_key(),
        validator=validator,
        max_failed_share=0.05,
    )
    assert report.reconciles()
    assert report.written["reviews"] == 0
    assert "reviews" in report.gate_failures


def test_contacts_gate_requires_a_reason_for_invalid_emails(validator: Validator) -> None:
    good = {
        "source_id": "c1",
        "email_hash": "a" * 64,
        "email_valid": True,
        "email_invalid_reason": None,
    }
    flagged = {
        "source_id": "c2",
        "email_hash": "b" * 64,
        "email_valid": False,
        "email_invalid_reason": "missing @",
    }
    unflagged = {
        "source_id": "c3",
        "email_hash": "c" * 64,
        "email_valid": False,
        "email_invalid_reason": None,
    }
    decision = gate_contacts(validator, [good, flagged, unflagged])
    assert [r["source_id"] for r in decision.passed] == ["c1", "c2"]
    assert "email_invalid_reason" in decision.rejected[0][1]


def test_scored_feedback_check_fails_on_an_empty_model_version(
    engine: Engine, validator: Validator
) -> None:
    insert = text(
        "INSERT INTO nlp.feedback_scores (item_type, item_source, item_source_id, model_version,"
        " text_hash, sentiment, label, frustrated) VALUES ('ticket', 'zendesk', :id, :mv,"
        " repeat('a', 64), -0.5, 'negative', true)"
    )
    with engine.begin() as conn:
        conn.execute(insert, {"id": "1", "mv": "rules-v1"})
    assert validator.check_scores().success
    with engine.begin() as conn:
        conn.execute(insert, {"id": "2", "mv": ""})
    outcome = validator.check_scores()
    assert not outcome.success
    failed = [e for e in outcome.expectations if not e["success"]]
    assert [e["column"] for e in failed] == ["model_version"]


def test_marts_check_passes_after_a_build_and_fails_on_empty_marts(
    engine: Engine, settings: Settings, validator: Validator
) -> None:
    build_marts(settings, quiet=True)  # views over empty raw tables
    empty = validator.check_marts()
    assert not empty.success
    assert {e["expectation"] for e in empty.expectations if not e["success"]} == {
        "expect_table_row_count_to_be_between"
    }
    load_dataset(engine, generate(seed=13, tickets=100, now=NOW), hash_key=settings.hash_key())
    build_marts(settings, quiet=True)  # the marts are tables: they change when rebuilt
    assert validator.check_marts().success


def test_file_context_builds_data_docs(engine: Engine, settings: Settings) -> None:
    url = database_url(settings).render_as_string(hide_password=False)
    validator = Validator(settings.state_path, url, known_sources=SOURCES, now=NOW)
    gate_feedback(validator, [_ticket("1", f"card {CARD}")], "ticket", feedback_text)
    # Gates store results; the site is rendered once per flow run from all of them.
    index = build_data_docs(settings.state_path)
    assert index == validator.data_docs_index and index.exists()
    html = "".join(p.read_text() for p in index.parent.rglob("*.html"))
    assert "raw_feedback_batch" in html
    # The card never reaches the reviewers' HTML. Match the whole number: a bare "4111" can
    # occur by chance in the run ids and timestamps Data Docs print.
    assert CARD not in html and CARD.replace(" ", "") not in html


def test_connectors_run_every_page_through_the_gate(engine: Engine, settings: Settings) -> None:
    from demo.fake_zendesk import serve_fake_zendesk
    from feedbackloop.governance.gate import table_gate
    from feedbackloop.sources import zendesk

    url = database_url(settings).render_as_string(hide_password=False)
    # A gate that does not know "zendesk" as a source: every ticket must be refused.
    strict = Validator(
        settings.state_path, url, known_sources=["app_store"], ephemeral=True, now=NOW
    )
    dataset = generate(seed=14, tickets=30, now=NOW)
    with serve_fake_zendesk(dataset, page_size=10) as fake:
        client = zendesk.ZendeskClient(fake.base_url, fake.email, fake.api_token)
        result = zendesk.sync_tickets(
            engine,
            client,
            hash_key=settings.hash_key(),
            hooks=zendesk.SyncHooks(gate=table_gate(strict)),
        )
    assert result.rows_written == 0
    assert result.quarantined == len(dataset.tickets)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM raw.tickets")).scalar_one()
        reasons = (
            conn.execute(
                text("SELECT DISTINCT reason FROM ops.quarantine WHERE stream = 'tickets'")
            )
            .scalars()
            .all()
        )
        runs = conn.execute(
            text("SELECT count(*) FROM ops.validation_runs WHERE NOT success")
        ).scalar_one()
    assert stored == 0 and runs >= 1
    assert all("expect_column_values_to_be_in_set(source)" in r for r in reasons)
