"""What the rules know about an item, read in one query per batch.

Items, their canonical contact and consent come from the feedback-item contract
(`feedbackloop.items`: the views `ops.feedback_items` and `ops.contact_consent`, which the marts
read too): consent is the most restrictive decision of everyone merged into the canonical
contact (no record means no consent); a contact unknown to raw.contacts is its own customer.
Email validity and erasure come from the contact's own preferred record (CRM first, then
Zendesk, then drops), tier and ARR from its account. `repeat_contacts` counts the customer's
tickets, reviews and CSAT comments in the N days up to and including the item (notes are
written by staff, not by the customer).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import DateTime, Integer, String

from feedbackloop.items import CONSENT, ITEMS
from feedbackloop.routing.rules import ItemFacts

__all__ = ["ItemKey", "load_facts"]

ItemKey = tuple[str, str, str]  # (item_type, item_source, item_source_id)

# The items of the batch as the feedback-item contract defines them, into an analyzed temporary
# table too: the facts query below then plans its joins on real row counts. LATERAL pushes each
# key into every branch of the view: index lookups, not a scan of every raw table per batch.
_FILL_ITEMS = text(
    f"""
    INSERT INTO routing_items
    SELECT k.item_type, k.item_source, k.item_source_id, k.model_version, i.contact_id,
           i.account_id, i.channel, i.language, i.zendesk_ticket_id, i.ticket_status,
           i.product_area, coalesce(i.created_at, i.updated_at), i.text
    FROM routing_keys k
    CROSS JOIN LATERAL (
        SELECT * FROM {ITEMS} v
        WHERE v.item_type = k.item_type AND v.item_source = k.item_source
          AND v.item_source_id = k.item_source_id
        OFFSET 0  -- keeps the subquery whole, so the keys stay parameters of the index lookups
    ) i
    """
)

_FACTS = text(
    f"""
    WITH items AS (SELECT * FROM routing_items),
    contact AS (
        SELECT DISTINCT ON (c.source_id) c.source_id, c.account_source_id, c.email_valid,
               c.email_invalid_reason, c.erased_at, c.language
        FROM raw.contacts c
        WHERE c.source_id IN (SELECT contact_id FROM items)
        ORDER BY c.source_id, CASE c.source WHEN 'crm' THEN 0 WHEN 'zendesk' THEN 1 ELSE 2 END,
                 c.updated_at DESC
    ),
    who AS (
        SELECT cc.contact_id, cc.canonical_contact_id AS customer_id, cc.consent_contact,
               cc.consent_improvement
        FROM {CONSENT} cc
        WHERE cc.contact_id IN (SELECT contact_id FROM items)
    ),
    account AS (
        SELECT DISTINCT ON (x.source_id) x.source_id, x.tier, x.arr
        FROM raw.accounts x
        WHERE x.source_id IN (
            SELECT account_id FROM items UNION SELECT account_source_id FROM contact
        )
        ORDER BY x.source_id, (x.source = 'crm') DESC, x.updated_at DESC
    ),
    score AS (
        SELECT DISTINCT ON (s.item_type, s.item_source, s.item_source_id)
               s.item_type, s.item_source, s.item_source_id, s.model_version, s.sentiment,
               s.label, s.frustrated, s.language, s.explanation
        FROM routing_keys k
        JOIN nlp.feedback_scores s ON s.item_type = k.item_type
             AND s.item_source = k.item_source AND s.item_source_id = k.item_source_id
        ORDER BY s.item_type, s.item_source, s.item_source_id,
                 (s.model_version = k.model_version) DESC NULLS LAST, s.scored_at DESC, s.id DESC
    )
    SELECT i.item_type, i.item_source, i.item_source_id, i.created_at, i.channel, i.ticket_id,
           i.ticket_status,
           i.body, i.contact_id, coalesce(w.customer_id, i.contact_id) AS customer_id,
           coalesce(i.account_id, c.account_source_id) AS account_id,
           coalesce(i.language, c.language, nullif(s.language, 'und')) AS language,
           coalesce(ta.topic_key, i.product_area) AS topic,
           a.tier, a.arr,
           c.email_valid, c.email_invalid_reason, c.erased_at IS NOT NULL AS erased,
           coalesce(w.consent_contact, false) AS consent_contact,
           coalesce(w.consent_improvement, false) AS consent_improvement,
           s.model_version, s.sentiment, s.label, s.frustrated,
           s.language AS score_language, s.explanation
    FROM items i
    -- Scored items; a milestone has no text, so no score, and is routed on its milestone.
    LEFT JOIN score s USING (item_type, item_source, item_source_id)
    LEFT JOIN contact c ON c.source_id = i.contact_id
    LEFT JOIN who w ON w.contact_id = i.contact_id
    LEFT JOIN account a ON a.source_id = coalesce(i.account_id, c.account_source_id)
    LEFT JOIN nlp.topic_assignments ta ON ta.item_type = i.item_type
         AND ta.item_source = i.item_source AND ta.item_source_id = i.item_source_id
    WHERE s.item_type IS NOT NULL OR i.item_type = 'milestone'
    """
)

# What a milestone item was reached for (ops.milestones, migration 0009).
_MILESTONES = text(
    """
    SELECT CAST(m.id AS text) AS item_source_id, m.name, m.per, m.subject_id, m.reached_at,
           m.definition, m.evidence
    FROM ops.milestones m
    WHERE CAST(m.id AS text) = ANY(:ids)
    """
).bindparams(bindparam("ids", type_=ARRAY(String)))

# The keys go through an analyzed temporary table, not unnest(): the planner guesses a handful
# of rows for unnest() and plans nested loops that are quadratic in the batch size (1.1 s for
# 1,000 items on the demo data, and growing with the tables).
_KEYS_TABLE = text(
    """
    CREATE TEMP TABLE IF NOT EXISTS routing_keys (
        item_type text, item_source text, item_source_id text, model_version text
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS routing_items (
        item_type text, item_source text, item_source_id text, model_version text,
        contact_id text, account_id text, channel text, language text, ticket_id text,
        ticket_status text, product_area text, created_at timestamptz, body text
    ) ON COMMIT DELETE ROWS
    """
)
_FILL_KEYS = text(
    """
    INSERT INTO routing_keys
    SELECT * FROM unnest(:types, :sources, :ids, :versions)
    """
).bindparams(
    bindparam("types", type_=ARRAY(String)),
    bindparam("sources", type_=ARRAY(String)),
    bindparam("ids", type_=ARRAY(String)),
    bindparam("versions", type_=ARRAY(String)),
)

# Contacts of a customer: every merged contact's tickets, reviews and CSAT comments.
_REPEATS = """
    WITH wanted AS (
        SELECT * FROM unnest(:customers, :created) AS w(customer_id, created_at)
    ),
    members AS (
        SELECT DISTINCT customer_id, customer_id AS member FROM wanted
        UNION
        SELECT w.customer_id, m.contact_source_id FROM (SELECT DISTINCT customer_id FROM wanted) w
        JOIN ops.contact_merges m ON m.merged_into_source_id = w.customer_id
    ),
    contacts AS (
        SELECT contact_id, coalesce(created_at, updated_at) AS at
        FROM {items}
        WHERE contact_id IN (SELECT member FROM members)
          AND (item_type IN ('ticket', 'review') OR item_type = 'satisfaction_rating' AND has_text)
    )
    SELECT w.customer_id, w.created_at, {counts}
    FROM wanted w
    JOIN members g ON g.customer_id = w.customer_id
    JOIN contacts x ON x.contact_id = g.member AND x.at <= w.created_at
         AND x.at > w.created_at - make_interval(days => :longest)
    GROUP BY w.customer_id, w.created_at
"""


# ItemFacts fields the facts query returns under the same name, as they are.
_AS_QUERIED = (
    "item_type",
    "item_source",
    "item_source_id",
    "created_at",
    "model_version",
    "label",
    "score_language",
    "topic",
    "channel",
    "language",
    "contact_id",
    "customer_id",
    "account_id",
    "tier",
    "email_valid",
    "email_invalid_reason",
    "ticket_id",
    "ticket_status",
)


def load_facts(
    conn: Connection,
    keys: Iterable[ItemKey],
    *,
    windows: Iterable[int] = (),
    model_versions: Mapping[ItemKey, str] | None = None,
) -> list[ItemFacts]:
    """Facts for each key that exists and has a score (the score of `model_versions[key]`
    when given, else the newest), in key order."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return []
    versions = model_versions or {}
    conn.execute(_KEYS_TABLE)
    # A second call in the same transaction starts from empty tables.
    conn.execute(text("DELETE FROM routing_keys; DELETE FROM routing_items"))
    conn.execute(
        _FILL_KEYS,
        {
            "types": [k[0] for k in keys],
            "sources": [k[1] for k in keys],
            "ids": [k[2] for k in keys],
            "versions": [versions.get(k) for k in keys],
        },
    )
    conn.execute(text("ANALYZE routing_keys"))
    conn.execute(_FILL_ITEMS)  # index lookups into the raw tables
    conn.execute(text("ANALYZE routing_items"))
    # The rest joins batch-sized sets; estimates through the CTEs stay poor and nested loops
    # over them are quadratic in the batch (0.3 s per 1,000 items at 100k), hash joins are not.
    # (A failure aborts the transaction, which ends the SET LOCAL as well.)
    conn.execute(text("SET LOCAL enable_nestloop = off"))
    rows = conn.execute(_FACTS).all()
    conn.execute(text("RESET enable_nestloop"))
    by_key = {(r.item_type, r.item_source, r.item_source_id): r for r in rows}
    windows = sorted(set(windows))
    repeats = _repeat_counts(conn, rows, windows) if windows else {}
    milestones = _milestones(conn, [r for r in rows if r.item_type == "milestone"])
    out = []
    for key in keys:
        r = by_key.get(key)
        if r is None:
            continue
        m = r._mapping  # a new mapping object on each access: once per row
        out.append(
            ItemFacts(
                **{name: m[name] for name in _AS_QUERIED},
                score=float(r.sentiment) if r.sentiment is not None else 0.0,
                frustrated=bool(r.frustrated),
                sentiment_explanation=r.explanation or {},
                arr=float(r.arr) if r.arr is not None else None,
                consent_contact=bool(r.consent_contact),
                consent_improvement=bool(r.consent_improvement),
                erased=bool(r.erased),
                repeat_contacts=_repeats_for(repeats, r, windows),
                body=r.body,
                milestone=milestones.get(r.item_source_id) if r.item_type == "milestone" else None,
            )
        )
    return out


def _milestones(conn: Connection, rows: Sequence[Any]) -> dict[str, dict[str, Any]]:
    if not rows:
        return {}
    found = conn.execute(_MILESTONES, {"ids": [r.item_source_id for r in rows]})
    return {
        m.item_source_id: {
            "name": m.name,
            "per": m.per,
            "subject_id": m.subject_id,
            "reached_at": m.reached_at.isoformat(),
            "definition": m.definition,
            "evidence": m.evidence,
        }
        for m in found
    }


def _repeat_counts(
    conn: Connection, rows: Sequence[Any], windows: list[int]
) -> dict[tuple[str, datetime], dict[int, int]]:
    wanted = {(r.customer_id, r.created_at) for r in rows if r.customer_id and r.created_at}
    if not wanted:
        return {}
    counts = ", ".join(
        f"count(*) FILTER (WHERE x.at > w.created_at - make_interval(days => {int(d)})) AS d{n}"
        for n, d in enumerate(windows)
    )
    stmt = text(_REPEATS.format(counts=counts, items=ITEMS)).bindparams(
        bindparam("customers", type_=ARRAY(String)),
        bindparam("created", type_=ARRAY(DateTime(timezone=True))),
        bindparam("longest", type_=Integer),
    )
    pairs = sorted(wanted)
    result = conn.execute(
        stmt,
        {
            "customers": [p[0] for p in pairs],
            "created": [p[1] for p in pairs],
            "longest": max(windows),
        },
    )
    return {
        (row.customer_id, row.created_at): {d: int(row[2 + n]) for n, d in enumerate(windows)}
        for row in result
    }


def _repeats_for(
    repeats: Mapping[tuple[str, datetime], dict[int, int]], row: Any, windows: list[int]
) -> dict[int, int]:
    if not row.customer_id or not row.created_at:
        return {}
    # The item itself is one of the customer's contacts when it is a ticket, review or CSAT
    # comment; a customer with no counted contacts (a note) has 0.
    return repeats.get((row.customer_id, row.created_at), dict.fromkeys(windows, 0))
