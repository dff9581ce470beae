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

Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

from alembic import op

from feedbackloop.db.migration_blocks import feedback_items_view

revision: str = "0008_feedback_items"
down_revision: str | None = "0007_quarantine_content_key"

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

# 0008's text, shared with the later revisions that extend the view.
FEEDBACK_ITEMS = feedback_items_view("\nCREATE VIEW ops.feedback_items AS")


def upgrade() -> None:
    op.execute(CONTACT_CONSENT)
    op.execute(FEEDBACK_ITEMS)
    op.execute("COMMENT ON VIEW ops.feedback_items IS 'The feedback-item contract (0008)'")
    op.execute("COMMENT ON VIEW ops.contact_consent IS 'Canonical contact and consent (0008)'")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS ops.feedback_items")
    op.execute("DROP VIEW IF EXISTS ops.contact_consent")
