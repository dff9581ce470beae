"""The governed load of generated data into `raw`: counts reconcile, reloads change nothing,
no personal data reaches storage, refused rows are quarantined with a reason."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Engine, text
from support.clock import NOW
from support.db import one

from demo.generator import DemoDataset, generate
from demo.load import STREAMS, load_dataset
from feedbackloop.config import Settings
from feedbackloop.db.stats import row_counts
from nlp.pii import find_pii

AUDIT_BY_ACTION = text("SELECT action, count(*) FROM ops.audit_log GROUP BY action")

TEXT_COLUMNS = {
    "raw.tickets": ("subject", "description"),
    "raw.ticket_comments": ("body",),
    "raw.satisfaction_ratings": ("comment",),
    "raw.reviews": ("title", "body"),
    "raw.notes": ("text",),
    "raw.faq_articles": ("body",),
}


@pytest.fixture(scope="module")
def dataset() -> DemoDataset:
    return generate(seed=7, tickets=400, now=NOW)


def _load(engine: Engine, settings: Settings, dataset: DemoDataset):
    return load_dataset(engine, dataset, hash_key=settings.hash_key())


def test_counts_reconcile_and_reload_changes_nothing(
    engine: Engine, settings: Settings, dataset: DemoDataset
) -> None:
    report = _load(engine, settings, dataset)
    assert report.reconciles()
    assert sum(report.quarantined.values()) == 0
    counts = row_counts(engine)
    for stream in STREAMS:
        assert counts[f"raw.{stream.name}"] == report.generated[stream.name] > 0, stream.name
    assert counts["ops.consent"] == 2 * len(dataset.contacts)

    with engine.connect() as conn:
        before = conn.execute(text("SELECT max(loaded_at) FROM raw.tickets")).scalar_one()
        audit_rows = conn.execute(AUDIT_BY_ACTION).all()
    by_action = dict(audit_rows)
    # One audit row per consent decision, one per batch that had text masked, one for the load.
    assert by_action["consent_change"] == report.consent_changes == 2 * len(dataset.contacts)
    assert by_action["load"] == 1
    assert by_action["mask"] >= 1
    assert set(by_action) == {"consent_change", "load", "mask"}
    again = _load(engine, settings, dataset)
    assert again.reconciles()
    assert row_counts(engine) | {"ops.audit_log": 0} == counts | {"ops.audit_log": 0}
    with engine.connect() as conn:
        # Same updated_at: the upsert's "newer wins" guard leaves every row untouched.
        assert conn.execute(text("SELECT max(loaded_at) FROM raw.tickets")).scalar_one() == before
        # No consent changed; the second load audits itself and its masking again.
        again_by_action = dict(conn.execute(AUDIT_BY_ACTION).all())
    assert again_by_action == by_action | {"load": 2, "mask": 2 * by_action["mask"]}
    assert again.consent_changes == 0


def test_no_personal_data_is_stored(
    engine: Engine, settings: Settings, dataset: DemoDataset
) -> None:
    report = _load(engine, settings, dataset)
    assert sum(report.masked_entities.values()) > 0

    planted = {
        value
        for record in (*dataset.tickets, *dataset.reviews, *dataset.notes)
        for _, value in record.pii_values
    }
    planted |= {c.email.strip() for c in dataset.contacts if c.email and c.email.strip()}
    assert planted

    with engine.connect() as conn:
        for table, columns in TEXT_COLUMNS.items():
            for column in columns:
                values = conn.execute(text(f"SELECT {column} FROM {table}")).scalars()
                for value in values:
                    if value is None:
                        continue
                    assert find_pii(value) == [], f"unmasked PII in {table}.{column}"
        # The whole database dump as text must not hold a planted value anywhere.
        dump = "\n".join(
            str(row)
            for table in (*TEXT_COLUMNS, "raw.contacts", "ops.audit_log", "ops.quarantine")
            for row in conn.execute(text(f"SELECT * FROM {table}"))
        ).lower()
    leaked = sorted(v for v in planted if v.lower() in dump)
    assert leaked == []


def test_duplicate_emails_share_one_hash_and_invalid_ones_are_flagged(
    engine: Engine, settings: Settings, dataset: DemoDataset
) -> None:
    report = _load(engine, settings, dataset)
    by_email: dict[str, set[str]] = {}
    for c in dataset.contacts:
        by_email.setdefault(c.email.strip().lower(), set()).add(c.source_id)
    duplicates = [ids for ids in by_email.values() if len(ids) > 1]
    assert duplicates, "the generator should produce duplicate contacts"
    with engine.connect() as conn:
        for ids in duplicates:
            hashes = (
                conn.execute(
                    text(
                        "SELECT DISTINCT email_hash FROM raw.contacts WHERE source_id = ANY(:ids)"
                    ),
                    {"ids": list(ids)},
                )
                .scalars()
                .all()
            )
            assert len(hashes) == 1 and hashes[0] is not None
        invalid = conn.execute(
            text("SELECT count(*) FROM raw.contacts WHERE NOT email_valid")
        ).scalar_one()
    assert invalid == report.invalid_emails > 0


def test_a_refused_record_is_quarantined_and_the_rest_load(
    engine: Engine, settings: Settings, dataset: DemoDataset
) -> None:
    bad = dataclasses.replace(dataset.reviews[0], rating=9)
    broken = dataclasses.replace(dataset, reviews=(bad, *dataset.reviews[1:]))
    report = _load(engine, settings, broken)
    assert report.reconciles()
    assert report.quarantined["reviews"] == 1
    assert report.written["reviews"] == len(dataset.reviews) - 1
    row = one(engine, "SELECT source, stream, source_id, reason FROM ops.quarantine")
    audited = one(engine, "SELECT entity_id, reason FROM ops.audit_log WHERE action = 'quarantine'")
    assert row.stream == "reviews" and row.source_id == bad.source_id
    assert "ck_reviews_rating" in row.reason
    assert audited.entity_id == bad.source_id and audited.reason == row.reason
