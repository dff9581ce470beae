"""FAQ candidates' lifecycle: candidate (mart_faq_candidates) -> accepted or rejected by a
person -> published (linked to the help-center article) -> impact (mart_learning_loop_impact).

Decisions are rows of `ops.faq_decisions` (newest per cluster wins) with the cluster's size at
the time: the mart brings a rejected cluster back only once it has grown by half again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from feedbackloop.config import ConfigError
from feedbackloop.governance import audit
from nlp.pii import mask

MART = "analytics_marts.mart_faq_candidates"
# What may follow the cluster's newest decision (None: no decision yet).
NEXT: dict[str | None, tuple[str, ...]] = {
    None: ("accepted", "rejected"),
    "rejected": ("accepted", "rejected"),  # only once it is a candidate again (regrown)
    "accepted": ("published", "rejected"),
    "published": (),
}


class FaqError(ConfigError):
    """A decision that cannot be recorded; the message says why."""


@dataclass
class Candidate:
    cluster_id: int
    label: str | None  # the cluster's most central (masked) question or short sentence
    key_phrases: str | None  # its two or three distinctive phrases, comma-separated
    items_in_window: int
    trend: str
    share_negative: float | None
    examples: list[str]
    decision: str | None  # decided since the marts were last built


def _mart_exists(conn: Any) -> bool:
    return conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": MART}).scalar_one()


def list_candidates(engine: Engine, limit: int = 50) -> list[Candidate]:
    """The candidates of the last marts build, biggest first, with any decision made since."""
    with engine.connect() as conn:
        if not _mart_exists(conn):
            raise FaqError("no FAQ candidates yet: build the marts (`feedbackloop demo` or dbt)")
        rows = conn.execute(
            text(
                f"""
                SELECT c.cluster_id, c.cluster_label, c.key_phrases, c.items_in_window, c.trend,
                       c.share_negative, c.example_1, c.example_2, c.example_3, d.decision
                FROM {MART} c
                LEFT JOIN LATERAL (
                    SELECT decision FROM ops.faq_decisions f WHERE f.cluster_id = c.cluster_id
                    ORDER BY decided_at DESC, id DESC LIMIT 1
                ) d ON true
                ORDER BY c.items_in_window DESC, c.cluster_id
                LIMIT :limit
                """
            ),
            {"limit": limit},
        ).all()
    return [
        Candidate(
            r.cluster_id,
            r.cluster_label,
            r.key_phrases,
            r.items_in_window,
            r.trend,
            None if r.share_negative is None else float(r.share_negative),
            [e for e in (r.example_1, r.example_2, r.example_3) if e],
            r.decision,
        )
        for r in rows
    ]


def decide(
    engine: Engine,
    cluster_id: int,
    decision: str,
    *,
    by: str,
    note: str | None = None,
    article: str | None = None,
) -> int:
    """Record a person's decision on a cluster; the new row's id.

    accepted / rejected: the cluster must be a candidate in the last marts build (or accepted
    before, for a rejection). published: the cluster must be accepted, and `article` names the
    help-center article as SOURCE:ID (zendesk_guide:360001)."""
    if decision not in ("accepted", "rejected", "published"):
        raise FaqError(f"unknown decision {decision!r}")
    if not by.strip():
        raise FaqError("a decision needs the name of the person who made it")
    source = source_id = None
    if decision == "published":
        source, sep, source_id = (article or "").partition(":")
        if not sep or not source or not source_id:
            raise FaqError("publish needs the article as SOURCE:ID, e.g. zendesk_guide:360001")
    with engine.begin() as conn:
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('ops.faq_decisions'), :c)"),
            {"c": cluster_id},
        )
        size = conn.execute(
            text("SELECT size FROM nlp.clusters WHERE cluster_id = :c"), {"c": cluster_id}
        ).scalar_one_or_none()
        if size is None:
            raise FaqError(f"no topic cluster {cluster_id}")
        latest = conn.execute(
            text(
                "SELECT decision FROM ops.faq_decisions WHERE cluster_id = :c "
                "ORDER BY decided_at DESC, id DESC LIMIT 1"
            ),
            {"c": cluster_id},
        ).scalar_one_or_none()
        if decision not in NEXT[latest]:
            raise FaqError(
                f"cluster {cluster_id} is {latest or 'undecided'}: it cannot be {decision} "
                f"(allowed: {', '.join(NEXT[latest]) or 'nothing, it is published'})"
            )
        if decision in ("accepted", "rejected") and latest != "accepted":
            is_candidate = (
                _mart_exists(conn)
                and conn.execute(
                    text(f"SELECT 1 FROM {MART} WHERE cluster_id = :c"), {"c": cluster_id}
                ).first()
            )
            if not is_candidate:
                raise FaqError(
                    f"cluster {cluster_id} is not an FAQ candidate in the last marts build"
                )
        new_id = conn.execute(
            text(
                """
                INSERT INTO ops.faq_decisions (cluster_id, decision, cluster_size,
                    article_source, article_source_id, decided_by, note)
                VALUES (:c, :d, :size, :source, :source_id, :by, :note)
                RETURNING id
                """
            ),
            {
                "c": cluster_id,
                "d": decision,
                "size": size,
                "source": source,
                "source_id": source_id,
                "by": by.strip(),
                "note": mask(note) if note else None,
            },
        ).scalar_one()
        audit.record(
            conn,
            actor=by.strip(),
            action=f"faq_{decision}",
            entity_type="topic_cluster",
            entity_id=str(cluster_id),
            details={"cluster_size": size, "article": article, "previous": latest},
            reason=f"FAQ candidate {decision}",
        )
    return new_id
