"""Blocks that several migrations execute, frozen: what each revision named here ran.

Migrations are history. A migration that needs a changed block gets a new block here (or its own
text); an existing one is never edited, since every database already migrated ran it as it is.
The SQL each revision renders is checked byte for byte against the text it carried before these
blocks were shared (docs/decisions.md, "Shared migration blocks").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


def now_column(name: str) -> sa.Column[object]:
    """A timestamp column that defaults to the time of the insert (`_now_column` in models)."""
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def jsonb_column(name: str, default: str) -> sa.Column[object]:
    """A JSONB column that is never NULL: `default` ("{}" or "[]") when not given."""
    return sa.Column(
        name, postgresql.JSONB(astext_type=sa.Text()), server_default=default, nullable=False
    )


def item_key_columns() -> tuple[sa.Column[object], ...]:
    """The key of a feedback item, as every table that refers to one carries it."""
    return (
        sa.Column("item_type", sa.String(length=32), nullable=False),
        sa.Column("item_source", sa.String(length=64), nullable=False),
        sa.Column("item_source_id", sa.String(length=128), nullable=False),
    )


def create_id_table(name: str, *elements: sa.SchemaItem, schema: str) -> None:
    """Create `<schema>.<name>` keyed by a surrogate `id`: a bigserial first column and the
    primary key on it (PostgreSQL renders the primary key first, wherever it is passed), then
    `elements` (columns and constraints) in their order, as revisions 0001 to 0010 wrote them."""
    op.create_table(
        name,
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        *elements,
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        schema=schema,
    )


def create_raw_table(name: str, *elements: sa.Column[object] | sa.CheckConstraint) -> None:
    """Create `raw.<name>`: the source's columns (`elements`, then its check constraints), with
    the columns, key and unique constraint every raw table carries (RawMixin in db/models.py) as
    revisions 0001 and 0010 wrote them."""
    columns = [e for e in elements if isinstance(e, sa.Column)]
    checks = [e for e in elements if not isinstance(e, sa.Column)]
    op.create_table(
        name,
        *columns,
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        now_column("loaded_at"),
        *checks,
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("source", "source_id", name=f"uq_{name}_source_source_id"),
        schema="raw",
    )


def do_block(body: str, *, without_privilege: str = "") -> str:
    """A PL/pgSQL `DO` block running `body` (whole indented lines), as 0002 and 0005 wrote it.
    `without_privilege` (whole lines too) runs instead when the role lacks a privilege, so the
    migration goes on and a NOTICE tells the DBA what to run (README, "Database roles")."""
    handler = ""
    if without_privilege:
        handler = f"EXCEPTION WHEN insufficient_privilege THEN\n{without_privilege}"
    return f"\nDO $$\nBEGIN\n{body}{handler}END\n$$\n"


# ops.feedback_items as 0008_feedback_items created it; 0009 and 0010 add branches at
# `{branches}` (each a `UNION ALL` block), keeping the column list.
FEEDBACK_ITEMS_0008 = """
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
{branches}) items
"""

# 0009_segment_milestones' branch: a reached milestone, no text (nothing to score or cluster),
# the product's department, the contact the user resolved to when it was reached, created when
# it was reached.
MILESTONES_BRANCH_0009 = """    UNION ALL
    SELECT 'milestone', CAST('segment' AS varchar(64)), CAST(m.id AS varchar(128)), 'segment',
           'product', m.contact_id, m.account_id, CAST(NULL AS varchar(64)),
           CAST(NULL AS varchar(16)), NULL, NULL, CAST(NULL AS varchar(128)),
           CAST(NULL AS varchar(16)), m.reached_at, m.recorded_at, m.recorded_at
    FROM ops.milestones m
"""


def feedback_items_view(create: str, *branches: str) -> str:
    """The statement `create` (`CREATE VIEW ops.feedback_items AS`, ...) of 0008's view with
    `branches` appended to its union."""
    return create + FEEDBACK_ITEMS_0008.format(branches="".join(branches))
