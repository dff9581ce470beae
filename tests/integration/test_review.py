"""The weekly human review: stratified seeded samples, verdicts, and a retrain that is
promoted only when it beats the model in use on held-back reviews."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from support.db import one, rows
from support.items import scored_and_routed

from demo.generator import generate
from demo.load import load_dataset
from feedbackloop.config import Settings
from feedbackloop.review import (
    ReviewError,
    labelled_examples,
    record_review,
    retrain_from_reviews,
    review_queue,
    sample_for_review,
)
from feedbackloop.routing import load_rules
from feedbackloop.scoring import newest_approved_model

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def _rules(tmp: Path):
    shipped = (Path(__file__).parents[2] / "config" / "routing.yml").read_text()
    path = tmp / "routing.yml"
    path.write_text(shipped.replace("max_item_age_days: 14", "max_item_age_days: 100000"))
    return load_rules(path)


@pytest.fixture
def routed(engine: Engine, settings: Settings, tmp_path: Path) -> Engine:
    """Demo items scored and routed; live decisions marked sent as the dispatcher would."""
    scored_and_routed(engine, settings, _rules(tmp_path), now=NOW)
    return engine


def _strata(engine: Engine, ids: list[int]) -> Counter:
    sampled = rows(
        engine,
        "SELECT a.action_type, a.rule FROM ops.human_reviews r "
        "JOIN ops.actions a ON a.id = r.action_id WHERE r.id = ANY(:ids)",
        ids=ids,
    )
    return Counter((r.action_type, r.rule) for r in sampled)


def test_the_weekly_sample_is_20_stratified_seeded_and_idempotent(routed: Engine) -> None:
    engine = routed
    with engine.connect() as conn:
        available = Counter(
            (r.action_type, r.rule)
            for r in conn.execute(
                text("SELECT action_type, rule FROM ops.actions WHERE status IN ('sent','shadow')")
            )
        )
    assert sum(available.values()) > 40 and len(available) >= 4

    ids = sample_for_review(engine, batch="2026-W47")
    assert len(ids) == 20
    assert sample_for_review(engine, batch="2026-W47") == ids  # same batch: same rows
    strata = _strata(engine, ids)
    # Every stratum is represented (there are fewer strata than slots), none beyond its size,
    # and the biggest stratum gets the most.
    assert set(strata) == set(available)
    assert all(strata[k] <= available[k] for k in strata)
    biggest = max(available, key=available.get)
    assert strata[biggest] == max(strata.values())

    # A new week draws from actions not reviewed yet; the seed makes the draw reproducible.
    second = sample_for_review(engine, batch="2026-W48")
    with engine.connect() as conn:
        actions = conn.execute(
            text("SELECT batch, action_id FROM ops.human_reviews ORDER BY id")
        ).all()
    first_actions = {a for b, a in actions if b == "2026-W47"}
    assert len(second) == 20 and not first_actions & {a for b, a in actions if b == "2026-W48"}
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM ops.human_reviews WHERE batch = '2026-W48'"))
    again = sample_for_review(engine, batch="2026-W48")
    with engine.connect() as conn:
        redrawn = {
            r.action_id
            for r in conn.execute(
                text("SELECT action_id FROM ops.human_reviews WHERE batch = '2026-W48'")
            )
        }
    assert len(again) == 20 and redrawn == {a for b, a in actions if b == "2026-W48"}


def test_a_reviewer_rates_the_queue_and_the_labels_become_examples(routed: Engine) -> None:
    engine = routed
    ids = sample_for_review(engine, batch="2026-W47")
    queue = review_queue(engine)
    assert [q.id for q in queue] == ids
    assert all(q.text and q.model_label and q.action_type for q in queue)
    first, second, third = queue[:3]
    record_review(engine, first.id, reviewer="ana", verdict="correct")
    record_review(
        engine,
        second.id,
        reviewer="ana",
        verdict="wrong",
        sentiment_label="very_negative",
        comment="customer is furious, call ana@example.com",
    )
    record_review(engine, third.id, reviewer="ana", verdict="wrong")  # no label: no example
    with pytest.raises(ReviewError, match="already rated"):
        record_review(engine, first.id, reviewer="bo", verdict="wrong")
    with pytest.raises(ReviewError, match="sentiment label"):
        record_review(engine, queue[3].id, reviewer="bo", verdict="wrong", sentiment_label="mad")

    assert len(review_queue(engine)) == 17
    examples = {e.review_id: e.label for e in labelled_examples(engine)}
    assert examples == {first.id: first.model_label, second.id: "very_negative"}
    (comment,) = one(engine, "SELECT comment FROM ops.human_reviews WHERE id = :i", i=second.id)
    (audited,) = one(engine, "SELECT count(*) FROM ops.audit_log WHERE action = 'review'")
    assert "ana@example.com" not in comment and "<EMAIL_ADDRESS>" in comment
    assert audited == 3


def _reviewed_texts(engine: Engine, n: int, label_for) -> None:
    """`n` queued reviews on tickets whose text we set, rated with label_for(example)."""
    with engine.begin() as conn:
        tickets = conn.execute(
            text("SELECT source_id FROM raw.tickets ORDER BY source_id LIMIT :n"), {"n": n}
        ).scalars()
        for i, source_id in enumerate(tickets):
            word = "zorblax" if i % 2 else "quiffle"
            conn.execute(
                text("UPDATE raw.tickets SET subject = '', description = :d WHERE source_id = :s"),
                {"d": f"The {word} thing happened with order {i}.", "s": source_id},
            )
            conn.execute(
                text(
                    "INSERT INTO ops.human_reviews (item_type, item_source, item_source_id, "
                    "batch) VALUES ('ticket', 'zendesk', :s, 'test')"
                ),
                {"s": source_id},
            )
    from feedbackloop.review import Example

    for row in review_queue(engine, batch="test"):
        example = Example(row.id, row.text, "")
        record_review(
            engine, row.id, reviewer="qa", verdict="wrong", sentiment_label=label_for(example)
        )


def _truth(example) -> str:
    # A made-up word the rules cannot know: "zorblax" is bad news, "quiffle" good news.
    return "very_negative" if "zorblax" in example.text else "very_positive"


def _own_models(settings: Settings, tmp_path: Path) -> Settings:
    # Models live under the state dir, which the session's tests share: give this one its own.
    return settings.model_copy(update={"state_dir": tmp_path})


def test_a_retrain_that_beats_the_model_in_use_is_promoted(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load_dataset(engine, generate(seed=29, tickets=200, now=NOW), hash_key=settings.hash_key())
    _reviewed_texts(engine, 160, _truth)
    settings = _own_models(settings, tmp_path)
    report = retrain_from_reviews(engine, settings)
    assert report.held_back > 10 and report.trained_on > 100
    assert report.current_version == "encoder-v1"  # the default model, nothing approved yet
    assert report.candidate_version.startswith("sentiment-encoder-adapted-")
    assert report.candidate_macro_f1 > report.current_macro_f1, report
    assert report.promoted and newest_approved_model(settings) is not None


def test_a_retrain_that_is_worse_is_not_promoted(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load_dataset(engine, generate(seed=31, tickets=200, now=NOW), hash_key=settings.hash_key())

    def poisoned(example) -> str:
        # Training labels contradict the held-back ones: the model learns the opposite.
        truth = _truth(example)
        if example.held_back:
            return truth
        return "very_positive" if truth == "very_negative" else "very_negative"

    _reviewed_texts(engine, 160, poisoned)
    settings = _own_models(settings, tmp_path)
    report = retrain_from_reviews(engine, settings)
    assert report.candidate_macro_f1 is not None
    assert report.candidate_macro_f1 <= report.current_macro_f1, report
    assert not report.promoted and newest_approved_model(settings) is None
    with engine.connect() as conn:
        rejected = conn.execute(
            text("SELECT count(*) FROM ops.audit_log WHERE action = 'model_rejected'")
        ).scalar_one()
    assert rejected == 1


def test_too_few_reviews_train_nothing(engine: Engine, settings: Settings) -> None:
    report = retrain_from_reviews(engine, settings)
    assert not report.promoted and report.candidate_version is None
    assert "not enough reviewed labels" in report.reason


def test_the_review_command_rates_the_queue_interactively(
    routed: Engine, settings: Settings
) -> None:
    from typer.testing import CliRunner

    from feedbackloop.cli import app
    from feedbackloop.config import settings_overridden

    runner = CliRunner()
    with settings_overridden(settings):
        sampled = runner.invoke(app, ["review", "sample", "--size", "5", "--batch", "2026-W47"])
        assert sampled.exit_code == 0 and "5 actions" in sampled.output
        # correct; wrong + label 1 + comment; skip; wrong without label; quit.
        answers = "c\n\nw\n1\nlooks furious\ns\nw\n\n\nq\n"
        result = runner.invoke(app, ["review", "--by", "rita"], input=answers)
    assert result.exit_code == 0, result.output
    assert "3 rated by rita; 2 left in the queue" in result.output
    rated = rows(
        routed,
        "SELECT verdict, sentiment_label, comment FROM ops.human_reviews "
        "WHERE reviewer = 'rita' ORDER BY id",
    )
    assert [(r.verdict, r.sentiment_label) for r in rated] == [
        ("correct", None),
        ("wrong", "very_negative"),
        ("wrong", None),
    ]
    assert rated[1].comment == "looks furious"
