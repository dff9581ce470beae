"""Load a generated demo dataset into the `raw` tables, masked, in batches.

This is the foundation's stand-in for the connectors: the same governance steps (mask free
text, hash emails, record consent) and the same idempotent upsert, so loading twice changes
nothing and the counts reconcile (`loaded + quarantined == generated`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from feedbackloop.demo.generator import DemoDataset
from feedbackloop.governance.pii import mask_text, mask_value
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import DeclarativeBase

from feedbackloop import progress
from feedbackloop.db import models as m
from feedbackloop.db.upsert import UpsertResult, upsert_rows
from feedbackloop.governance import audit
from feedbackloop.governance.identity import check_email, email_hash

T = TypeVar("T")

ZENDESK = "zendesk"
CRM = "crm"
HELP_CENTER = "zendesk_guide"


@dataclass
class LoadReport:
    """What one load did, per raw table, plus governance counts."""

    generated: Counter[str] = field(default_factory=Counter)
    written: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)
    masked_entities: Counter[str] = field(default_factory=Counter)
    invalid_emails: int = 0

    def reconciles(self) -> bool:
        return all(self.written[t] + self.quarantined[t] == n for t, n in self.generated.items())


class _Masker:
    """Masks free text and counts what it replaced, by entity type."""

    def __init__(self, counts: Counter[str]) -> None:
        self.counts = counts

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        result = mask_text(text)
        self.counts.update(e.type for e in result.entities)
        return result.text


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _accounts(ds: DemoDataset, _mask: _Masker, _key: bytes) -> Iterable[dict[str, Any]]:
    for a in ds.accounts:
        yield {
            "source": CRM,
            "source_id": a.source_id,
            "name": a.name,
            "tier": a.tier,
            "arr": a.arr,
            "churned_at": a.churned_at,
            "created_at": a.created_at,
            "updated_at": a.updated_at,
        }


def _contacts(ds: DemoDataset, _mask: _Masker, key: bytes) -> Iterable[dict[str, Any]]:
    for c in ds.contacts:
        check = check_email(c.email)
        yield {
            "source": CRM,
            "source_id": c.source_id,
            "email_hash": email_hash(check.normalized, key) if check.normalized else None,
            "email_domain": check.domain,
            "email_valid": check.valid,
            "email_invalid_reason": check.reason,
            "account_source_id": c.account_source_id,
            "language": c.language,
            "created_at": c.created_at,
            "updated_at": c.updated_at,
        }


def _tickets(ds: DemoDataset, mask: _Masker, _key: bytes) -> Iterable[dict[str, Any]]:
    for t in ds.tickets:
        yield {
            "source": ZENDESK,
            "source_id": t.source_id,
            "subject": mask(t.subject),
            "description": mask(t.description),
            "status": t.status,
            "priority": t.priority,
            "channel": t.channel,
            "product_area": t.product_area,
            "language": t.language,
            "requester_source_id": t.requester_source_id,
            "assignee_source_id": t.assignee_source_id,
            "account_source_id": t.account_source_id,
            "tags": list(t.tags),
            "created_at": t.created_at,
            "updated_at": t.updated_at,
        }


def _comments(ds: DemoDataset, mask: _Masker, _key: bytes) -> Iterable[dict[str, Any]]:
    for c in ds.comments:
        yield {
            "source": ZENDESK,
            "source_id": c.source_id,
            "ticket_source_id": c.ticket_source_id,
            "author_source_id": c.author_source_id,
            "author_role": c.author_role,
            "is_public": c.is_public,
            "body": mask(c.body),
            "created_at": c.created_at,
            "updated_at": c.created_at,
        }


def _status_changes(ds: DemoDataset, _mask: _Masker, _key: bytes) -> Iterable[dict[str, Any]]:
    for s in ds.status_changes:
        yield {
            "source": ZENDESK,
            "source_id": s.source_id,
            "ticket_source_id": s.ticket_source_id,
            "previous_status": s.previous_status,
            "status": s.status,
            "created_at": s.created_at,
            "updated_at": s.created_at,
        }


def _ratings(ds: DemoDataset, mask: _Masker, _key: bytes) -> Iterable[dict[str, Any]]:
    for r in ds.satisfaction_ratings:
        yield {
            "source": ZENDESK,
            "source_id": r.source_id,
            "ticket_source_id": r.ticket_source_id,
            "requester_source_id": r.requester_source_id,
            "score": r.score,
            "comment": mask(r.comment),
            "reason": r.reason,
            "created_at": r.created_at,
            "updated_at": r.updated_at,
        }


def _reviews(ds: DemoDataset, mask: _Masker, _key: bytes) -> Iterable[dict[str, Any]]:
    for r in ds.reviews:
        yield {
            "source": r.source,
            "source_id": r.source_id,
            "product": r.product,
            "rating": r.rating,
            "title": mask(r.title),
            "body": mask(r.body),
            "language": r.language,
            "territory": r.territory,
            "contact_source_id": r.contact_source_id,
            "created_at": r.created_at,
            "updated_at": r.updated_at,
        }


def _notes(ds: DemoDataset, mask: _Masker, _key: bytes) -> Iterable[dict[str, Any]]:
    for n in ds.notes:
        yield {
            "source": n.source,
            "source_id": n.source_id,
            "department": n.department,
            "kind": n.kind,
            "text": mask(n.text),
            "contact_source_id": n.contact_source_id,
            "account_source_id": n.account_source_id,
            "rating": n.rating,
            "created_at": n.created_at,
            "updated_at": n.updated_at,
        }


def _faq_articles(ds: DemoDataset, mask: _Masker, _key: bytes) -> Iterable[dict[str, Any]]:
    for f in ds.faq_articles:
        yield {
            "source": HELP_CENTER,
            "source_id": f.source_id,
            "title": f.title,
            "body": mask(f.body),
            "topic_key": f.topic_key,
            "published_at": f.published_at,
            "created_at": f.published_at,
            "updated_at": f.updated_at,
        }


RowBuilder = Callable[[DemoDataset, _Masker, bytes], Iterable[dict[str, Any]]]

# Load order follows references: accounts before contacts before the feedback that names them.
STREAMS: tuple[tuple[str, type[DeclarativeBase], str, RowBuilder], ...] = (
    ("accounts", m.Account, CRM, _accounts),
    ("contacts", m.Contact, CRM, _contacts),
    ("tickets", m.Ticket, ZENDESK, _tickets),
    ("ticket_comments", m.TicketComment, ZENDESK, _comments),
    ("ticket_status_changes", m.TicketStatusChange, ZENDESK, _status_changes),
    ("satisfaction_ratings", m.SatisfactionRating, ZENDESK, _ratings),
    ("reviews", m.Review, "app_store", _reviews),
    ("notes", m.Note, "drops", _notes),
    ("faq_articles", m.FaqArticle, HELP_CENTER, _faq_articles),
)


def _consent_rows(ds: DemoDataset) -> list[dict[str, Any]]:
    rows = []
    for c in ds.contacts:
        for purpose, granted in (
            ("contact", c.consent_contact),
            ("improvement", c.consent_improvement),
        ):
            rows.append(
                {
                    "contact_source": CRM,
                    "contact_source_id": c.source_id,
                    "purpose": purpose,
                    "granted": granted,
                    "recorded_by": "demo-generator",
                }
            )
    return rows


def load_dataset(
    engine: Engine,
    dataset: DemoDataset,
    *,
    hash_key: bytes,
    actor: str = "feedbackloop demo",
    batch_size: int = 2000,
) -> LoadReport:
    """Load every stream; each batch commits on its own so a crash loses at most one batch,
    and a rerun upserts the same rows again without duplicating anything."""
    report = LoadReport()
    mask = _Masker(report.masked_entities)
    for name, model, source, build in STREAMS:
        rows = list(build(dataset, mask, hash_key))
        report.generated[name] = len(rows)
        for batch in _batches(rows, batch_size):
            with engine.begin() as conn:
                result: UpsertResult = upsert_rows(
                    conn, model, batch, source=source, stream=name, mask_payload=mask_value
                )
            report.written[name] += result.written
            report.quarantined[name] += result.quarantined
            progress.report(f"load raw.{name}", len(batch), len(rows))
        if name == "contacts":
            report.invalid_emails = sum(1 for r in rows if not r["email_valid"])

    consent = _consent_rows(dataset)
    with engine.begin() as conn:
        stmt = pg_insert(m.Consent)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["contact_source", "contact_source_id", "purpose"],
                set_={"granted": stmt.excluded.granted, "recorded_by": stmt.excluded.recorded_by},
                where=m.Consent.granted != stmt.excluded.granted,
            ),
            consent,
        )
        audit.record(
            conn,
            actor=actor,
            action="load",
            entity_type="demo_dataset",
            entity_id=f"seed={dataset.seed}",
            details={
                "written": dict(report.written),
                "quarantined": dict(report.quarantined),
                "masked_entities": dict(report.masked_entities),
                "consent_rows": len(consent),
            },
            reason="demo data generated and loaded into raw",
        )
    return report
