"""ops.quarantine is keyed by content, never by position: another bad record on the same line of
a file with the same name is a second row; the same bad record imported again, under any file
name, stays one row; every writer (drops, connectors, gate, webhooks) shares the rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from feedbackloop.config import Settings
from feedbackloop.db.upsert import quarantine
from feedbackloop.sources.drops import import_drop

GOOD = {
    "id": "n-1",
    "source": "survey",
    "department": "cs",
    "created_at": "2026-10-01T10:00:00Z",
    "text": "Exports are slow",
}


def _write(path: Path, *records: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _parked(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT source_id, reason, payload::text FROM ops.quarantine ORDER BY id")
        ).all()
    return [tuple(r) for r in rows]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"id": "n-2", "department": "finance"}, {"id": "n-3", "department": "legal"}),
        # Alike once masked: only the address differs, so the payloads store the same text.
        (
            {"id": "n-2", "department": "finance", "text": "mail ann@example.com"},
            {"id": "n-2", "department": "finance", "text": "mail bob@example.org"},
        ),
    ],
    ids=["other record", "differs only in personal data"],
)
def test_same_file_name_same_line_other_record_is_a_second_row(
    first: dict, second: dict, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    a = _write(tmp_path / "a" / "missing.jsonl", GOOD, {**GOOD, **first})
    b = _write(tmp_path / "b" / "missing.jsonl", GOOD, {**GOOD, **second})

    ra = import_drop(engine, a, hash_key=settings.hash_key(), actor="test")
    rb = import_drop(engine, b, hash_key=settings.hash_key(), actor="test")

    assert (ra.quarantined, rb.quarantined) == (1, 1)
    parked = _parked(engine)
    assert len(parked) == 2, parked
    assert [p[0] for p in parked] == ["missing.jsonl:2", "missing.jsonl:2"]
    assert "ann@example.com" not in repr(parked) and "bob@example.org" not in repr(parked)


def test_same_bad_record_imported_again_under_any_name_is_one_row(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    bad = [{**GOOD, "id": "n-2", "department": "finance"}, {**GOOD, "id": "n-3", "rating": 99}]
    drop = _write(tmp_path / "monday.jsonl", GOOD, *bad)
    renamed = _write(tmp_path / "resent" / "monday-copy.jsonl", *bad, GOOD)
    malformed = tmp_path / "broken.jsonl"
    malformed.write_text('{"id": "n-9", "text": \n' + json.dumps(GOOD) + "\n")

    for path in (drop, drop, renamed, malformed, malformed):
        result = import_drop(engine, path, hash_key=settings.hash_key(), actor="test")
        assert result.reconciles()

    parked = _parked(engine)
    assert len(parked) == 3, parked  # two bad records, one malformed line
    with engine.connect() as conn:
        audited = conn.execute(
            text("SELECT count(*) FROM ops.audit_log WHERE action = 'quarantine'")
        ).scalar_one()
    assert audited == 3


def test_every_writer_shares_the_content_key(engine: Engine) -> None:
    """Connectors, the gate and webhooks park through `quarantine()`: a retried delivery or a
    re-read page is one row; a resolved row does not stop the record from being parked again."""
    delivery = {"excerpt": '{"broken": ', "bytes": 11}
    with engine.begin() as conn:
        added = [
            quarantine(
                conn,
                source="zendesk",
                stream="webhook_events",
                source_id=f"delivery-{n}",
                reason="malformed JSON",
                payload=delivery,
            )
            for n in range(3)
        ]
        # Same content in another stream is another record.
        added.append(
            quarantine(
                conn,
                source="zendesk",
                stream="tickets",
                source_id="1",
                reason="bad",
                payload=delivery,
            )
        )
    assert added == [True, False, False, True]
    with engine.begin() as conn:
        conn.execute(text("UPDATE ops.quarantine SET resolved_at = now()"))
        again = quarantine(
            conn,
            source="zendesk",
            stream="webhook_events",
            source_id="delivery-9",
            reason="malformed JSON",
            payload=delivery,
        )
    assert again is True
    assert len(_parked(engine)) == 3
