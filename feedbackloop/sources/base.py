"""What every API connector shares, whatever the source: the sync result and hook types, the
cursor state in `ops.sync_state`, and the page commit.

A connector turns one API page into a `Page` (rows per table, the records it refused, the
masking counts) and hands it to `commit_page`, which in one transaction masks the ids and
categories, keeps what is new (`only_newer`, or the connector's own rule), lets the governance
gate screen it (`SyncHooks.screen`, the one place the gate is called), upserts it, parks the
refused records in `ops.quarantine`, writes the mask audit row and saves the stream's cursor. A
crash anywhere and a rerun store every record exactly once. API usage is recorded per call by
the HTTP layer (`feedbackloop.http`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Engine, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase

from feedbackloop.db import models as m
from feedbackloop.db.upsert import quarantine, upsert_rows
from feedbackloop.governance import audit
from feedbackloop.governance.fields import mask_fields
from feedbackloop.governance.gate import GateDecision, record_run
from feedbackloop.http import Closing, HttpClient
from nlp.pii import CountingMasker, mask, mask_value

__all__ = [
    "ApiSource",
    "FreshRows",
    "Invalid",
    "Page",
    "Pages",
    "Rejected",
    "SyncHook",
    "SyncHooks",
    "SyncPoint",
    "SyncResult",
    "commit_page",
    "load_state",
    "newest_per_id",
    "only_newer",
    "parse_timestamp",
    "record_id",
    "save_state",
    "sync_stream",
]

log = logging.getLogger(__name__)

Row = dict[str, Any]
Model = type[DeclarativeBase]


# ------------------------------------------------------------------------------ clients


class ApiSource(Closing):
    """What a connector's API client shares: its HTTP client (`feedbackloop.http`), closing
    it, and the count of calls made (a sync reports its own share)."""

    http: HttpClient

    def close(self) -> None:
        self.http.close()

    @property
    def api_calls(self) -> int:
        return self.http.calls


# ------------------------------------------------------------------------------ records


class Invalid(ValueError):
    """A record that cannot be loaded; the message is the quarantine reason (no PII)."""


def parse_timestamp(value: Any, name: str) -> datetime:
    """An ISO 8601 string (`Z` allowed) as an aware datetime; without an offset it is UTC."""
    if value is None:
        raise Invalid(f"{name} is missing")
    if not isinstance(value, str):
        raise Invalid(f"{name} is not a timestamp")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{name} is not an ISO 8601 timestamp") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def record_id(record: Any) -> str | None:
    """A refused record's id for `ops.quarantine`, masked (an id can be an address)."""
    if isinstance(record, Mapping):
        value = record.get("id")
        if isinstance(value, (int, str)) and not isinstance(value, bool):
            return mask(str(value))[:128]
    return None


# ----------------------------------------------------------------------------- results


@dataclass
class SyncResult:
    """What one stream's sync did."""

    stream: str
    pages: int = 0
    rows_written: int = 0  # inserted or replaced by a newer version
    rows_unchanged: int = 0  # already stored at the same or a newer `updated_at`
    quarantined: int = 0
    api_calls: int = 0
    masked_entities: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class SyncPoint:
    """Where a sync is, for `SyncHooks` (tests inject crashes here)."""

    stream: str
    page: int  # 1-based page number within this run
    stage: Literal["rows", "state", "committed"]
    table: str | None = None  # for stage "rows": the table just upserted (in the open txn)


SyncHook = Callable[[SyncPoint], None]


@dataclass(frozen=True)
class SyncHooks:
    """Optional callback at each point of a page's load; raising from it aborts the sync
    exactly there (stages "rows"/"state" are inside the page's transaction)."""

    on_point: SyncHook | None = None
    # The governance gate (`feedbackloop.governance.gate.table_gate`): rows it rejects are
    # quarantined with the failed expectation instead of stored, in the page's transaction.
    gate: Callable[[str, Sequence[Mapping[str, Any]]], GateDecision] | None = None

    def __call__(self, point: SyncPoint) -> None:
        if self.on_point is not None:
            self.on_point(point)

    def screen(
        self, conn: Connection, table: str, rows: list[Row], *, source: str, actor: str
    ) -> tuple[list[Row], int]:
        """Rows that pass the gate, and how many it quarantined."""
        if self.gate is None or not rows:
            return rows, 0
        decision = self.gate(table, rows)
        for row, reason in decision.rejected:
            quarantine(
                conn,
                source=source,
                stream=table,
                source_id=str(row.get("source_id")),
                reason=reason,
                payload=row,
                mask_payload=mask_value,
                actor=actor,
            )
        if decision.outcome is not None:
            record_run(conn, decision.outcome, batch=f"{source} {table}")
        return [dict(r) for r in decision.passed], len(decision.rejected)


# ------------------------------------------------------------------------------- state


def load_state(engine: Engine, source: str, stream: str) -> tuple[str | None, dict[str, Any]]:
    """A stream's saved cursor and state (None and {} before its first page)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(m.SyncState.cursor, m.SyncState.state).where(
                m.SyncState.source == source, m.SyncState.stream == stream
            )
        ).first()
    if row is None:
        return None, {}
    return row.cursor, dict(row.state or {})


def save_state(
    conn: Connection, source: str, stream: str, cursor: str | None, state: dict[str, Any]
) -> None:
    stmt = pg_insert(m.SyncState).values(source=source, stream=stream, cursor=cursor, state=state)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["source", "stream"],
            set_={
                "cursor": stmt.excluded.cursor,
                "state": stmt.excluded.state,
                "updated_at": func.now(),
            },
        )
    )


# -------------------------------------------------------------------------------- pages


@dataclass
class Rejected:
    """A record that cannot be loaded: parked in `ops.quarantine` under `stream`."""

    stream: str
    source_id: str | None
    reason: str  # no personal data: it is stored and shown as it is
    payload: Any


@dataclass
class Page:
    """One page turned into rows per table, plus the records refused and what the row builders
    masked (`masked_columns` are free text they masked themselves, with counts)."""

    rows: dict[Model, list[Row]] = field(default_factory=dict)
    bad: list[Rejected] = field(default_factory=list)
    masker: CountingMasker = field(default_factory=CountingMasker)
    masked_columns: frozenset[str] = frozenset()

    def add(self, model: Model, row: Row) -> None:
        self.rows.setdefault(model, []).append(row)

    def refuse(self, stream: str, source_id: str | None, reason: str, payload: Any) -> None:
        self.bad.append(Rejected(stream, source_id, reason, payload))


def newest_per_id(rows: Iterable[Row]) -> list[Row]:
    """One row per (source, source_id), the newest `updated_at` (the first of equals): one
    INSERT ... ON CONFLICT cannot touch a row twice."""
    newest: dict[tuple[Any, Any], Row] = {}
    for row in rows:
        key = (row["source"], row["source_id"])
        kept = newest.get(key)
        if kept is None or kept["updated_at"] < row["updated_at"]:
            newest[key] = row
    return list(newest.values())


# What to keep of a page's rows for a table, and how many were left out as already stored.
FreshRows = Callable[[Connection, Model, list[Row]], tuple[list[Row], int]]


def only_newer(conn: Connection, model: Model, rows: list[Row]) -> tuple[list[Row], int]:
    """Rows newer than the stored version (one per id, the newest of the batch); rows no
    newer are not written at all, so a rerun with nothing new writes nothing."""
    newest = newest_per_id(rows)
    table = model.__table__
    stored: dict[tuple[Any, Any], datetime] = {}
    keys = [(r["source"], r["source_id"]) for r in newest]
    for start in range(0, len(keys), 1000):
        result = conn.execute(
            select(table.c.source, table.c.source_id, table.c.updated_at).where(
                tuple_(table.c.source, table.c.source_id).in_(keys[start : start + 1000])
            )
        )
        stored.update(((source, sid), updated) for source, sid, updated in result)
    fresh = [
        r
        for r in newest
        if (seen := stored.get((r["source"], r["source_id"]))) is None or seen < r["updated_at"]
    ]
    return fresh, len(rows) - len(fresh)


def commit_page(
    engine: Engine,
    result: SyncResult,
    page: Page,
    *,
    source: str,
    cursor: str | None,
    state: dict[str, Any],
    hooks: SyncHooks,
    actor: str,
    hash_key: bytes,
    fresh_rows: FreshRows = only_newer,
    mask_payload: Callable[[Any], Any] = mask_value,
    quarantine_stream: str | None = None,
) -> None:
    """Rows, refused records, the mask audit and the new cursor: one transaction.

    Ids, categories and tags are masked here (an id holding PII becomes its keyed hash, before
    the newest-version check that keys on it). `mask_payload` masks what is parked;
    `quarantine_stream` is the one of rows the database refuses (default: their table's name). A
    refused record is counted when it is parked, so one seen again (a page read again) is
    neither parked nor counted twice."""
    number = result.pages + 1
    written = unchanged = quarantined = offered = 0
    counts = page.masker.counts
    skip = page.masked_columns
    with engine.begin() as conn:
        for model, built in page.rows.items():
            table = model.__tablename__
            rows = [mask_fields(r, key=hash_key, skip=skip, counts=counts) for r in built]
            fresh, same = fresh_rows(conn, model, rows)
            fresh, gated = hooks.screen(conn, table, fresh, source=source, actor=actor)
            offered += len(fresh)
            outcome = upsert_rows(
                conn,
                model,
                fresh,
                source=source,
                stream=quarantine_stream or table,
                mask_payload=mask_payload,
                actor=actor,
            )
            written += outcome.written
            quarantined += gated + outcome.quarantined
            unchanged += same
            hooks(SyncPoint(result.stream, number, "rows", table))
        for bad in page.bad:
            quarantined += quarantine(
                conn,
                source=source,
                stream=bad.stream,
                source_id=bad.source_id,
                reason=bad.reason,
                payload=bad.payload,
                mask_payload=mask_payload,
                actor=actor,
            )
        if offered:  # a page read again stores nothing and audits nothing
            audit.masked(
                conn,
                actor=actor,
                entity_type=result.stream,
                entity_id=f"{source} page {number}",
                counts=counts,
            )
        hooks(SyncPoint(result.stream, number, "state"))
        save_state(conn, source, result.stream, cursor, state)
    result.pages = number
    result.rows_written += written
    result.rows_unchanged += unchanged
    result.quarantined += quarantined
    result.masked_entities.update(counts)
    hooks(SyncPoint(result.stream, number, "committed"))
    log.info(
        "%s %s page %d: %d written, %d unchanged, %d quarantined",
        source,
        result.stream,
        number,
        written,
        unchanged,
        quarantined,
    )


# A stream's pages: each with the cursor and state to save with it, from the saved ones.
Pages = Iterator[tuple[Page, str | None, dict[str, Any]]]


def sync_stream(
    engine: Engine,
    client: ApiSource,
    source: str,
    stream: str,
    pages: Callable[[str | None, dict[str, Any]], Pages],
    *,
    hooks: SyncHooks | None,
    actor: str,
    hash_key: bytes,
    **commit: Any,
) -> SyncResult:
    """Walk a stream from its saved cursor and state: `pages` fetches and yields each page, and
    each is committed (`commit_page`, with `commit` options) before the next is fetched."""
    result = SyncResult(stream)
    calls_before = client.api_calls
    hooks = hooks or SyncHooks()
    cursor, state = load_state(engine, source, stream)
    try:
        for page, next_cursor, next_state in pages(cursor, state):
            commit_page(
                engine,
                result,
                page,
                source=source,
                cursor=next_cursor,
                state=next_state,
                hooks=hooks,
                actor=actor,
                hash_key=hash_key,
                **commit,
            )
    finally:
        result.api_calls = client.api_calls - calls_before
    return result
