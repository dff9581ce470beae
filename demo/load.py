"""Load a generated demo dataset into the `raw` tables, masked, in batches.

This is the foundation's stand-in for the connectors: the same governance steps (mask free
text, hash emails, record consent) and the same idempotent upsert, so loading twice changes
nothing and the counts reconcile (`loaded + quarantined == generated`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import DeclarativeBase

from demo.generator import DemoDataset
from feedbackloop import progress
from feedbackloop.db import models as m
from feedbackloop.db.upsert import UpsertResult, quarantine, upsert_rows
from feedbackloop.governance import audit
from feedbackloop.governance.contacts import record_consent
from feedbackloop.governance.gate import GateDecision, record_run, table_gate
from feedbackloop.governance.identity import EmailCheck, check_email, email_hash
from nlp.pii import CountingMasker, mask_value

if TYPE_CHECKING:
    from expectations.checkpoints import Validator

T = TypeVar("T")
Row = Mapping[str, Any]

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
    gate_rejected: Counter[str] = field(default_factory=Counter)
    gate_failures: dict[str, str] = field(default_factory=dict)
    validation_runs: int = 0
    consent_changes: int = 0
    invalid_emails: int = 0

    def reconciles(self) -> bool:
        return all(self.written[t] + self.quarantined[t] == n for t, n in self.generated.items())


class _Masker(CountingMasker):
    """The governance steps every row builder applies: mask free text (counting what it
    replaced) and check email addresses."""

    def __init__(
        self, counts: Counter[str], deliverability: bool = False, dns_timeout: float = 2.0
    ) -> None:
        super().__init__(counts)
        self.deliverability = deliverability
        self.dns_timeout = dns_timeout

    def check_email(self, address: str | None) -> EmailCheck:
        return check_email(address, deliverability=self.deliverability, timeout=self.dns_timeout)


RowBuilder = Callable[[Sequence[Any], _Masker, bytes], Iterable[dict[str, Any]]]


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _columns(source: str | None, spec: str) -> RowBuilder:
    """A row builder from a column list: `name` copies the record's attribute, `~name` masks
    it, `name=attr` copies another attribute. `source` (None: the record's own) comes first."""
    columns = []
    for word in spec.split():
        name, _, attr = word.removeprefix("~").partition("=")
        columns.append((name, attrgetter(attr or name), word.startswith("~")))

    def build(records: Sequence[Any], mask: _Masker, _key: bytes) -> Iterable[dict[str, Any]]:
        for record in records:
            row: dict[str, Any] = {"source": source or record.source}
            for name, get, masked in columns:
                value = get(record)
                row[name] = (
                    mask(value) if masked else list(value) if isinstance(value, tuple) else value
                )
            yield row

    return build


def _contacts(records: Sequence[Any], mask: _Masker, key: bytes) -> Iterable[dict[str, Any]]:
    for c in records:
        check = mask.check_email(c.email)
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


@dataclass(frozen=True)
class Stream:
    name: str  # the raw table, and the gate's name for it
    records: Callable[[DemoDataset], Sequence[Any]]
    model: type[DeclarativeBase]
    source: str
    build: RowBuilder


# Load order follows references: accounts before contacts before the feedback that names them.
STREAMS: tuple[Stream, ...] = (
    Stream(
        "accounts",
        attrgetter("accounts"),
        m.Account,
        CRM,
        _columns(CRM, "source_id name tier arr churned_at created_at updated_at"),
    ),
    Stream("contacts", attrgetter("contacts"), m.Contact, CRM, _contacts),
    Stream(
        "tickets",
        attrgetter("tickets"),
        m.Ticket,
        ZENDESK,
        _columns(
            ZENDESK,
            "source_id ~subject ~description status priority channel product_area language "
            "requester_source_id assignee_source_id account_source_id tags created_at updated_at",
        ),
    ),
    Stream(
        "ticket_comments",
        attrgetter("comments"),
        m.TicketComment,
        ZENDESK,
        _columns(
            ZENDESK,
            "source_id ticket_source_id author_source_id author_role is_public ~body created_at "
            "updated_at=created_at",
        ),
    ),
    Stream(
        "ticket_status_changes",
        attrgetter("status_changes"),
        m.TicketStatusChange,
        ZENDESK,
        _columns(
            ZENDESK,
            "source_id ticket_source_id previous_status status created_at updated_at=created_at",
        ),
    ),
    Stream(
        "satisfaction_ratings",
        attrgetter("satisfaction_ratings"),
        m.SatisfactionRating,
        ZENDESK,
        _columns(
            ZENDESK,
            "source_id ticket_source_id requester_source_id score ~comment reason created_at "
            "updated_at",
        ),
    ),
    Stream(
        "reviews",
        attrgetter("reviews"),
        m.Review,
        "app_store",
        _columns(
            None,
            "source_id product rating ~title ~body language territory contact_source_id "
            "created_at updated_at",
        ),
    ),
    Stream(
        "notes",
        attrgetter("notes"),
        m.Note,
        "drops",
        _columns(
            None,
            "source_id department kind ~text contact_source_id account_source_id rating "
            "created_at updated_at",
        ),
    ),
    Stream(
        "faq_articles",
        attrgetter("faq_articles"),
        m.FaqArticle,
        HELP_CENTER,
        _columns(
            HELP_CENTER,
            "source_id title ~body topic_key published_at created_at=published_at updated_at",
        ),
    ),
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
                }
            )
    return rows


def load_dataset(
    engine: Engine,
    dataset: DemoDataset,
    *,
    hash_key: bytes,
    validator: Validator | None = None,
    max_failed_share: float = 0.05,
    email_deliverability: bool = False,
    email_dns_timeout: float = 2.0,
    actor: str = "feedbackloop demo",
    batch_size: int = 2000,
    streams: Collection[str] | None = None,
) -> LoadReport:
    """Load every stream; each batch commits on its own so a crash loses at most one batch,
    and a rerun upserts the same rows again without duplicating anything.

    With a `validator`, each feedback and contacts batch passes the GX gate first: failing rows
    are quarantined with the expectation that failed, the run is recorded, and a stream whose
    failed share passes `max_failed_share` is reported in `gate_failures`.

    `streams` limits the load to those stream names (the demo collects the others through
    the connectors); consent flags come with the contacts."""
    report = LoadReport()
    mask = _Masker(report.masked_entities, email_deliverability, email_dns_timeout)
    unknown = set(streams or ()) - {s.name for s in STREAMS}
    if unknown:
        raise ValueError(f"unknown streams: {sorted(unknown)}")
    gate = table_gate(validator) if validator is not None else None
    for stream in STREAMS:
        if streams is not None and stream.name not in streams:
            continue
        records = stream.records(dataset)
        report.generated[stream.name] = len(records)
        invalid_emails = 0
        for number, chunk in enumerate(_batches(records, batch_size)):
            before = Counter(report.masked_entities)
            batch = list(stream.build(chunk, mask, hash_key))
            masked_here = report.masked_entities - before
            if stream.name == "contacts":
                invalid_emails += sum(1 for r in batch if not r["email_valid"])
            decision = gate(stream.name, batch) if gate else GateDecision(passed=batch)
            with engine.begin() as conn:
                audit.masked(
                    conn,
                    actor=actor,
                    entity_type=stream.name,
                    entity_id=f"batch {number}",
                    counts=masked_here,
                )
                result: UpsertResult = upsert_rows(
                    conn,
                    stream.model,
                    decision.passed,
                    source=stream.source,
                    stream=stream.name,
                    mask_payload=mask_value,
                )
                for row, reason in decision.rejected:
                    quarantine(
                        conn,
                        source=str(row.get("source") or stream.source),
                        stream=stream.name,
                        source_id=str(row.get("source_id")),
                        reason=reason,
                        payload=row,
                        mask_payload=mask_value,
                        actor=actor,
                    )
                if decision.outcome is not None and validator is not None:
                    docs = validator.data_docs_index
                    record_run(
                        conn,
                        decision.outcome,
                        batch=f"{stream.name} batch {number}",
                        data_docs_path=str(docs) if docs else None,
                    )
                    report.validation_runs += 1
                    if decision.outcome.errors:
                        report.gate_failures[stream.name] = "; ".join(decision.outcome.errors)
            report.written[stream.name] += result.written
            report.quarantined[stream.name] += result.quarantined + len(decision.rejected)
            report.gate_rejected[stream.name] += len(decision.rejected)
            progress.report(f"load raw.{stream.name}", len(batch), len(records))
        if records and report.gate_rejected[stream.name] / len(records) > max_failed_share:
            report.gate_failures.setdefault(
                stream.name,
                f"{report.gate_rejected[stream.name]} of {len(records)} rows failed the gate "
                f"(more than {max_failed_share:.0%})",
            )
        if stream.name == "contacts":
            report.invalid_emails = invalid_emails

    consent = _consent_rows(dataset) if streams is None or "contacts" in streams else []
    with engine.begin() as conn:
        report.consent_changes = record_consent(
            conn, consent, actor=actor, reason="consent flags from the CRM"
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
