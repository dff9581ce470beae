"""The feedback-item contract: queries over the `ops.feedback_items` and `ops.contact_consent`
views (migration 0008_feedback_items), so no caller writes the union of raw tables again.

An item is identified by (item_type, item_source, item_source_id): a ticket that is not
deleted, an answered satisfaction rating (good or bad), a review, a note, or a usage milestone
reached (migration 0009; no text, so never scored or clustered). Its text is the
ticket's subject and description, the rating's comment, the review's title and body, the
note's text, joined by new lines (`text_of` is the same rule in Python, for rows not stored
yet). Its contact resolves to a canonical contact after merges; consent is the most
restrictive decision of everyone resolved to that canonical contact, and no record is a no.

Who reads what:
- scoring: items with text (`has_text`), pending for a model version, in key ranges;
- topics: consented items with text, except satisfaction ratings (`TOPIC_ITEM_TYPES`);
- routing facts, review queue, dashboard: an item's row by key;
- dbt: both views as the `ops` source (stg_ops__feedback_items, stg_ops__contact_consent).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, Engine, bindparam, text

from feedbackloop.db.bulk import insert_unnest
from feedbackloop.vocabulary import ITEM_TYPES

ITEMS = "ops.feedback_items"
CONSENT = "ops.contact_consent"

ItemKey = tuple[str, str, str]  # (item_type, item_source, item_source_id)
KeyRange = tuple[ItemKey, ItemKey | None]  # [lo, hi); hi None: to the end
Row = Mapping[str, Any]

# raw table -> (row type, the columns its text is made of). The view builds `text` from the
# same columns; tables not listed carry no free text.
TEXT_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "tickets": ("ticket", ("subject", "description")),
    "ticket_comments": ("ticket_comment", ("body",)),
    "satisfaction_ratings": ("satisfaction_rating", ("comment",)),
    "reviews": ("review", ("title", "body")),
    "notes": ("note", ("text",)),
    "survey_responses": ("survey_response", ("text",)),
}

# Satisfaction-rating comments are not clustered, by rule: they judge one support interaction
# ("quick and friendly"), their ticket already carries the topic, and clustering them would
# pull every cluster toward praise or blame of the service instead of what customers ask about.
TOPIC_ITEM_TYPES = tuple(t for t in ITEM_TYPES if t != "satisfaction_rating")


def joined(*columns: str) -> Callable[[Row], str | None]:
    """The text of a row: its non-empty `columns`, one per line."""

    def text_of(row: Row) -> str | None:
        parts = [row[c] for c in columns if row.get(c)]
        return "\n".join(parts) if parts else None

    return text_of


def text_of(table: str) -> Callable[[Row], str | None]:
    """The text rule of a raw table's rows (before they are stored)."""
    return joined(*TEXT_COLUMNS[table][1])


# ------------------------------------------------------------------------------ scoring

_PENDING_ITEMS = f"""
    WITH hashed AS (
        SELECT item_type, item_source, item_source_id, text AS body,
               encode(sha256(convert_to(text, 'UTF8')), 'hex') AS text_hash
        FROM {ITEMS} WHERE has_text
    )
    SELECT h.item_type, h.item_source, h.item_source_id, h.body, h.text_hash
    FROM hashed h
    LEFT JOIN nlp.feedback_scores s
      ON s.item_type = h.item_type AND s.item_source = h.item_source
     AND s.item_source_id = h.item_source_id AND s.model_version = :model_version
    WHERE (s.id IS NULL OR s.text_hash <> h.text_hash)
"""
_KEY = "(h.item_type, h.item_source, h.item_source_id)"
_ORDER = " ORDER BY h.item_type, h.item_source, h.item_source_id"
_PENDING = text(_PENDING_ITEMS + _ORDER)
# Half-open key ranges [lo, hi): the partitions a Dask cluster scores in parallel.
_PENDING_FROM = text(_PENDING_ITEMS + f" AND {_KEY} >= (:lo_0, :lo_1, :lo_2)" + _ORDER)
_PENDING_BETWEEN = text(
    _PENDING_ITEMS
    + f" AND {_KEY} >= (:lo_0, :lo_1, :lo_2) AND {_KEY} < (:hi_0, :hi_1, :hi_2)"
    + _ORDER
)
_BOUNDARIES = text(
    f"""
    SELECT item_type, item_source, item_source_id FROM (
        SELECT p.item_type, p.item_source, p.item_source_id,
               row_number() OVER (ORDER BY p.item_type, p.item_source, p.item_source_id) AS n,
               count(*) OVER () AS total
        FROM ({_PENDING_ITEMS}) p
    ) numbered
    WHERE (n - 1) % greatest(1, ceil(total::numeric / :parts)::int) = 0
    ORDER BY n
    """
)


def pending_ranges(engine: Engine, model_version: str, parts: int) -> list[KeyRange]:
    """The items pending for `model_version` cut into at most `parts` key ranges of about equal
    size, read as boundaries only (one key per part), so the set is never held in memory."""
    with engine.connect() as conn:
        bounds = [
            tuple(r)
            for r in conn.execute(_BOUNDARIES, {"model_version": model_version, "parts": parts})
        ]
    return [
        (lo, bounds[i + 1] if i + 1 < len(bounds) else None)  # type: ignore[misc]
        for i, lo in enumerate(bounds)
    ]


def pending(
    engine: Engine, model_version: str, batch_size: int, key_range: KeyRange | None = None
) -> Iterator[list[Any]]:
    """Batches of items with text that `model_version` has not scored, or scored on another
    text (rows: item key, `body`, `text_hash`), in key order, from one server-side cursor."""
    params: dict[str, Any] = {"model_version": model_version}
    query = _PENDING
    if key_range is not None:
        lo, hi = key_range
        params |= {f"lo_{i}": v for i, v in enumerate(lo)}
        query = _PENDING_FROM
        if hi is not None:
            params |= {f"hi_{i}": v for i, v in enumerate(hi)}
            query = _PENDING_BETWEEN
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(
            query, params
        )
        yield from result.partitions(batch_size)


# ------------------------------------------------------------------------------ consent


def public_reviews_are_consented(dbt_project_dir: str | Path) -> bool:
    """The dbt var of the same name (dbt_project.yml); false when it cannot be read."""
    path = Path(dbt_project_dir) / "dbt_project.yml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return False
    return bool((doc.get("vars") or {}).get("public_reviews_are_consented", False))


# Improvement consent of an item, the rule of fct_feedback: the canonical contact's decision
# when the contact is known, else true for public reviews when the dbt var says so.
IMPROVEMENT_CONSENT = """CASE
        WHEN cc.contact_id IS NOT NULL THEN cc.consent_improvement
        WHEN i.item_type = 'review' THEN :public_reviews
        ELSE false
    END"""

_CONSENTED_FROM = f"""
    FROM {ITEMS} i LEFT JOIN {CONSENT} cc ON cc.contact_id = i.contact_id
    WHERE i.item_type IN :types AND {IMPROVEMENT_CONSENT}
      AND btrim(coalesce(i.text, '')) <> ''
"""
_CONSENTED = text(
    f"SELECT i.item_type, i.item_source, i.item_source_id, i.text AS body {_CONSENTED_FROM}"
)
# Keys only, in Python's order of key tuples: "C" compares UTF-8 bytes, which is code point order.
_CONSENTED_KEYS = text(
    f"""
    SELECT i.item_type, i.item_source, i.item_source_id {_CONSENTED_FROM}
    ORDER BY i.item_type COLLATE "C", i.item_source COLLATE "C", i.item_source_id COLLATE "C"
    """
)


def consented_texts(
    conn: Connection, *, public_reviews: bool, item_types: tuple[str, ...] = TOPIC_ITEM_TYPES
) -> dict[ItemKey, str]:
    """The text of every item of `item_types` whose author allows improvement use, by key."""
    stmt = _CONSENTED.bindparams(bindparam("types", expanding=True))
    rows = conn.execute(stmt, {"public_reviews": public_reviews, "types": list(item_types)})
    return {(r.item_type, r.item_source, r.item_source_id): r.body for r in rows}


def consented_keys(
    conn: Connection, *, public_reviews: bool, item_types: tuple[str, ...] = TOPIC_ITEM_TYPES
) -> list[ItemKey]:
    """The keys of `consented_texts`, sorted as Python sorts them, without their text (the
    texts of 100,000 items are most of the memory of a topics run: `texts_by_key`). Type and
    source are shared strings: a handful of values over every key."""
    stmt = _CONSENTED_KEYS.bindparams(bindparam("types", expanding=True))
    rows = conn.execute(stmt, {"public_reviews": public_reviews, "types": list(item_types)})
    shared: dict[str, str] = {}
    return [(shared.setdefault(t, t), shared.setdefault(s, s), i) for t, s, i in rows]


# The keys go through a temporary table and LATERAL, as the routing facts do: each key pushed
# into every branch of the view is an index lookup, not a scan of every raw table.
_TEXT_KEYS = text(
    "CREATE TEMP TABLE IF NOT EXISTS item_text_keys "
    "(n integer, item_type text, item_source text, item_source_id text) ON COMMIT DELETE ROWS"
)
_TEXT_KEY_COLUMNS = {
    "n": "int4",
    "item_type": "text",
    "item_source": "text",
    "item_source_id": "text",
}
_TEXTS_BY_KEY = text(
    f"""
    SELECT k.n, i.text
    FROM item_text_keys k
    CROSS JOIN LATERAL (
        SELECT v.text FROM {ITEMS} v
        WHERE v.item_type = k.item_type AND v.item_source = k.item_source
          AND v.item_source_id = k.item_source_id
        OFFSET 0  -- keeps the subquery whole, so the keys stay parameters of the index lookups
    ) i
    """
)


def texts_by_key(conn: Connection, keys: list[ItemKey]) -> list[str]:
    """The texts of `keys`, in their order ("" for an item without text). Read `keys` and
    their texts in one transaction (a snapshot) when they must agree."""
    if not keys:
        return []
    conn.execute(_TEXT_KEYS)
    conn.execute(text("DELETE FROM item_text_keys"))
    insert_unnest(
        conn,
        "item_text_keys",
        _TEXT_KEY_COLUMNS,
        [
            {"n": n, "item_type": t, "item_source": s, "item_source_id": i}
            for n, (t, s, i) in enumerate(keys)
        ],
    )
    found = {n: body for n, body in conn.execute(_TEXTS_BY_KEY)}
    missing = len(keys) - len(found)
    if missing:
        raise LookupError(f"{missing} of {len(keys)} items not found by key")
    return [found[n] or "" for n in range(len(keys))]


# ------------------------------------------------------------------------------ one item


def item_text(conn: Connection, key: ItemKey) -> str | None:
    """An item's (masked) text; None for an unknown item or one without text."""
    return conn.execute(
        text(
            f"SELECT text FROM {ITEMS} WHERE has_text "
            "AND item_type = :t AND item_source = :s AND item_source_id = :i"
        ),
        {"t": key[0], "s": key[1], "i": key[2]},
    ).scalar_one_or_none()
