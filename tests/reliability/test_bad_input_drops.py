"""A drop file full of bad input: every line is stored or quarantined with a reason, the
counts reconcile, and nothing crashes the import."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, text

from feedbackloop.config import Settings
from feedbackloop.sources.drops import import_drop

from .corpus import NASTY_TEXTS

BASE = {"source": "survey", "department": "cs", "created_at": "2026-10-01T10:00:00Z"}


def _lines() -> list[bytes]:
    lines = [
        json.dumps({**BASE, "id": f"text-{name}", "text": value}).encode()
        for name, value in NASTY_TEXTS.items()
    ]
    lines += [
        b"\xff\xfe not utf-8 \xc3\x28",  # invalid UTF-8
        b'{"id": "bad-utf8-in-string", "text": "caf\xe9", "source": "survey"}',
        b"[1, 2, 3]",  # not an object
        b"[" * 10_000 + b"]" * 10_000,  # nesting deeper than the parser goes
        b'{"id": "unclosed", ',  # malformed JSON
        json.dumps({**BASE, "id": "missing-text"}).encode(),
        json.dumps({"id": "missing-all"}).encode(),
        json.dumps({**BASE, "id": "extra-fields", "text": "ok", "foo": {"bar": [1]}}).encode(),
        json.dumps({**BASE, "id": "wrong-type-rating", "text": "ok", "rating": "ten"}).encode(),
        json.dumps({**BASE, "id": "huge-rating", "text": "ok", "rating": 10**30}).encode(),
        b'{"id": "inf-rating", "source": "survey", "department": "cs", '
        b'"created_at": "2026-10-01T10:00:00Z", "text": "ok", "rating": 1e999}',
        json.dumps({**BASE, "id": "bad-date", "text": "ok", "created_at": "yesterday"}).encode(),
        json.dumps({**BASE, "id": 12345678901234567890123, "text": "numeric id"}).encode(),
        json.dumps({**BASE, "id": "x" * 500, "text": "id too long"}).encode(),
        json.dumps({**BASE, "id": "text-object", "text": {"nested": "object"}}).encode(),
        json.dumps({**BASE, "id": "bad-dept", "text": "ok", "department": "finance"}).encode(),
        json.dumps({**BASE, "id": "inject-source", "text": "ok", "source": "x'; --"}).encode(),
    ]
    return lines


def test_every_bad_line_is_stored_or_quarantined_and_counts_reconcile(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    lines = _lines()
    drop = tmp_path / "nasty.jsonl"
    drop.write_bytes(b"\n".join(lines) + b"\n")

    result = import_drop(engine, drop, hash_key=settings.hash_key(), actor="test")

    assert result.read == len(lines)
    assert result.reconciles()
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM raw.notes")).scalar_one()
        parked = (
            conn.execute(text("SELECT reason FROM ops.quarantine WHERE stream = 'notes'"))
            .scalars()
            .all()
        )
        texts = conn.execute(text("SELECT text FROM raw.notes")).scalars().all()
    assert stored == result.written
    assert len(parked) == result.quarantined
    assert all(reason and reason.strip() for reason in parked)
    assert stored >= len(NASTY_TEXTS) - 2  # the nasty texts themselves are valid records
    assert not any("\x00" in t for t in texts)  # PostgreSQL text cannot hold NUL

    again = import_drop(engine, drop, hash_key=settings.hash_key(), actor="test")
    assert again.written == 0 and again.reconciles()
