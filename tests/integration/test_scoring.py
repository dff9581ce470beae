"""score_pending: every new or changed item scored once per model version, old versions kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from support.clock import NOW
from support.db import one

from demo.generator import generate
from demo.load import load_dataset
from feedbackloop.config import Settings
from feedbackloop.scoring import approve_model, newest_approved_model, score_pending
from nlp import load_pipeline
from nlp.training import train

SCORES = text("SELECT count(*) FROM nlp.feedback_scores WHERE model_version = :v")


def test_each_item_is_scored_once_and_rescored_when_its_text_changes(
    engine: Engine, settings: Settings
) -> None:
    dataset = generate(seed=41, tickets=150, now=NOW)
    load_dataset(engine, dataset, hash_key=settings.hash_key())
    nlp = load_pipeline(sentiment_model="rules")
    expected = (
        len(dataset.tickets)
        + sum(1 for r in dataset.satisfaction_ratings if r.comment)
        + len(dataset.reviews)
        + len(dataset.notes)
    )
    first = score_pending(engine, nlp, batch_size=64)
    assert first.scored == expected == first.totals["items"]
    assert sum(first.labels.values()) == expected
    assert score_pending(engine, nlp).scored == 0

    ticket = dataset.tickets[0].source_id
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE raw.tickets SET description = 'Still waiting, third time asking. "
                "Cancel my account.' WHERE source_id = :t"
            ),
            {"t": ticket},
        )
    again = score_pending(engine, nlp)
    assert again.scored == 1
    row = one(
        engine,
        "SELECT label, frustrated, explanation FROM nlp.feedback_scores "
        "WHERE item_type = 'ticket' AND item_source_id = :t",
        t=ticket,
    )
    assert row.label in {"negative", "very_negative"} and row.frustrated
    assert row.explanation["signals"], "the explanation names what moved the score"


def test_a_new_model_version_scores_again_and_keeps_the_old_scores(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    dataset = generate(seed=42, tickets=100, now=NOW)
    load_dataset(engine, dataset, hash_key=settings.hash_key())
    rules = score_pending(engine, load_pipeline(sentiment_model="rules"))

    texts = [t.description for t in dataset.tickets]
    labels = [
        {"angry": "negative", "sarcastic": "negative", "happy": "positive"}.get(t.tone, "neutral")
        for t in dataset.tickets
    ]
    assert newest_approved_model(settings) is None
    info = train(texts, labels, tmp_path / "trained", seed=1, base="rules")
    assert newest_approved_model(settings) is None  # trained is not approved
    installed = approve_model(engine, settings, tmp_path / "trained", approver="reviewer@test")
    assert newest_approved_model(settings) == installed
    assert json.loads((installed / "approved.json").read_text())["version"] == info.version
    with engine.connect() as conn:
        audit = conn.execute(
            text("SELECT entity_id FROM ops.audit_log WHERE action = 'approve_model'")
        ).scalar_one()
    assert audit == info.version

    adapted = score_pending(engine, load_pipeline(newest_approved_model(settings)))
    assert adapted.model_version == info.version != rules.model_version
    assert adapted.scored == rules.scored
    with engine.connect() as conn:
        assert conn.execute(SCORES, {"v": rules.model_version}).scalar_one() == rules.scored
        assert conn.execute(SCORES, {"v": info.version}).scalar_one() == rules.scored


def test_the_default_encoder_model_scores_into_the_database(
    engine: Engine, settings: Settings
) -> None:
    # the pipeline the flows build from default settings: the packaged encoder head
    dataset = generate(seed=43, tickets=30, now=NOW)
    load_dataset(engine, dataset, hash_key=settings.hash_key())
    assert settings.sentiment_model == "encoder"
    report = score_pending(engine, load_pipeline(**settings.sentiment_options()))
    assert report.model_version == "encoder-v1" and report.scored > 0
    with engine.connect() as conn:
        assert conn.execute(SCORES, {"v": "encoder-v1"}).scalar_one() == report.scored
        signals = (
            conn.execute(
                text(
                    "SELECT explanation -> 'signals' FROM nlp.feedback_scores "
                    "WHERE model_version = :v"
                ),
                {"v": "encoder-v1"},
            )
            .scalars()
            .all()
        )
    # the encoder's words are named next to the rules' tokens
    assert any(s.get("source") == "encoder" for sig in signals for s in sig)


SCORE_ROWS = """
    SELECT item_type, item_source, item_source_id, model_version, text_hash, sentiment, label,
           frustrated, language, explanation
    FROM nlp.feedback_scores ORDER BY 1, 2, 3, 4
"""
# Everything but the id; the keys in id order show the ids follow the decision order.
ACTION_ROWS = """
    SELECT idempotency_key, item_type, item_source, item_source_id, rule, action_type, target,
           payload, explanation, model_version, status, last_error
    FROM ops.actions ORDER BY idempotency_key
"""
ACTION_ORDER = "SELECT idempotency_key FROM ops.actions ORDER BY id"


def _rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_scores_and_decisions_are_the_same_in_one_batch_or_many(
    engine: Engine, settings: Settings
) -> None:
    from feedbackloop.routing import DecideReport, load_rules, scored_hook

    load_dataset(engine, generate(seed=43, tickets=200, now=NOW), hash_key=settings.hash_key())
    shipped = Path(Settings().routing_rules_path).read_text()
    assert "max_item_age_days: 14" in shipped  # generated items are older: route them all
    path = settings.state_path / "routing-no-age-limit.yml"
    path.write_text(shipped.replace("max_item_age_days: 14", "max_item_age_days: 100000"))
    rules = load_rules(path)
    nlp = load_pipeline(sentiment_model="rules")
    decided_at = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

    outputs = []
    for batch_size in (7, 100_000):  # 7: many batches, the last one short; then one batch
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM nlp.feedback_scores"))
            conn.execute(text("DELETE FROM ops.actions"))
        decided = DecideReport()
        report = score_pending(
            engine,
            nlp,
            batch_size=batch_size,
            on_scored=scored_hook(rules, now=decided_at, report=decided),
        )
        outputs.append(
            (
                report.scored,
                report.labels,
                decided.actions,
                _rows(engine, SCORE_ROWS),
                _rows(engine, ACTION_ROWS),
                _rows(engine, ACTION_ORDER),
            )
        )
    many, one_batch = outputs
    assert many[0] == one_batch[0] > 200
    assert sum(many[2].values()) > 20, "the rules decided something to compare"
    assert many == one_batch


def test_batches_are_written_one_at_a_time_in_order_and_a_failed_write_stops_the_run(
    engine: Engine, settings: Settings
) -> None:
    # The hook sees the batches one at a time, in key order, and an error in it ends the run
    # with the batches before it committed and none after it.
    import threading

    load_dataset(engine, generate(seed=44, tickets=40, now=NOW), hash_key=settings.hash_key())
    nlp = load_pipeline(sentiment_model="rules")
    seen: list[list[tuple[str, str, str]]] = []
    inside = threading.Lock()

    def hook(conn: Any, rows: list[dict[str, Any]]) -> None:
        assert inside.acquire(blocking=False), "two batches written at once"
        try:
            if len(seen) == 2:
                raise RuntimeError("the third batch fails")
            seen.append([(r["item_type"], r["item_source"], r["item_source_id"]) for r in rows])
        finally:
            inside.release()

    with pytest.raises(RuntimeError, match="third batch"):
        score_pending(engine, nlp, batch_size=5, on_scored=hook)
    keys = [k for batch in seen for k in batch]
    assert [len(b) for b in seen] == [5, 5]
    assert keys == sorted(keys)
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT item_type, item_source, item_source_id FROM nlp.feedback_scores")
        ).all()
    assert sorted(tuple(r) for r in stored) == keys  # the two batches before the error only
    # the rerun scores the rest
    assert score_pending(engine, nlp).scored > 10
