"""Survey links and answers to the quick feedback form (issue 18).

A survey link is ``PUBLIC_BASE_URL/feedback?t=TOKEN`` with ``TOKEN = RID.EXPIRES.MAC``: a
random id (128 bits, ``secrets``), the expiry in Unix seconds and an HMAC-SHA256 of both with
`Settings.survey_secret()`. The URL carries no ticket, contact or action id, no address and no
keyed hash: the random id finds the `ops.survey_links` row, which holds the ticket, the
customer, the action, the rule, the template and the segment. A forged or expired token is
read as no token: the form works, the answer is stored unlinked.

Opening a link sets `opened_at` once; answering sets `answered_at` once and keeps the answer
under ``link-<id>``, so a second answer replaces the first (newest wins) and is never a
second item. Every answer goes through the path of every source: text masked, identifiers
hashed, the GX gate (rejects parked in `ops.quarantine` with the reason), upsert, the mask
audit, the consent decision (purpose `improvement`) recorded for the contact when
`raw.contacts` knows them, in one transaction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from feedbackloop.config import Settings
from feedbackloop.db.models import SurveyResponse
from feedbackloop.db.upsert import quarantine, upsert_rows
from feedbackloop.governance import audit
from feedbackloop.governance.contacts import record_consent
from feedbackloop.governance.fields import mask_fields
from feedbackloop.governance.gate import GateDecision, record_run
from feedbackloop.governance.identity import check_email, email_hash
from nlp.pii import CountingMasker, mask_value

__all__ = [
    "ACTOR",
    "SOURCE",
    "FormAnswer",
    "LinkInfo",
    "StoredAnswer",
    "SurveyLinks",
    "TokenCheck",
    "open_link",
    "read_token",
    "sign_token",
    "store_answer",
]

SOURCE = "feedback_form"
ACTOR = "feedbackloop feedback form"
LINKED_PREFIX = "link-"
_DOMAIN = b"survey-link|"

Gate = Callable[[str, Sequence[Mapping[str, Any]]], GateDecision]


# ------------------------------------------------------------------------------ tokens


def _mac(secret: bytes, rid: str, expires: int) -> str:
    digest = hmac.new(secret, _DOMAIN + f"{rid}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_token(secret: bytes, rid: str, expires: datetime) -> str:
    stamp = int(expires.timestamp())
    return f"{rid}.{stamp}.{_mac(secret, rid, stamp)}"


@dataclass(frozen=True)
class TokenCheck:
    """`rid` when the token is genuine and unexpired; else None and why (for the log)."""

    rid: str | None
    problem: str | None = None


def read_token(secret: bytes | None, token: str | None, now: datetime) -> TokenCheck:
    if secret is None:
        return TokenCheck(None, "no survey secret")
    if not token:
        return TokenCheck(None, "no token")
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[1].isdigit() or len(token) > 200:
        return TokenCheck(None, "malformed token")
    rid, stamp, mac = parts
    if not hmac.compare_digest(mac.encode(), _mac(secret, rid, int(stamp)).encode()):
        return TokenCheck(None, "forged token")
    if int(stamp) <= now.timestamp():
        return TokenCheck(None, "expired token")
    return TokenCheck(rid)


@dataclass(frozen=True)
class NewLink:
    rid: str
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class SurveyLinks:
    """Makes the `{survey_link}` of auto-reply templates (`routing.decide`)."""

    base_url: str
    secret: bytes = field(repr=False)
    days: int = 14

    @classmethod
    def from_settings(cls, settings: Settings) -> SurveyLinks | None:
        """None when no public base URL is set: such replies are skipped with the reason."""
        if not settings.public_base_url:
            return None
        return cls(
            settings.public_base_url.rstrip("/"),
            settings.survey_secret(),
            settings.survey_link_days,
        )

    def new(self, now: datetime) -> NewLink:
        rid = secrets.token_urlsafe(16)
        expires = (now + timedelta(days=self.days)).replace(microsecond=0)
        return NewLink(
            rid, f"{self.base_url}/feedback?t={sign_token(self.secret, rid, expires)}", expires
        )


def record_link(
    conn: Connection,
    link: NewLink,
    *,
    action_id: int,
    item: tuple[str, str, str],
    rule: str,
    template: str,
    segment: str,
    ticket_id: str | None,
    contact_id: str | None,
    account_id: str | None,
    language: str | None,
    rating_scale: str = "1-5",
) -> None:
    """The server side of a link, in the transaction that writes its action."""
    conn.execute(
        text(
            """
            INSERT INTO ops.survey_links (token, action_id, item_type, item_source,
                item_source_id, rule, template, segment, rating_scale, ticket_source_id,
                contact_source_id, account_source_id, language, expires_at)
            VALUES (:token, :action_id, :t, :s, :i, :rule, :template, :segment, :scale,
                :ticket, :contact, :account, :language, :expires)
            """
        ),
        {
            "token": link.rid,
            "action_id": action_id,
            "t": item[0],
            "s": item[1],
            "i": item[2],
            "rule": rule,
            "template": template,
            "segment": segment,
            "scale": rating_scale,
            "ticket": ticket_id,
            "contact": contact_id,
            "account": account_id,
            "language": language,
            "expires": link.expires_at,
        },
    )


# ------------------------------------------------------------------------------- links


@dataclass(frozen=True)
class LinkInfo:
    id: int
    rating_scale: str
    ticket_id: str | None
    contact_id: str | None
    account_id: str | None
    language: str | None
    answered_at: datetime | None = None


_OPEN = text(
    """
    UPDATE ops.survey_links SET opened_at = coalesce(opened_at, :now)
    WHERE token = :rid AND expires_at > :now
    RETURNING id, rating_scale, ticket_source_id, contact_source_id, account_source_id, language
    """
)
_FIND = text(
    """
    SELECT id, rating_scale, ticket_source_id, contact_source_id, account_source_id, language,
           answered_at
    FROM ops.survey_links WHERE token = :rid AND expires_at > :now
    """
)


def _info(row: Any) -> LinkInfo | None:
    return None if row is None else LinkInfo(*row)


def open_link(engine: Engine, rid: str, now: datetime) -> LinkInfo | None:
    """Record that a link was opened (the first time only); None for an unknown or expired one."""
    with engine.begin() as conn:
        return _info(conn.execute(_OPEN, {"rid": rid, "now": now}).first())


def find_link(conn: Connection, rid: str, now: datetime) -> LinkInfo | None:
    return _info(conn.execute(_FIND, {"rid": rid, "now": now}).first())


# ----------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class FormAnswer:
    """What the form posted, validated by the web layer (rating on its scale, sizes)."""

    rating: int | None
    rating_scale: str
    text: str | None
    email: str | None
    consent_improvement: bool
    rid: str | None = None  # a genuine, unexpired token's random id


@dataclass(frozen=True)
class StoredAnswer:
    stored: bool  # False: parked in ops.quarantine by the gate
    linked: bool
    updated: bool  # a second answer through the same link replaced the first
    source_id: str
    reason: str | None = None


_CONTACT_BY_HASH = text(
    """
    SELECT source_id, account_source_id FROM raw.contacts
    WHERE email_hash = :h AND erased_at IS NULL
    ORDER BY (source = 'crm') DESC, created_at NULLS LAST, source_id LIMIT 1
    """
)
_CONTACT_SOURCE = text(
    "SELECT source FROM raw.contacts WHERE source_id = :c "
    "ORDER BY (source = 'crm') DESC, (source = 'zendesk') DESC LIMIT 1"
)
_ANSWERED = text(
    """
    UPDATE ops.survey_links
    SET answered_at = coalesce(answered_at, :now), last_answered_at = :now, answers = answers + 1
    WHERE id = :id
    RETURNING answers
    """
)


def store_answer(
    engine: Engine,
    answer: FormAnswer,
    *,
    hash_key: bytes,
    gate: Gate | None,
    now: datetime | None = None,
    email_deliverability: bool = False,
    email_dns_timeout: float = 2.0,
) -> StoredAnswer:
    """Mask, gate and store one answer; link it when its token's link is known. One
    transaction: the row (or its quarantine record), the gate run, the mask audit, the consent
    decision and the link's answered mark."""
    now = now or datetime.now(UTC)
    masker = CountingMasker()
    body = masker(answer.text) if answer.text else None
    email = None
    if answer.email:
        email = check_email(
            answer.email, deliverability=email_deliverability, timeout=email_dns_timeout
        )
    with engine.begin() as conn:
        link = find_link(conn, answer.rid, now) if answer.rid else None
        contact = link.contact_id if link else None
        account = link.account_id if link else None
        hashed = email_hash(email.normalized, hash_key) if email and email.valid else None
        if contact is None and hashed is not None:
            found = conn.execute(_CONTACT_BY_HASH, {"h": hashed}).first()
            if found is not None:
                contact, account = found.source_id, found.account_source_id
        source_id = f"{LINKED_PREFIX}{link.id}" if link else "form-" + secrets.token_hex(12)
        row = mask_fields(
            {
                "source": SOURCE,
                "source_id": source_id,
                "rating": answer.rating,
                "rating_scale": answer.rating_scale,
                "text": body,
                "consent_improvement": answer.consent_improvement,
                "survey_link_id": link.id if link else None,
                "ticket_source_id": link.ticket_id if link else None,
                "contact_source_id": contact,
                "account_source_id": account,
                # The address itself is never stored, not even as a hash: it found the contact.
                "email_valid": None if email is None else email.valid,
                "email_invalid_reason": None if email is None else email.reason,
                "language": link.language if link else None,
                # A second answer through a link replaces the first; it was given first then.
                "created_at": (link.answered_at if link else None) or now,
                "updated_at": now,
            },
            key=hash_key,
            skip=("text", "email_invalid_reason"),
            counts=masker.counts,
        )
        stored, reason = _gate_and_store(conn, gate, row)
        updated = False
        if stored:
            if link is not None:
                updated = conn.execute(_ANSWERED, {"id": link.id, "now": now}).scalar_one() > 1
            # The person's latest explicit decision, under their contact record (one decision
            # per contact and purpose, as everywhere): ticked grants, unticked withdraws.
            known = (
                conn.execute(_CONTACT_SOURCE, {"c": contact}).scalar_one_or_none()
                if contact is not None
                else None
            )
            if known is not None:
                record_consent(
                    conn,
                    [
                        {
                            "contact_source": known,
                            "contact_source_id": contact,
                            "purpose": "improvement",
                            "granted": answer.consent_improvement,
                        }
                    ],
                    actor=ACTOR,
                    reason="answer to the feedback form: consent box "
                    + ("ticked" if answer.consent_improvement else "not ticked"),
                )
            audit.record(
                conn,
                actor=ACTOR,
                action="survey_answer",
                entity_type="survey_response",
                entity_id=f"{SOURCE}:{source_id}",
                details={
                    "linked": link is not None,
                    "updated": updated,
                    "rating_scale": answer.rating_scale,
                    "consent_improvement": answer.consent_improvement,
                    "email_given": email is not None,
                    "email_valid": None if email is None else email.valid,
                },
                reason="answer to the quick feedback form",
            )
        audit.masked(
            conn,
            actor=ACTOR,
            entity_type="survey_responses",
            entity_id=f"{SOURCE}:{source_id}",
            counts=masker.counts,
        )
    return StoredAnswer(stored, link is not None, updated, source_id, reason)


def _gate_and_store(
    conn: Connection, gate: Gate | None, row: dict[str, Any]
) -> tuple[bool, str | None]:
    rows: list[dict[str, Any]] = [row]
    if gate is not None:
        decision = gate("survey_responses", rows)
        if decision.outcome is not None:
            record_run(conn, decision.outcome, batch=f"{SOURCE} survey_responses")
        for bad, reason in decision.rejected:
            quarantine(
                conn,
                source=SOURCE,
                stream="survey_responses",
                source_id=str(bad.get("source_id")),
                reason=reason,
                payload=bad,
                mask_payload=mask_value,
                actor=ACTOR,
            )
            return False, reason
        rows = [dict(r) for r in decision.passed]
    result = upsert_rows(
        conn,
        SurveyResponse,
        rows,
        source=SOURCE,
        stream="survey_responses",
        mask_payload=mask_value,
        actor=ACTOR,
    )
    if result.quarantined:
        return False, "refused by the database"
    return True, None
