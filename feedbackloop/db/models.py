"""SQLAlchemy models for the `raw`, `ops` and `nlp` schemas.

Every raw table carries `source`, `source_id`, `updated_at` and `loaded_at`, and is unique on
(`source`, `source_id`) so connectors can upsert with "newest updated_at wins". Free text in these
tables is stored masked; email addresses are never stored, only a keyed hash (see
docs/decisions.md, "Contacts keep a keyed email hash").

Feedback items are referred to across schemas by (`item_type`, `item_source`, `item_source_id`),
the natural key of the raw row they came from, so nothing depends on surrogate ids that differ
between environments.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from feedbackloop.vocabulary import (
    ACTION_STATUSES,
    CONSENT_PURPOSES,
    DEPARTMENTS,
    RATING_SCALES,
    RATING_SCORES,
    SENTIMENT_LABELS,
    TEXT_ROW_TYPES,
    TICKET_STATUSES,
)

SCHEMAS = ("raw", "ops", "nlp")

# Deterministic constraint names keep Alembic autogenerate diffs stable.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The closed vocabularies live in feedbackloop.vocabulary; the CHECK constraints use them.
ITEM_TYPES = TEXT_ROW_TYPES


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        list[Any]: JSONB,
        Decimal: Numeric(14, 2),
    }


Tstz = DateTime(timezone=True)


def _now_column() -> Mapped[datetime]:
    return mapped_column(Tstz, nullable=False, server_default=func.now())


def _id_column() -> Mapped[int]:
    """A surrogate key (bigserial)."""
    return mapped_column(BigInteger, primary_key=True, autoincrement=True)


def _jsonb_column(default: str) -> Mapped[Any]:
    """A JSONB document that is never NULL: `default` ("{}" or "[]") when not given."""
    return mapped_column(JSONB, nullable=False, server_default=default)


class RawMixin:
    """Columns every raw table shares."""

    id: Mapped[int] = _id_column()
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    source_id: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime | None] = mapped_column(Tstz)
    updated_at: Mapped[datetime] = mapped_column(Tstz, nullable=False)
    loaded_at: Mapped[datetime] = _now_column()


class ItemKeyMixin:
    """The key of the feedback item a row is about (`item_key_columns` in the migrations).
    SQLAlchemy puts a mixin's columns after the class's own: in the database they stand where
    the migrations put them, and nothing reads the order of a model's columns."""

    item_type: Mapped[str] = mapped_column(String(32), nullable=False)
    item_source: Mapped[str] = mapped_column(String(64), nullable=False)
    item_source_id: Mapped[str] = mapped_column(String(128), nullable=False)


def _raw_args(table: str, *extra: Any) -> tuple[Any, ...]:
    return (
        UniqueConstraint("source", "source_id", name=f"uq_{table}_source_source_id"),
        *extra,
        {"schema": "raw"},
    )


# --------------------------------------------------------------------------------------- raw


class Account(RawMixin, Base):
    __tablename__ = "accounts"
    __table_args__ = _raw_args(
        "accounts", CheckConstraint(_in("tier", ("free", "pro", "enterprise")), name="tier")
    )

    name: Mapped[str] = mapped_column(Text, nullable=False)
    tier: Mapped[str] = mapped_column(String(32), nullable=False)
    arr: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    churned_at: Mapped[datetime | None] = mapped_column(Tstz)


class Contact(RawMixin, Base):
    __tablename__ = "contacts"
    __table_args__ = _raw_args("contacts", Index("ix_contacts_email_hash", "email_hash"))

    # Keyed hash of the normalized address: merges duplicates and finds a person for erasure
    # without keeping the address itself.
    email_hash: Mapped[str | None] = mapped_column(String(64))
    email_domain: Mapped[str | None] = mapped_column(String(255))
    email_valid: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    email_invalid_reason: Mapped[str | None] = mapped_column(Text)
    account_source_id: Mapped[str | None] = mapped_column(String(128))
    language: Mapped[str | None] = mapped_column(String(16))
    # Set by `feedbackloop forget`: the hash is gone and the contact's texts are erased.
    erased_at: Mapped[datetime | None] = mapped_column(Tstz)


class Ticket(RawMixin, Base):
    __tablename__ = "tickets"
    __table_args__ = _raw_args(
        "tickets",
        CheckConstraint(
            _in("status", TICKET_STATUSES),
            name="status",
        ),
    )

    subject: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    priority: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(32))
    product_area: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))
    requester_source_id: Mapped[str | None] = mapped_column(String(128))
    assignee_source_id: Mapped[str | None] = mapped_column(String(128))
    account_source_id: Mapped[str | None] = mapped_column(String(128))
    tags: Mapped[list[Any]] = _jsonb_column("[]")
    is_deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")


class TicketComment(RawMixin, Base):
    __tablename__ = "ticket_comments"
    __table_args__ = _raw_args(
        "ticket_comments",
        CheckConstraint(_in("author_role", ("end_user", "agent", "system")), name="author_role"),
        Index("ix_ticket_comments_ticket", "source", "ticket_source_id"),
    )

    ticket_source_id: Mapped[str] = mapped_column(String(128), nullable=False)
    author_source_id: Mapped[str | None] = mapped_column(String(128))
    author_role: Mapped[str] = mapped_column(String(16), nullable=False)
    is_public: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    body: Mapped[str] = mapped_column(Text, nullable=False)


class TicketStatusChange(RawMixin, Base):
    """Status audit events (Zendesk ticket events); needed for reopens and resolution times."""

    __tablename__ = "ticket_status_changes"
    __table_args__ = _raw_args(
        "ticket_status_changes",
        Index("ix_ticket_status_changes_ticket", "source", "ticket_source_id"),
    )

    ticket_source_id: Mapped[str] = mapped_column(String(128), nullable=False)
    previous_status: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), nullable=False)


class SatisfactionRating(RawMixin, Base):
    __tablename__ = "satisfaction_ratings"
    __table_args__ = _raw_args(
        "satisfaction_ratings",
        CheckConstraint(_in("score", RATING_SCORES), name="score"),
    )

    ticket_source_id: Mapped[str] = mapped_column(String(128), nullable=False)
    requester_source_id: Mapped[str | None] = mapped_column(String(128))
    score: Mapped[str] = mapped_column(String(16), nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)


class Review(RawMixin, Base):
    __tablename__ = "reviews"
    __table_args__ = _raw_args("reviews", CheckConstraint("rating BETWEEN 1 AND 5", name="rating"))

    product: Mapped[str | None] = mapped_column(String(128))
    rating: Mapped[int] = mapped_column(Integer, nullable=False)
    title: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    territory: Mapped[str | None] = mapped_column(String(8))
    contact_source_id: Mapped[str | None] = mapped_column(String(128))


class Note(RawMixin, Base):
    """Sales call notes, CS notes, survey answers and other file drops."""

    __tablename__ = "notes"
    __table_args__ = _raw_args(
        "notes", CheckConstraint(_in("department", DEPARTMENTS), name="department")
    )

    department: Mapped[str] = mapped_column(String(16), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    contact_source_id: Mapped[str | None] = mapped_column(String(128))
    account_source_id: Mapped[str | None] = mapped_column(String(128))
    rating: Mapped[int | None] = mapped_column(Integer)


class FaqArticle(RawMixin, Base):
    __tablename__ = "faq_articles"
    __table_args__ = _raw_args("faq_articles")

    title: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str | None] = mapped_column(Text)
    topic_key: Mapped[str | None] = mapped_column(String(128))
    published_at: Mapped[datetime | None] = mapped_column(Tstz)


class WebhookEvent(RawMixin, Base):
    """A webhook delivery, stored before answering 2xx; `source_id` is the delivery id."""

    __tablename__ = "webhook_events"
    __table_args__ = _raw_args("webhook_events")

    event_type: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    processed_at: Mapped[datetime | None] = mapped_column(Tstz)


class SurveyResponse(RawMixin, Base):
    """An answer to the quick feedback form (`POST /feedback`), text masked. `source_id` is
    ``link-<survey link id>`` for an answer through a survey link (a second answer replaces the
    first) and a random id otherwise. The address given, if any, is never stored, not even as
    a hash: a valid one finds the contact (`contact_source_id`), then only whether it was valid
    is kept."""

    __tablename__ = "survey_responses"
    __table_args__ = _raw_args(
        "survey_responses",
        CheckConstraint(_in("rating_scale", RATING_SCALES), name="rating_scale"),
        CheckConstraint(
            "rating IS NULL OR rating BETWEEN (CASE rating_scale WHEN '0-10' THEN 0 ELSE 1 END) "
            "AND (CASE rating_scale WHEN '0-10' THEN 10 ELSE 5 END)",
            name="rating",
        ),
    )

    rating: Mapped[int | None] = mapped_column(Integer)
    rating_scale: Mapped[str] = mapped_column(String(8), nullable=False)
    text: Mapped[str | None] = mapped_column(Text)
    consent_improvement: Mapped[bool] = mapped_column(Boolean, nullable=False)
    survey_link_id: Mapped[int | None] = mapped_column(BigInteger)
    ticket_source_id: Mapped[str | None] = mapped_column(String(128))
    contact_source_id: Mapped[str | None] = mapped_column(String(128))
    account_source_id: Mapped[str | None] = mapped_column(String(128))
    email_valid: Mapped[bool | None] = mapped_column(Boolean)
    email_invalid_reason: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))


class SegmentEvent(Base):
    """A Segment `track` or `identify` call, stored masked before the webhook answers 2xx.

    An append-only event log, not an upserted record: unique on Segment's `messageId` (a
    replayed message is stored once). Ids hold the keyed hash when they are personal data
    (`governance.fields.keyed_id`); an `email` trait is kept only as its keyed hash, the one
    `raw.contacts.email_hash` holds, so a user can be matched to a contact."""

    __tablename__ = "segment_events"
    __table_args__ = (
        UniqueConstraint("message_id", name="uq_segment_events_message_id"),
        CheckConstraint(_in("call_type", ("track", "identify")), name="call_type"),
        Index("ix_segment_events_event", "event", "occurred_at"),
        Index("ix_segment_events_user_id", "user_id"),
        {"schema": "raw"},
    )

    id: Mapped[int] = _id_column()
    source: Mapped[str] = mapped_column(String(64), nullable=False, server_default="segment")
    message_id: Mapped[str] = mapped_column(String(128), nullable=False)
    call_type: Mapped[str] = mapped_column(String(16), nullable=False)
    event: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[str | None] = mapped_column(String(128))
    anonymous_id: Mapped[str | None] = mapped_column(String(128))
    account_id: Mapped[str | None] = mapped_column(String(128))
    email_hash: Mapped[str | None] = mapped_column(String(64))
    properties: Mapped[dict[str, Any]] = _jsonb_column("{}")
    traits: Mapped[dict[str, Any]] = _jsonb_column("{}")
    occurred_at: Mapped[datetime] = mapped_column(Tstz, nullable=False)
    loaded_at: Mapped[datetime] = _now_column()


# --------------------------------------------------------------------------------------- ops


class SyncState(Base):
    __tablename__ = "sync_state"
    __table_args__ = {"schema": "ops"}

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    state: Mapped[dict[str, Any]] = _jsonb_column("{}")
    updated_at: Mapped[datetime] = _now_column()


# A record's identity in quarantine is its content: sha256 of the stored (masked) payload.
# jsonb_send is the canonical binary form (keys sorted), and immutable as a generated column
# needs (convert_to, textsend are only stable).
QUARANTINE_CONTENT_KEY = "encode(sha256(jsonb_send(coalesce(payload, 'null'::jsonb))), 'hex')"


class Quarantine(Base):
    """A record that could not be stored, with the reason. One unresolved row per content
    (source, stream, content_key): parking the same record again adds nothing."""

    __tablename__ = "quarantine"
    __table_args__ = (
        Index(
            "uq_quarantine_content",
            "source",
            "stream",
            "content_key",
            unique=True,
            postgresql_where=text("resolved_at IS NULL"),
        ),
        {"schema": "ops"},
    )

    id: Mapped[int] = _id_column()
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    stream: Mapped[str] = mapped_column(String(64), nullable=False)
    source_id: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    content_key: Mapped[str] = mapped_column(
        String(64), Computed(QUARANTINE_CONTENT_KEY, persisted=True), nullable=False
    )
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now_column()
    resolved_at: Mapped[datetime | None] = mapped_column(Tstz)


class AuditLog(Base):
    """Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE (migration 0001)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"), {"schema": "ops"})

    id: Mapped[int] = _id_column()
    occurred_at: Mapped[datetime] = _now_column()
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(64), nullable=False)
    entity_id: Mapped[str | None] = mapped_column(String(256))
    details: Mapped[dict[str, Any]] = _jsonb_column("{}")
    reason: Mapped[str | None] = mapped_column(Text)


class Consent(Base):
    __tablename__ = "consent"
    __table_args__ = (
        CheckConstraint(_in("purpose", CONSENT_PURPOSES), name="purpose"),
        {"schema": "ops"},
    )

    contact_source: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact_source_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    recorded_at: Mapped[datetime] = _now_column()
    recorded_by: Mapped[str] = mapped_column(String(128), nullable=False)


class ContactMerge(Base):
    """A duplicate contact (same normalized email) folded into its canonical contact."""

    __tablename__ = "contact_merges"
    __table_args__ = (Index("ix_contact_merges_into", "merged_into_source_id"), {"schema": "ops"})

    contact_source: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact_source_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    merged_into_source_id: Mapped[str] = mapped_column(String(128), nullable=False)
    rule: Mapped[str] = mapped_column(String(64), nullable=False)
    merged_at: Mapped[datetime] = _now_column()
    merged_by: Mapped[str] = mapped_column(String(128), nullable=False)


class Action(ItemKeyMixin, Base):
    """Outbox: a decision is written here with its idempotency key before anything is sent."""

    __tablename__ = "actions"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_actions_idempotency_key"),
        CheckConstraint(
            _in("status", ACTION_STATUSES),
            name="status",
        ),
        Index("ix_actions_status", "status"),
        {"schema": "ops"},
    )

    id: Mapped[int] = _id_column()
    idempotency_key: Mapped[str] = mapped_column(String(256), nullable=False)
    rule: Mapped[str] = mapped_column(String(128), nullable=False)
    action_type: Mapped[str] = mapped_column(String(32), nullable=False)
    target: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = _jsonb_column("{}")
    explanation: Mapped[dict[str, Any]] = _jsonb_column("{}")
    model_version: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()
    sent_at: Mapped[datetime | None] = mapped_column(Tstz)
    # The advisory-lock key of the dispatcher run that marked it sending (0011_batched_send).
    claimed_by: Mapped[int | None] = mapped_column(Integer)


class ActionAttempt(Base):
    __tablename__ = "action_attempts"
    __table_args__ = {"schema": "ops"}

    id: Mapped[int] = _id_column()
    action_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("ops.actions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    attempt_no: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime] = _now_column()
    finished_at: Mapped[datetime | None] = mapped_column(Tstz)
    outcome: Mapped[str | None] = mapped_column(String(16))
    http_status: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)


class ValidationRun(Base):
    __tablename__ = "validation_runs"
    __table_args__ = {"schema": "ops"}

    id: Mapped[int] = _id_column()
    suite: Mapped[str] = mapped_column(Text, nullable=False)
    checkpoint: Mapped[str | None] = mapped_column(String(128))
    batch: Mapped[str | None] = mapped_column(Text)
    success: Mapped[bool] = mapped_column(Boolean, nullable=False)
    evaluated: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    results: Mapped[dict[str, Any]] = _jsonb_column("{}")
    data_docs_path: Mapped[str | None] = mapped_column(Text)
    run_at: Mapped[datetime] = _now_column()


class HealthPing(Base):
    __tablename__ = "health_pings"
    __table_args__ = (Index("ix_health_pings_check", "check_name", "checked_at"), {"schema": "ops"})

    id: Mapped[int] = _id_column()
    checked_at: Mapped[datetime] = _now_column()
    check_name: Mapped[str] = mapped_column(String(64), nullable=False)
    ok: Mapped[bool] = mapped_column(Boolean, nullable=False)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any]] = _jsonb_column("{}")


class ApiUsage(Base):
    __tablename__ = "api_usage"
    __table_args__ = (Index("ix_api_usage_source_called", "source", "called_at"), {"schema": "ops"})

    id: Mapped[int] = _id_column()
    called_at: Mapped[datetime] = _now_column()
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    endpoint: Mapped[str] = mapped_column(Text, nullable=False)
    method: Mapped[str] = mapped_column(String(8), nullable=False, server_default="GET")
    status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(Float, nullable=False)
    tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[Decimal | None] = mapped_column(Numeric(12, 6))


class HumanReview(ItemKeyMixin, Base):
    """A person's review of an item or automated action. Rows of a weekly sample (`batch`,
    e.g. 2026-W48) are queued without reviewer, verdict and reviewed_at until rated."""

    __tablename__ = "human_reviews"
    __table_args__ = (
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating"),
        CheckConstraint("verdict IS NULL OR verdict IN ('correct', 'wrong')", name="verdict"),
        CheckConstraint("(reviewed_at IS NULL) = (reviewer IS NULL)", name="reviewed"),
        UniqueConstraint("batch", "action_id", name="uq_human_reviews_batch_action"),
        {"schema": "ops"},
    )

    id: Mapped[int] = _id_column()
    action_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("ops.actions.id", ondelete="SET NULL")
    )
    batch: Mapped[str | None] = mapped_column(String(16))
    reviewer: Mapped[str | None] = mapped_column(String(128))
    # correct / wrong: was the automated action (and the sentiment it acted on) right?
    verdict: Mapped[str | None] = mapped_column(String(8))
    rating: Mapped[int | None] = mapped_column(Integer)
    # The right label when the sentiment was wrong: a labelled example for retraining.
    sentiment_label: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[datetime] = _now_column()
    reviewed_at: Mapped[datetime | None] = mapped_column(Tstz)


class FlowRun(Base):
    """One Prefect flow run, written by the flows' state hooks: recorded as Running when it
    starts (with its process and a heartbeat), finished by its final state; the health ping
    marks a Running run whose process is gone as Crashed."""

    __tablename__ = "flow_runs"
    __table_args__ = (
        UniqueConstraint("flow_run_id", name="uq_flow_runs_flow_run_id"),
        Index("ix_flow_runs_flow_ended", "flow_name", "ended_at"),
        Index("ix_flow_runs_running", "state", postgresql_where=text("state = 'Running'")),
        {"schema": "ops"},
    )

    id: Mapped[int] = _id_column()
    flow_run_id: Mapped[str] = mapped_column(String(64), nullable=False)
    flow_name: Mapped[str] = mapped_column(String(128), nullable=False)
    deployment: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(32), nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(Tstz)
    ended_at: Mapped[datetime | None] = mapped_column(Tstz, server_default=func.now())
    duration_s: Mapped[float | None] = mapped_column(Float)
    # Masked before it is written: exception messages can quote customer text.
    error: Mapped[str | None] = mapped_column(Text)
    run_name: Mapped[str | None] = mapped_column(String(255))
    # Who runs it, while it runs: the health ping checks this process is still there.
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    process_started_at: Mapped[datetime | None] = mapped_column(Tstz)
    heartbeat_at: Mapped[datetime | None] = mapped_column(Tstz)


class FaqDecision(Base):
    """A person's decision on an FAQ candidate cluster; newest row per cluster wins."""

    __tablename__ = "faq_decisions"
    __table_args__ = (
        CheckConstraint(_in("decision", ("accepted", "rejected", "published")), name="decision"),
        Index("ix_faq_decisions_cluster", "cluster_id", "decided_at"),
        {"schema": "ops"},
    )

    id: Mapped[int] = _id_column()
    cluster_id: Mapped[int] = mapped_column(Integer, nullable=False)
    decision: Mapped[str] = mapped_column(String(16), nullable=False)
    # Size when decided: a rejected candidate returns only after growing by half again.
    cluster_size: Mapped[int] = mapped_column(Integer, nullable=False)
    article_source: Mapped[str | None] = mapped_column(String(64))
    article_source_id: Mapped[str | None] = mapped_column(String(128))
    decided_by: Mapped[str] = mapped_column(String(128), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = _now_column()


class LoginFailure(Base):
    """A failed dashboard login (feedbackloop.web.dashboard.auth). Nothing in clear: the
    address as its network (/24, /48) plus a keyed hash, the user name as a keyed hash."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_occurred", "occurred_at"), {"schema": "ops"})

    id: Mapped[int] = _id_column()
    occurred_at: Mapped[datetime] = _now_column()
    client_network: Mapped[str] = mapped_column(String(64), nullable=False)
    client_key: Mapped[str] = mapped_column(String(16), nullable=False)
    user_key: Mapped[str | None] = mapped_column(String(16))
    # The configured dashboard user (a guessed password) or another name (a guessed user).
    known_user: Mapped[bool] = mapped_column(Boolean, nullable=False)
    reason: Mapped[str] = mapped_column(String(128), nullable=False)
    # Set on the failure that locked the client or user out, to its length.
    locked_seconds: Mapped[int | None] = mapped_column(Integer)


class SurveyLink(ItemKeyMixin, Base):
    """A survey link sent in an auto-reply: the server side of the `?t=` token. The URL holds
    only a random token (`token`) with its expiry and signature; the ticket, the customer and
    the action it belongs to are here. Opened and answered are set once, by the first open and
    the first answer."""

    __tablename__ = "survey_links"
    __table_args__ = (
        UniqueConstraint("token", name="uq_survey_links_token"),
        UniqueConstraint("action_id", name="uq_survey_links_action_id"),
        CheckConstraint(_in("rating_scale", RATING_SCALES), name="rating_scale"),
        {"schema": "ops"},
    )

    id: Mapped[int] = _id_column()
    token: Mapped[str] = mapped_column(String(64), nullable=False)
    action_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("ops.actions.id", ondelete="CASCADE"), nullable=False
    )
    rule: Mapped[str] = mapped_column(String(128), nullable=False)
    template: Mapped[str] = mapped_column(String(128), nullable=False)
    # The offer's segment when the reply is an offer variant, else the customer's tier.
    segment: Mapped[str] = mapped_column(String(128), nullable=False)
    rating_scale: Mapped[str] = mapped_column(String(8), nullable=False)
    ticket_source_id: Mapped[str | None] = mapped_column(String(128))
    contact_source_id: Mapped[str | None] = mapped_column(String(128))
    account_source_id: Mapped[str | None] = mapped_column(String(128))
    language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = _now_column()
    expires_at: Mapped[datetime] = mapped_column(Tstz, nullable=False)
    opened_at: Mapped[datetime | None] = mapped_column(Tstz)
    answered_at: Mapped[datetime | None] = mapped_column(Tstz)
    last_answered_at: Mapped[datetime | None] = mapped_column(Tstz)
    answers: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")


# --------------------------------------------------------------------------------------- nlp


class FeedbackScore(ItemKeyMixin, Base):
    __tablename__ = "feedback_scores"
    __table_args__ = (
        UniqueConstraint(
            "item_type",
            "item_source",
            "item_source_id",
            "model_version",
            name="uq_feedback_scores_item_model",
        ),
        CheckConstraint("sentiment BETWEEN -1 AND 1", name="sentiment_range"),
        CheckConstraint(_in("label", SENTIMENT_LABELS), name="label"),
        {"schema": "nlp"},
    )

    id: Mapped[int] = _id_column()
    model_version: Mapped[str] = mapped_column(String(64), nullable=False)
    text_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    sentiment: Mapped[float] = mapped_column(Float, nullable=False)
    label: Mapped[str] = mapped_column(String(16), nullable=False)
    frustrated: Mapped[bool] = mapped_column(Boolean, nullable=False)
    language: Mapped[str | None] = mapped_column(String(16))
    explanation: Mapped[dict[str, Any]] = _jsonb_column("{}")
    scored_at: Mapped[datetime] = _now_column()


class Cluster(Base):
    __tablename__ = "clusters"
    __table_args__ = {"schema": "nlp"}

    cluster_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    encoder: Mapped[str] = mapped_column(String(64), nullable=False)
    label: Mapped[str | None] = mapped_column(Text)
    key_phrases: Mapped[list[Any]] = _jsonb_column("[]")
    size: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()


class TopicAssignment(Base):
    __tablename__ = "topic_assignments"
    __table_args__ = (Index("ix_topic_assignments_cluster", "cluster_id"), {"schema": "nlp"})

    item_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    item_source: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_source_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    topic_key: Mapped[str | None] = mapped_column(String(128))
    # -1 marks an outlier explicitly; no foreign key so outliers need no sentinel cluster row.
    cluster_id: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("-1"))
    encoder: Mapped[str] = mapped_column(String(64), nullable=False)
    assigned_at: Mapped[datetime] = _now_column()


class MilestoneReached(Base):
    """A usage milestone (config/milestones.yml) reached by a user or an account: once ever
    per (milestone, per, subject), which the unique constraint enforces against concurrent
    evaluations. Each row is a `milestone` feedback item (`ops.feedback_items`)."""

    __tablename__ = "milestones"
    __table_args__ = (
        UniqueConstraint("name", "per", "subject_id", name="uq_milestones_name_per_subject"),
        CheckConstraint(_in("per", ("user", "account")), name="per"),
        Index("ix_milestones_recorded_at", "recorded_at"),
        {"schema": "ops"},
    )

    id: Mapped[int] = _id_column()
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    per: Mapped[str] = mapped_column(String(8), nullable=False)
    # The user or account id the milestone was counted on (stored, masked or keyed ids).
    subject_id: Mapped[str] = mapped_column(String(128), nullable=False)
    user_id: Mapped[str | None] = mapped_column(String(128))
    account_id: Mapped[str | None] = mapped_column(String(128))
    # The contact the user resolves to (raw.contacts), when one does: consent is theirs.
    contact_id: Mapped[str | None] = mapped_column(String(128))
    reached_at: Mapped[datetime] = mapped_column(Tstz, nullable=False)
    recorded_at: Mapped[datetime] = _now_column()
    # The definition as it was when reached, and what reached it (event count, message id).
    definition: Mapped[dict[str, Any]] = _jsonb_column("{}")
    evidence: Mapped[dict[str, Any]] = _jsonb_column("{}")
