"""the feedback-item contract: views ops.contact_consent and ops.feedback_items

One definition of a feedback item (identity, text, kind, language, contact) and of the consent
that applies to its contact, read by scoring, topics, routing, review, the dashboard and, as a
dbt source, the marts (docs/decisions.md, "One feedback-item contract").

- ops.contact_consent: one row per contact id of raw.contacts with the canonical contact it
  resolves to after merges and the most restrictive consent of everyone resolved to that
  canonical contact (a "no" from any duplicate is a no, no record is a no).
- ops.feedback_items: one row per (item_type, item_source, item_source_id): tickets not
  deleted, answered satisfaction ratings (good or bad), reviews and notes. `has_text` marks the
  items with text (what is scored). Ticket comments are the conversation of a ticket, not
  items.

Revision ID: 0008_feedback_items
Revises: 0007_quarantine_content_key
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008_feedback_items"
down_revision: str | None = "0007_quarantine_content_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen at this revision: a later change to the contract is a new revision.
CONTACT_CONSENT = """
CREATE VIEW ops.contact_consent AS
WITH contacts AS (
    -- contact ids are shared across sources: the CRM's record wins, then Zendesk's, then a drop's
    SELECT DISTINCT ON (source_id) source_id AS contact_id, loaded_at
    FROM raw.contacts
    ORDER BY source_id, CASE source WHEN 'crm' THEN 0 WHEN 'zendesk' THEN 1 ELSE 2 END,
             updated_at DESC
),
merges AS (
    SELECT DISTINCT ON (contact_source_id)
           contact_source_id AS contact_id, merged_into_source_id, merged_at
    FROM ops.contact_merges
    ORDER BY contact_source_id, (contact_source = 'crm') DESC, merged_at DESC
),
resolved AS (
    SELECT c.contact_id, coalesce(m.merged_into_source_id, c.contact_id) AS canonical_contact_id,
           greatest(c.loaded_at, m.merged_at) AS resolved_at
    FROM contacts c LEFT JOIN merges m USING (contact_id)
),
by_canonical AS (
    SELECT r.canonical_contact_id,
           coalesce(bool_and(k.granted) FILTER (WHERE k.purpose = 'contact'), false)
               AS consent_contact,
           coalesce(bool_and(k.granted) FILTER (WHERE k.purpose = 'improvement'), false)
               AS consent_improvement,
           greatest(max(r.resolved_at), max(k.recorded_at)) AS changed_at
    FROM resolved r LEFT JOIN ops.consent k ON k.contact_source_id = r.contact_id
    GROUP BY r.canonical_contact_id
)
SELECT r.contact_id, r.canonical_contact_id, b.consent_contact, b.consent_improvement,
       b.changed_at
FROM resolved r JOIN by_canonical b USING (canonical_contact_id)
"""

FEEDBACK_ITEMS = """
CREATE VIEW ops.feedback_items AS
SELECT item_type, item_source, item_source_id, channel, department, contact_id, account_id,
       product_area, language, rating, text, coalesce(text, '') <> '' AS has_text,
       zendesk_ticket_id, ticket_status, created_at, updated_at, loaded_at
FROM (
    SELECT 'ticket'::text AS item_type, t.source AS item_source, t.source_id AS item_source_id,
           'zendesk_' || coalesce(t.channel, 'unknown') AS channel, 'support'::text AS department,
           t.requester_source_id AS contact_id, t.account_source_id AS account_id,
           t.product_area, t.language, NULL::integer AS rating,
           concat_ws(E'\\n', t.subject, t.description) AS text,
           CASE WHEN t.source = 'zendesk' THEN t.source_id END AS zendesk_ticket_id,
           t.status AS ticket_status, t.created_at, t.updated_at, t.loaded_at
    FROM raw.tickets t
    WHERE NOT t.is_deleted
    UNION ALL
    SELECT 'satisfaction_rating', r.source, r.source_id, 'zendesk_csat', 'support',
           r.requester_source_id, t.account_source_id, t.product_area, t.language,
           CASE r.score WHEN 'good' THEN 1 WHEN 'bad' THEN 0 END, r.comment,
           CASE WHEN r.source = 'zendesk' THEN r.ticket_source_id END, t.status,
           r.created_at, r.updated_at, greatest(r.loaded_at, t.loaded_at)
    FROM raw.satisfaction_ratings r
    LEFT JOIN raw.tickets t ON t.source = r.source AND t.source_id = r.ticket_source_id
    WHERE r.score IN ('good', 'bad')
    UNION ALL
    SELECT 'review', v.source, v.source_id, v.source, 'product', v.contact_source_id, NULL,
           NULL, v.language, v.rating, concat_ws(E'\\n', v.title, v.body), NULL, NULL,
           v.created_at, v.updated_at, v.loaded_at
    FROM raw.reviews v
    UNION ALL
    SELECT 'note', n.source, n.source_id, n.kind, n.department, n.contact_source_id,
           n.account_source_id, NULL, NULL, n.rating, n.text, NULL, NULL,
           n.created_at, n.updated_at, n.loaded_at
    FROM raw.notes n
) items
"""


def upgrade() -> None:
    op.execute(CONTACT_CONSENT)
    op.execute(FEEDBACK_ITEMS)
    op.execute("COMMENT ON VIEW ops.feedback_items IS 'The feedback-item contract (0008)'")
    op.execute("COMMENT ON VIEW ops.contact_consent IS 'Canonical contact and consent (0008)'")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS ops.feedback_items")
    op.execute("DROP VIEW IF EXISTS ops.contact_consent")
