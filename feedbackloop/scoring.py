"""Score every new or changed feedback item once, with the model version that scored it.

"Changed" is decided in SQL: an item is pending for a model version when it has no score from
that version or its text hash differs from the one scored. Scores from earlier versions stay
(one row per item and version), so old decisions keep their explanation.
"""

from __future__ import annotations

import json as _json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from feedbackloop import items, progress
from feedbackloop.config import Settings
from feedbackloop.db.bulk import insert_unnest
from feedbackloop.vocabulary import SENTIMENT_LABELS

# Items, their text and the pending rule live in the feedback-item contract (feedbackloop.items).
ItemKey = items.ItemKey
KeyRange = items.KeyRange
pending_ranges = items.pending_ranges


# Called inside the transaction that upserts a batch of scores, with that connection and the
# batch's score rows: what it writes (routing decisions) commits with the scores or not at all.
ScoredHook = Callable[[Connection, list[dict[str, Any]]], None]


@dataclass
class ScoreReport:
    """What one run scored, and (`totals`) the distribution over every item scored with this
    model version so far."""

    model_version: str
    scored: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    frustrated: int = 0
    not_english: int = 0
    totals: dict[str, int] = field(default_factory=dict)


def newest_approved_model(settings: Settings) -> Path | None:
    """The newest adapted model under STATE_DIR/models/sentiment with an `approved.json`.

    Approval is a file a person (or the review flow) writes next to the model, so a freshly
    trained model never scores production data before someone has looked at its metrics."""
    root = settings.state_path / "models" / "sentiment"
    approved = [p.parent for p in root.glob("*/approved.json") if (p.parent / "meta.json").exists()]
    if not approved:
        return None
    return max(approved, key=lambda p: (p / "meta.json").stat().st_mtime)


def score_pending(
    engine: Engine,
    nlp: Any,
    *,
    batch_size: int = 1000,
    total: int | None = None,
    on_scored: ScoredHook | None = None,
    key_range: KeyRange | None = None,
    with_totals: bool = True,
) -> ScoreReport:
    """Score pending items in batches through `nlp` (`nlp.sentiment.pipe_fields`) and upsert
    their scores; `on_scored` runs in each batch's transaction (see `ScoredHook`); `key_range`
    limits the run to one partition (`pending_ranges`)."""
    model_version = model_version_of(nlp)
    report = ScoreReport(model_version=model_version)
    # The server-side cursor reads one snapshot, so the writes below (other connections) do
    # not disturb it, and memory stays at one batch whatever the number of items.
    for batch in items.pending(engine, model_version, batch_size, key_range):
        rows = _score_rows(nlp, batch, report)
        with engine.begin() as conn:
            write_scores(conn, rows)
            if on_scored is not None:
                on_scored(conn, rows)
        report.scored += len(rows)
        progress.report("score feedback", len(rows), total)
    if with_totals:
        report.totals = distribution(engine, model_version)
    return report


def _score_rows(nlp: Any, batch: list[Any], report: ScoreReport) -> list[dict[str, Any]]:
    """The score rows of a batch of pending items; their labels counted in `report`."""
    # here, not at the top: importing spaCy costs seconds that callers of this module's other
    # functions (routing, the CLI) do not need to pay; `nlp` has loaded it already
    from nlp.sentiment import pipe_fields

    fields = pipe_fields(nlp, (row.body or "" for row in batch))
    rows = []
    for row, f in zip(batch, fields, strict=True):
        label, frustrated, language = f["sentiment_label"], f["frustrated"], f["language"]
        rows.append(
            {
                "item_type": row.item_type,
                "item_source": row.item_source,
                "item_source_id": row.item_source_id,
                "model_version": f["sentiment_model_version"],
                "text_hash": row.text_hash,
                "sentiment": max(-1.0, min(1.0, f["sentiment"])),
                "label": label,
                "frustrated": frustrated,
                "language": language,
                "explanation": {
                    "signals": f["explanation"],
                    "scored": f["scored"],
                    "reason": f["sentiment_reason"],
                },
            }
        )
        report.labels[label] += 1
        report.frustrated += frustrated
        report.not_english += language not in ("en", "und")
    return rows


_SCORE_COLUMNS = {
    "item_type": "text",
    "item_source": "text",
    "item_source_id": "text",
    "model_version": "text",
    "text_hash": "text",
    "sentiment": "float8",
    "label": "text",
    "frustrated": "boolean",
    "language": "text",
    "explanation": "jsonb",
}
_ON_SCORE_CONFLICT = (
    "ON CONSTRAINT uq_feedback_scores_item_model DO UPDATE "
    "SET text_hash = EXCLUDED.text_hash, sentiment = EXCLUDED.sentiment, "
    "label = EXCLUDED.label, frustrated = EXCLUDED.frustrated, "
    "language = EXCLUDED.language, explanation = EXCLUDED.explanation, scored_at = now()"
)


def write_scores(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Upsert score rows (the dicts `score_pending` builds) in one statement."""
    # A key twice in one statement would be an error where row-by-row upserts let the last
    # one win: keep the last one.
    unique = list(
        {
            (r["item_type"], r["item_source"], r["item_source_id"], r["model_version"]): r
            for r in rows
        }.values()
    )
    insert_unnest(
        conn, "nlp.feedback_scores", _SCORE_COLUMNS, unique, on_conflict=_ON_SCORE_CONFLICT
    )


def merge_reports(model_version: str, parts: list[ScoreReport]) -> ScoreReport:
    """One report from the reports of several partitions."""
    merged = ScoreReport(model_version=model_version)
    for part in parts:
        merged.scored += part.scored
        merged.labels.update(part.labels)
        merged.frustrated += part.frustrated
        merged.not_english += part.not_english
    return merged


_PER_LABEL = ", ".join(
    f"count(*) FILTER (WHERE label = '{label}') AS {label}" for label in SENTIMENT_LABELS
)


def distribution(engine: Engine, model_version: str) -> dict[str, int]:
    """Items per label, plus `frustrated` and `not_english`, for one model version."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                f"""
                SELECT {_PER_LABEL},
                       count(*) FILTER (WHERE frustrated) AS frustrated,
                       count(*) FILTER (WHERE language NOT IN ('en', 'und')) AS not_english,
                       count(*) AS items
                FROM nlp.feedback_scores WHERE model_version = :v
                """
            ),
            {"v": model_version},
        ).one()
    return dict(row._mapping)


def model_version_of(nlp: Any) -> str:
    return nlp("ok")._.sentiment_model_version


def record_model_decision(
    engine: Engine,
    version: str | None,
    action: str,
    *,
    actor: str,
    details: dict[str, Any],
    reason: str,
) -> None:
    """The audit row of a decision on a sentiment model version (approved, rejected)."""
    from feedbackloop.governance import audit

    with engine.begin() as conn:
        audit.record(
            conn,
            actor=actor,
            action=action,
            entity_type="sentiment_model",
            entity_id=version,
            details=details,
            reason=reason,
        )


def approve_model(
    engine: Engine, settings: Settings, model_dir: Path, *, approver: str, note: str = ""
) -> Path:
    """Install an adapted model under STATE_DIR/models/sentiment/<version> and approve it.

    The approval (who, when, the model's held-out metrics) is written next to the model and in
    the audit trail; `score-feedback` picks the newest approved model on its next run."""
    import shutil
    from datetime import UTC, datetime

    meta = _json.loads((model_dir / "meta.json").read_text())
    target = settings.state_path / "models" / "sentiment" / meta["version"]
    if model_dir.resolve() != target.resolve():
        shutil.copytree(model_dir, target, dirs_exist_ok=True)
    approval = {
        "version": meta["version"],
        "approved_by": approver,
        "approved_at": datetime.now(UTC).isoformat(),
        "note": note,
        "metrics": meta.get("metrics", {}),
    }
    record_model_decision(
        engine,
        meta["version"],
        "approve_model",
        actor=approver,
        details={"metrics": meta.get("metrics", {}), "n_train": meta.get("n_train")},
        reason=note or "model approved for scoring",
    )
    (target / "approved.json").write_text(_json.dumps(approval, indent=2))
    return target
