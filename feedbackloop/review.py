"""The weekly human review of automated actions, and the retraining it feeds.

- `sample_for_review`: a seeded sample of recent automated actions, stratified by action type
  and rule, queued in `ops.human_reviews` under the ISO week (one batch per week, idempotent);
- `record_review`: a reviewer's verdict (correct / wrong, and the right sentiment label when
  wrong), audited;
- `labelled_examples`: reviewed items as (text, label) pairs;
- `retrain_from_reviews`: trains an adapted sentiment model on them and promotes it only when it
  beats the model in use on reviewed items held back from every training run.
"""

from __future__ import annotations

import hashlib
import random
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from feedbackloop.config import ConfigError, Settings
from feedbackloop.governance import audit
from feedbackloop.items import ITEMS
from feedbackloop.scoring import approve_model, newest_approved_model, record_model_decision
from feedbackloop.vocabulary import SENTIMENT_LABELS
from nlp.pii import mask

SAMPLE_SIZE = 20
# Decisions that reached a customer or a rep, and shadow decisions (what a rule would do).
REVIEWABLE = ("sent", "shadow")
LABELS = SENTIMENT_LABELS
VERDICTS = ("correct", "wrong")
# One review in HOLDBACK_EVERY is never trained on: the fixed yardstick new models must beat.
HOLDBACK_EVERY = 4


class ReviewError(ConfigError):
    """A review that cannot be recorded (unknown id, already rated, bad label)."""


def iso_week(when: datetime) -> str:
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


def _allocate(sizes: dict[tuple[str, str], int], size: int, rng: random.Random) -> dict:
    """Slots per stratum: one each while slots last, then in proportion to stratum size."""
    keys = sorted(sizes)
    total = sum(sizes.values())
    size = min(size, total)
    alloc = dict.fromkeys(keys, 0)
    if size < len(keys):
        for key in rng.sample(keys, size):
            alloc[key] = 1
        return alloc
    for key in keys:
        alloc[key] = 1
    for _ in range(size - len(keys)):
        open_keys = [k for k in keys if alloc[k] < sizes[k]]
        best = max(open_keys, key=lambda k: (sizes[k] * size / total - alloc[k], sizes[k]))
        alloc[best] += 1
    return alloc


def sample_for_review(
    engine: Engine,
    *,
    size: int = SAMPLE_SIZE,
    now: datetime | None = None,
    days: int = 7,
    batch: str | None = None,
    seed: int = 0,
    actor: str = "review sampler",
) -> list[int]:
    """Queue up to `size` actions of the last `days` for review; the ids of the batch's rows.

    Stratified by (action type, rule), seeded by the batch name, never an action already
    reviewed; a second call for the same batch returns the rows the first one queued."""
    now = now or datetime.now(UTC)
    batch = batch or iso_week(now)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('ops.human_reviews'))"))
        queued = (
            conn.execute(
                text("SELECT id FROM ops.human_reviews WHERE batch = :b ORDER BY id"), {"b": batch}
            )
            .scalars()
            .all()
        )
        if queued:
            return list(queued)
        candidates = conn.execute(
            text(
                """
                SELECT a.id, a.action_type, a.rule FROM ops.actions a
                WHERE a.status = ANY(:statuses) AND a.created_at >= :since
                  AND a.created_at <= :now
                  AND NOT EXISTS (SELECT 1 FROM ops.human_reviews r WHERE r.action_id = a.id)
                ORDER BY a.id
                """
            ),
            {"statuses": list(REVIEWABLE), "since": now - timedelta(days=days), "now": now},
        ).all()
        strata: dict[tuple[str, str], list[int]] = defaultdict(list)
        for row in candidates:
            strata[(row.action_type, row.rule)].append(row.id)
        rng = random.Random(f"{batch}:{seed}")
        alloc = _allocate({k: len(v) for k, v in strata.items()}, size, rng)
        picked = sorted(i for k, n in alloc.items() for i in rng.sample(strata[k], n))
        ids = (
            conn.execute(
                text(
                    """
                    INSERT INTO ops.human_reviews
                        (item_type, item_source, item_source_id, action_id, batch, queued_at)
                    SELECT item_type, item_source, item_source_id, id, :batch, :now
                    FROM ops.actions WHERE id = ANY(:ids) ORDER BY id
                    RETURNING id
                    """
                ),
                {"batch": batch, "now": now, "ids": picked},
            )
            .scalars()
            .all()
        )
        audit.record(
            conn,
            actor=actor,
            action="review_sample",
            entity_type="human_reviews",
            entity_id=batch,
            details={
                "queued": len(ids),
                "candidates": len(candidates),
                "strata": {f"{t}/{r}": n for (t, r), n in alloc.items() if n},
                "seed": seed,
            },
            reason="weekly sample of automated actions for human review",
        )
    return list(ids)


@dataclass
class QueuedReview:
    id: int
    batch: str | None
    action_id: int | None
    action_type: str | None
    rule: str | None
    status: str | None
    item: str
    text: str
    model_label: str | None
    model_version: str | None
    reviewed: bool = False
    verdict: str | None = None
    sentiment_label: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_QUEUE = f"""
    SELECT r.id, r.batch, r.action_id, a.action_type, a.rule, a.status,
           r.item_type || ':' || r.item_source || ':' || r.item_source_id AS item,
           coalesce(i.text, '') AS body,
           coalesce(s.label, a.explanation -> 'sentiment' ->> 'label') AS model_label,
           coalesce(a.model_version, s.model_version) AS model_version,
           r.reviewed_at IS NOT NULL AS reviewed, r.verdict, r.sentiment_label
    FROM ops.human_reviews r
    LEFT JOIN ops.actions a ON a.id = r.action_id
    LEFT JOIN {ITEMS} i ON i.item_type = r.item_type AND i.item_source = r.item_source
                     AND i.item_source_id = r.item_source_id
    LEFT JOIN LATERAL (
        SELECT label, model_version FROM nlp.feedback_scores fs
        WHERE fs.item_type = r.item_type AND fs.item_source = r.item_source
          AND fs.item_source_id = r.item_source_id
          AND (a.model_version IS NULL OR fs.model_version = a.model_version)
        ORDER BY fs.scored_at DESC LIMIT 1
    ) s ON true
"""


def _queued(row: Any) -> QueuedReview:
    return QueuedReview(
        id=row.id,
        batch=row.batch,
        action_id=row.action_id,
        action_type=row.action_type,
        rule=row.rule,
        status=row.status,
        item=row.item,
        text=row.body,
        model_label=row.model_label,
        model_version=row.model_version,
        reviewed=row.reviewed,
        verdict=row.verdict,
        sentiment_label=row.sentiment_label,
    )


def review_queue(
    engine: Engine, *, batch: str | None = None, include_reviewed: bool = False
) -> list[QueuedReview]:
    """Queued reviews (oldest batch first), with the masked text and the model's label."""
    where = ["r.batch IS NOT NULL"]
    if batch:
        where.append("r.batch = :batch")
    if not include_reviewed:
        where.append("r.reviewed_at IS NULL")
    sql = _QUEUE + " WHERE " + " AND ".join(where) + " ORDER BY r.batch, r.id"
    with engine.connect() as conn:
        return [_queued(r) for r in conn.execute(text(sql), {"batch": batch})]


def record_review(
    engine: Engine,
    review_id: int,
    *,
    reviewer: str,
    verdict: str,
    sentiment_label: str | None = None,
    comment: str | None = None,
) -> None:
    """Rate one queued review. `sentiment_label` (five levels) is the right label when the
    verdict is wrong; a comment is masked before it is stored."""
    if verdict not in VERDICTS:
        raise ReviewError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    if sentiment_label is not None and sentiment_label not in LABELS:
        raise ReviewError(f"sentiment label must be one of {', '.join(LABELS)}")
    if not reviewer.strip():
        raise ReviewError("a review needs the reviewer's name")
    with engine.begin() as conn:
        updated = conn.execute(
            text(
                """
                UPDATE ops.human_reviews
                SET reviewer = :reviewer, verdict = :verdict, sentiment_label = :label,
                    comment = :comment, reviewed_at = now(),
                    rating = :rating
                WHERE id = :id AND reviewed_at IS NULL
                RETURNING batch
                """
            ),
            {
                "id": review_id,
                "reviewer": reviewer.strip(),
                "verdict": verdict,
                # The 1-5 rating column, for tools that read ratings: correct 5, wrong 1.
                "rating": 5 if verdict == "correct" else 1,
                "label": sentiment_label,
                "comment": mask(comment) if comment else None,
            },
        ).one_or_none()
        if updated is None:
            exists = conn.execute(
                text("SELECT 1 FROM ops.human_reviews WHERE id = :id"), {"id": review_id}
            ).first()
            raise ReviewError(
                f"review {review_id} is already rated" if exists else f"no review {review_id}"
            )
        audit.record(
            conn,
            actor=reviewer.strip(),
            action="review",
            entity_type="human_reviews",
            entity_id=str(review_id),
            details={"verdict": verdict, "sentiment_label": sentiment_label},
            reason=f"human review of batch {updated.batch}",
        )


@dataclass
class Example:
    review_id: int
    text: str
    label: str

    @property
    def held_back(self) -> bool:
        # Stable over runs: a review held back once is never trained on later.
        digest = hashlib.sha256(str(self.review_id).encode()).digest()
        return digest[0] % HOLDBACK_EVERY == 0


def labelled_examples(engine: Engine) -> list[Example]:
    """Reviewed items with a label: the reviewer's when the verdict was wrong, the model's
    when it was right. Wrong verdicts without a label teach nothing and are left out."""
    sql = _QUEUE + " WHERE r.reviewed_at IS NOT NULL ORDER BY r.id"
    examples = []
    with engine.connect() as conn:
        for row in conn.execute(text(sql)):
            label = row.sentiment_label or (row.model_label if row.verdict == "correct" else None)
            if label in LABELS and row.body:
                examples.append(Example(row.id, row.body, label))
    return examples


@dataclass
class RetrainReport:
    examples: int
    trained_on: int = 0
    held_back: int = 0
    current_version: str = "rules"
    current_macro_f1: float | None = None
    candidate_version: str | None = None
    candidate_macro_f1: float | None = None
    promoted: bool = False
    reason: str = ""


def _macro_f1(
    model_dir: str | Path | None, examples: list[Example], settings: Settings
) -> tuple[str, float]:
    from nlp.evaluation import classification_report
    from nlp.pipeline import load_pipeline

    nlp = load_pipeline(model_dir, **settings.sentiment_options())
    docs = list(nlp.pipe(e.text for e in examples))
    report = classification_report([e.label for e in examples], [d._.sentiment_label for d in docs])
    return docs[0]._.sentiment_model_version, report["macro_f1"]


def retrain_from_reviews(
    engine: Engine,
    settings: Settings,
    *,
    min_examples: int = 40,
    seed: int = 0,
    actor: str = "retrain-sentiment flow",
) -> RetrainReport:
    """Train on reviewed labels; promote only a model that beats the current one (macro-F1 on
    the held-back reviews). Either way the outcome is in the audit trail."""
    from nlp.training import train

    examples = labelled_examples(engine)
    held = [e for e in examples if e.held_back]
    fit = [e for e in examples if not e.held_back]
    report = RetrainReport(examples=len(examples), trained_on=len(fit), held_back=len(held))
    if len(fit) < min_examples or len(held) < max(5, min_examples // 4):
        report.reason = (
            f"not enough reviewed labels: {len(fit)} to train on (need {min_examples}), "
            f"{len(held)} held back"
        )
        return report
    current = newest_approved_model(settings)
    report.current_version, report.current_macro_f1 = _macro_f1(current, held, settings)
    options = settings.sentiment_options()
    with tempfile.TemporaryDirectory(prefix="fl-retrain-") as tmp:
        # the setting's base: an encoder head adapted to the reviews, or the rules' model
        info = train(
            [e.text for e in fit],
            [e.label for e in fit],
            Path(tmp) / "model",
            seed=seed,
            base=options["sentiment_model"],
            encoder_cache=options.get("encoder_cache"),
        )
        report.candidate_version = info.version
        _, report.candidate_macro_f1 = _macro_f1(info.path, held, settings)
        report.promoted = report.candidate_macro_f1 > report.current_macro_f1
        note = (
            f"macro-F1 on {len(held)} held-back reviews: {report.candidate_macro_f1:.3f} "
            f"vs {report.current_macro_f1:.3f} ({report.current_version})"
        )
        if report.promoted:
            approve_model(engine, settings, info.path, approver=actor, note="promoted: " + note)
            report.reason = "promoted: " + note
            return report
    report.reason = "not promoted: " + note
    record_model_decision(
        engine,
        report.candidate_version,
        "model_rejected",
        actor=actor,
        details={
            "candidate_macro_f1": report.candidate_macro_f1,
            "current_macro_f1": report.current_macro_f1,
            "current_version": report.current_version,
            "trained_on": len(fit),
            "held_back": len(held),
        },
        reason=report.reason,
    )
    return report
