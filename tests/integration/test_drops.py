"""File drops into raw.notes: JSONL and CSV, idempotent, bad lines parked with their line
number, addresses replaced by contacts, counts that reconcile."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from support.db import crm_contact

from feedbackloop.config import Settings
from feedbackloop.governance.identity import email_hash
from feedbackloop.sources.drops import DropResult, import_drop

EMAIL = "Jane.Doe@Example.com"
CARD = "4111 1111 1111 1111"

GOOD: list[dict[str, Any]] = [
    {
        "id": "call-1",
        "source": "gong",
        "department": "sales",
        "created_at": "2026-10-01T09:00:00Z",
        "text": f"Wants SSO before renewal. Paid with card {CARD}.",
        "contact_email": EMAIL,
        "account_id": "acc-1",
        "rating": 4,
        "kind": "sales_call",
    },
    {
        "id": "note-2",
        "source": "cs_platform",
        "department": "cs",
        "created_at": "2026-10-02T10:00:00+02:00",
        "text": "Exports are slow again; reach me at jane.doe@example.com",
        "contact_email": " jane.doe@example.com ",
        "account_id": "acc-1",
    },
    {
        "id": "s-3",
        "source": "survey",
        "department": "product",
        "created_at": "2026-10-03T11:00:00",
        "text": "Love the new dashboard",
        "rating": 9,
        "kind": "survey_answer",
    },
]


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def _state(engine: Engine) -> tuple[int, int, int]:
    return (
        _count(engine, "SELECT count(*) FROM raw.notes"),
        _count(engine, "SELECT count(*) FROM raw.contacts"),
        _count(engine, "SELECT count(*) FROM ops.quarantine"),
    )


def _write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _write_csv(path: Path, records: list[dict[str, Any]]) -> Path:
    columns = ["id", "source", "department", "created_at", "text", "contact_email"]
    columns += ["account_id", "rating", "kind", "updated_at"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for rec in records:
            writer.writerow({c: rec.get(c, "") for c in columns})
    return path


def _import(engine: Engine, settings: Settings, path: Path) -> DropResult:
    return import_drop(engine, path, hash_key=settings.hash_key(), actor="test")


def _assert_reconciles(result: DropResult) -> None:
    assert result.reconciles()
    assert result.read == result.written + result.unchanged + result.quarantined


def test_jsonl_loads_masked_maps_contacts_and_reimport_changes_nothing(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    path = _write_jsonl(tmp_path / "notes.jsonl", [json.dumps(r) for r in GOOD])

    first = _import(engine, settings, path)
    assert (first.read, first.written, first.unchanged, first.quarantined) == (3, 3, 0, 0)
    assert first.contacts_created == 1  # both spellings of the address are one person
    _assert_reconciles(first)
    state = _state(engine)
    assert state == (3, 1, 0)

    with engine.connect() as conn:
        notes = {
            r.source_id: r for r in conn.execute(text("SELECT * FROM raw.notes ORDER BY source_id"))
        }
        contact = conn.execute(text("SELECT * FROM raw.contacts")).one()
        dumped = conn.execute(
            text(
                "SELECT string_agg(t::text, ' ') FROM ("
                " SELECT n::text AS t FROM raw.notes n UNION ALL"
                " SELECT c::text FROM raw.contacts c UNION ALL"
                " SELECT a::text FROM ops.audit_log a) x"
            )
        ).scalar_one()
    expected_hash = email_hash("jane.doe@example.com", settings.hash_key())
    assert contact.source == "drops"
    assert contact.source_id == f"drop-{expected_hash[:16]}"
    assert contact.email_hash == expected_hash
    assert notes["call-1"].contact_source_id == contact.source_id
    assert notes["note-2"].contact_source_id == contact.source_id
    assert notes["s-3"].contact_source_id is None
    assert notes["call-1"].source == "gong" and notes["call-1"].kind == "sales_call"
    assert notes["note-2"].kind == "note"
    assert notes["s-3"].created_at.utcoffset() is not None
    assert "<CREDIT_CARD>" in notes["call-1"].text and CARD not in notes["call-1"].text
    assert "<EMAIL_ADDRESS>" in notes["note-2"].text
    # The address is stored nowhere, in any spelling.
    assert "jane.doe" not in dumped.lower()
    assert first.masked_entities["CREDIT_CARD"] == 1

    second = _import(engine, settings, path)
    assert (second.read, second.written, second.unchanged, second.quarantined) == (3, 0, 3, 0)
    assert second.contacts_created == 0
    _assert_reconciles(second)
    assert _state(engine) == state
    assert _count(engine, "SELECT count(*) FROM ops.audit_log WHERE action = 'import'") == 2


def test_existing_contact_is_reused(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    key = settings.hash_key()
    with engine.begin() as conn:
        crm_contact(
            conn, "c-77", email_hash=email_hash("jane.doe@example.com", key), email_valid=True
        )
    path = _write_jsonl(tmp_path / "one.jsonl", [json.dumps(GOOD[0])])
    result = _import(engine, settings, path)
    assert result.contacts_created == 0
    assert _count(engine, "SELECT count(*) FROM raw.contacts") == 1
    assert _count(engine, "SELECT count(*) FROM raw.notes WHERE contact_source_id = 'c-77'") == 1


def test_csv_with_bad_lines_quarantines_them_by_line_and_loads_the_rest(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    bad_department = {**GOOD[2], "id": "s-4", "department": "finance"}
    no_text = {**GOOD[2], "id": "s-5", "text": "   ", "contact_email": "bob@example.org"}
    bad_rating = {**GOOD[2], "id": "s-6", "rating": "eleven"}
    multiline = {**GOOD[1], "id": "note-7", "text": "line one\nline two"}
    records = [GOOD[0], bad_department, multiline, no_text, GOOD[2], bad_rating]
    path = _write_csv(tmp_path / "drop.csv", records)

    result = _import(engine, settings, path)
    # Header is line 1; the multi-line record takes lines 4-5, so the next one starts on 6.
    assert (result.read, result.written, result.quarantined) == (6, 3, 3)
    _assert_reconciles(result)
    with engine.connect() as conn:
        parked = conn.execute(
            text("SELECT source_id, reason, payload::text AS payload FROM ops.quarantine")
        ).all()
        stored = set(conn.execute(text("SELECT source_id FROM raw.notes")).scalars())
    assert stored == {"call-1", "note-7", "s-3"}
    reasons = {p.source_id: p.reason for p in parked}
    assert reasons.keys() == {"drop.csv:3", "drop.csv:6", "drop.csv:8"}
    assert reasons["drop.csv:3"].startswith("line 3: department:")
    assert reasons["drop.csv:6"].startswith("line 6: text:")
    assert reasons["drop.csv:8"].startswith("line 8: rating:")
    # Parked payloads never hold an address, valid or not.
    assert not any("bob@example.org" in p.payload or "jane.doe" in p.payload for p in parked)

    again = _import(engine, settings, path)
    assert (again.written, again.unchanged, again.quarantined) == (0, 3, 3)
    _assert_reconciles(again)
    assert _count(engine, "SELECT count(*) FROM ops.quarantine") == 3


def test_malformed_json_lines_and_unknown_department_are_parked(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    lines = [
        json.dumps(GOOD[0]),
        '{"id": "x", "text": "call me at jane.doe@example.com", ',
        json.dumps({**GOOD[1], "department": "legal"}),
        "[1, 2]",
        "",
        json.dumps(GOOD[2]),
    ]
    path = _write_jsonl(tmp_path / "mixed.jsonl", lines)
    result = _import(engine, settings, path)
    assert (result.read, result.written, result.quarantined) == (5, 2, 3)
    _assert_reconciles(result)
    with engine.connect() as conn:
        parked = {
            r.source_id: r
            for r in conn.execute(text("SELECT source_id, reason, payload FROM ops.quarantine"))
        }
    assert parked.keys() == {"mixed.jsonl:2", "mixed.jsonl:3", "mixed.jsonl:4"}
    assert parked["mixed.jsonl:2"].reason.startswith("line 2: malformed JSON")
    assert "jane.doe" not in json.dumps(parked["mixed.jsonl:2"].payload)
    assert parked["mixed.jsonl:3"].reason.startswith("line 3: department:")
    assert parked["mixed.jsonl:4"].reason == "line 4: line is not a JSON object"


def test_newer_version_wins_and_known_sources_are_enforced(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    v1 = {**GOOD[2], "text": "first take"}
    v2 = {**GOOD[2], "text": "second take", "updated_at": "2026-10-05T00:00:00Z"}
    path = _write_jsonl(tmp_path / "versions.jsonl", [json.dumps(v1), json.dumps(v2)])
    result = _import(engine, settings, path)
    assert (result.read, result.written, result.unchanged) == (2, 2, 0)
    assert _count(engine, "SELECT count(*) FROM raw.notes WHERE text = 'second take'") == 1

    stranger = _write_jsonl(tmp_path / "stranger.jsonl", [json.dumps({**v1, "source": "fax"})])
    blocked = import_drop(
        engine,
        stranger,
        hash_key=settings.hash_key(),
        actor="test",
        known_sources=settings.known_sources,
    )
    assert (blocked.read, blocked.written, blocked.quarantined) == (1, 0, 1)


def test_unsupported_format_is_refused(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "notes.xlsx"
    path.write_bytes(b"not really")
    with pytest.raises(ValueError, match="unsupported drop format"):
        _import(engine, settings, path)
