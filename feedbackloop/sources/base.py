"""What every API connector shares, whatever the source: the sync result and hook types, the
cursor state in `ops.sync_state`, and the page commit.

A connector turns one API page into a `Page` (rows per table, the records it refused, the
masking counts) and yields it with the cursor that follows it. `sync_stream` gathers pages into
a batch (up to `BATCH_ROWS` rows, so memory stays flat however long the stream), masks the ids
and categories, keeps what is new (`only_newer`, or the connector's own rule), lets the
governance gate screen the whole batch once per table (`SyncHooks.gate`: one GX validation per
table and batch, not per page), then commits the batch page by page: each page's rows (bulk
loaded, `feedbackloop.db.upsert`), its refused records in `ops.quarantine`, its mask audit row
and the cursor that follows it in one transaction. A crash anywhere and a rerun store every
record exactly once. API usage is recorded per call by the HTTP layer (`feedbackloop.http`).
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Engine, Text, and_, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase

from feedbackloop.db import models as m
from feedbackloop.db.upsert import newest_per_key, quarantine, upsert_rows
from feedbackloop.governance import audit
from feedbackloop.governance.fields import clear_caches, mask_fields, text_cache
from feedbackloop.governance.gate import Gate, GateDecision, ScreenedMasker, record_run
from feedbackloop.http import Closing, HttpClient
from nlp.pii import mask, mask_value

if TYPE_CHECKING:
    from expectations.checkpoints import Outcome

__all__ = [
    "BATCH_ROWS",
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
    "commit_batch",
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

# Rows gathered before the gate runs: one GX validation per table costs 0.2-0.5 s whatever its
# size, so per 1,000-row page it was most of a sync's time; 20,000 rows keep memory flat.
BATCH_ROWS = 20_000
# Pages fetched (and parsed) ahead by a worker thread while the batch before them commits.
PREFETCH_PAGES = 2


# ------------------------------------------------------------------------------ clients


class ApiSource(Closing):
    """What a connector's API client shares: its HTTP client (`feedbackloop.http`), closing
    it, and the count of calls made (a sync reports its own share)."""

    http: HttpClient

    def close(self) -> None:
        self.http.close()

    def after_fork(self) -> None:
        """Called in a forked child before it syncs: HTTP connections of its own (the count of
        calls goes on from the parent's, so a sync's own share stays a difference)."""
        self.http.reopen()

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
    # The governance gate (`feedbackloop.governance.gate.table_gate`), run once per table on a
    # batch of pages: rows it rejects are quarantined with the failed expectation instead of
    # stored, in the transaction of the page they are committed with.
    gate: Gate | None = None

    def __call__(self, point: SyncPoint) -> None:
        if self.on_point is not None:
            self.on_point(point)


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
    masked (`masked_columns` are free text they masked themselves, with counts; the texts
    their masker found nothing in are not scanned again by the gate)."""

    rows: dict[Model, list[Row]] = field(default_factory=dict)
    bad: list[Rejected] = field(default_factory=list)
    masker: ScreenedMasker = field(default_factory=ScreenedMasker)
    masked_columns: frozenset[str] = frozenset()

    def add(self, model: Model, row: Row) -> None:
        self.rows.setdefault(model, []).append(row)

    def refuse(self, stream: str, source_id: str | None, reason: str, payload: Any) -> None:
        self.bad.append(Rejected(stream, source_id, reason, payload))


def newest_per_id(rows: Iterable[Row]) -> list[Row]:
    """One row per (source, source_id), the newest `updated_at` (the first of equals): one
    INSERT ... ON CONFLICT cannot touch a row twice."""
    return newest_per_key(rows, ("source", "source_id"))


# What to keep of a page's rows for a table, and how many were left out as already stored.
FreshRows = Callable[[Connection, Model, list[Row]], tuple[list[Row], int]]


def only_newer(conn: Connection, model: Model, rows: list[Row]) -> tuple[list[Row], int]:
    """Rows newer than the stored version (one per id, the newest of the batch); rows no
    newer are not written at all, so a rerun with nothing new writes nothing."""
    newest = newest_per_id(rows)
    table = model.__table__
    stored: dict[tuple[Any, Any], datetime] = {}
    for start in range(0, len(newest), 10_000):
        chunk = newest[start : start + 10_000]
        # The keys as two arrays joined in SQL: one statement, two parameters, the index used.
        keys = (
            func.unnest(
                literal([r["source"] for r in chunk], ARRAY(Text)),
                literal([r["source_id"] for r in chunk], ARRAY(Text)),
            )
            .table_valued("source", "source_id")
            .render_derived()
        )
        result = conn.execute(
            select(table.c.source, table.c.source_id, table.c.updated_at).join(
                keys, and_(table.c.source == keys.c.source, table.c.source_id == keys.c.source_id)
            )
        )
        stored.update(((source, sid), updated) for source, sid, updated in result)
    fresh = [
        r
        for r in newest
        if (seen := stored.get((r["source"], r["source_id"]))) is None or seen < r["updated_at"]
    ]
    return fresh, len(rows) - len(fresh)


@dataclass
class _Screened:
    """A table's rows of a batch after the newest-version check and the gate, by page."""

    passed: dict[int, list[Row]] = field(default_factory=dict)
    rejected: dict[int, list[tuple[Row, str]]] = field(default_factory=dict)
    # Rows of each page that another page or the stored version made redundant.
    unchanged: dict[int, int] = field(default_factory=dict)
    outcome: Outcome | None = None


def _screen_table(
    conn: Connection,
    model: Model,
    by_page: list[list[Row]],
    hooks: SyncHooks,
    fresh_rows: FreshRows,
    clean: Collection[str] = frozenset(),
) -> _Screened:
    """The newest-version check and the gate, each run once on the table's rows of the whole
    batch. One version per id is kept, and it goes with the page it came from: committed with
    that page's cursor, as when every page committed alone, so a crash after that page cannot
    leave the rerun only an older version from a later page. A row the freshness rule rebuilt
    (a copy) goes with the last page carrying its id, whose cursor covers every version."""
    screened = _Screened()
    every = [row for rows in by_page for row in rows]
    if not every:
        return screened
    last_page = {(r["source"], r["source_id"]): n for n, rows in enumerate(by_page) for r in rows}
    own_page = {id(r): n for n, rows in enumerate(by_page) for r in rows}

    def page_of(row: Row) -> int:
        return own_page.get(id(row), last_page[(row["source"], row["source_id"])])

    fresh, _ = fresh_rows(conn, model, every)
    decision = (
        hooks.gate(model.__tablename__, fresh, clean=clean)
        if hooks.gate is not None and fresh
        else GateDecision(passed=fresh)
    )
    screened.outcome = decision.outcome
    for row in decision.passed:
        screened.passed.setdefault(page_of(row), []).append(dict(row))
    for row, reason in decision.rejected:
        screened.rejected.setdefault(page_of(row), []).append((row, reason))
    for n, rows in enumerate(by_page):
        kept = len(screened.passed.get(n, ())) + len(screened.rejected.get(n, ()))
        screened.unchanged[n] = len(rows) - kept
    return screened


def commit_batch(
    engine: Engine,
    result: SyncResult,
    batch: Sequence[tuple[Page, str | None, dict[str, Any]]],
    *,
    source: str,
    hooks: SyncHooks,
    actor: str,
    hash_key: bytes,
    fresh_rows: FreshRows = only_newer,
    mask_payload: Callable[[Any], Any] = mask_value,
    quarantine_stream: str | None = None,
) -> None:
    """Pages screened together, then each page's rows, refused records, mask audit and the
    cursor that follows it in one transaction per page.

    Ids, categories and tags are masked first (an id holding PII becomes its keyed hash, before
    the newest-version check that keys on it). The gate runs once per table on the batch and
    its run is recorded with the first page. `mask_payload` masks what is parked;
    `quarantine_stream` is the one of rows the database refuses (default: their table's name). A
    refused record is counted when it is parked, so one seen again (a page read again) is
    neither parked nor counted twice."""
    if not batch:
        return
    models: dict[Model, list[list[Row]]] = {}
    for n, (page, _, _) in enumerate(batch):
        for model, built in page.rows.items():
            rows = [
                mask_fields(r, key=hash_key, skip=page.masked_columns, counts=page.masker.counts)
                for r in built
            ]
            models.setdefault(model, [[] for _ in batch])[n] = rows
    # Texts the pages' maskers found no PII in: the gate knows its answer for them.
    clean: set[str] = set()
    for page, _, _ in batch:
        clean |= page.masker.clean
    with engine.connect() as conn:
        screened = {
            model: _screen_table(conn, model, by_page, hooks, fresh_rows, clean)
            for model, by_page in models.items()
        }
        conn.rollback()
    for n, (page, cursor, state) in enumerate(batch):
        number = result.pages + 1
        written = unchanged = quarantined = offered = 0
        with engine.begin() as conn:
            for model, table_screened in screened.items():
                table = model.__tablename__
                if n == 0 and table_screened.outcome is not None:
                    record_run(conn, table_screened.outcome, batch=f"{source} {table}")
                for row, reason in table_screened.rejected.get(n, ()):
                    # Counted even when already parked (a page read again): the stream's
                    # counts reconcile with what it received, as before batching.
                    quarantined += 1
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
                passed = table_screened.passed.get(n, [])
                offered += len(passed)
                outcome = upsert_rows(
                    conn,
                    model,
                    passed,
                    source=source,
                    stream=quarantine_stream or table,
                    mask_payload=mask_payload,
                    actor=actor,
                )
                written += outcome.written - outcome.not_newer
                quarantined += outcome.quarantined
                unchanged += table_screened.unchanged.get(n, 0) + outcome.not_newer
                if model in page.rows:
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
                    counts=page.masker.counts,
                )
            hooks(SyncPoint(result.stream, number, "state"))
            save_state(conn, source, result.stream, cursor, state)
        result.pages = number
        result.rows_written += written
        result.rows_unchanged += unchanged
        result.quarantined += quarantined
        result.masked_entities.update(page.masker.counts)
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
    """Walk a stream from its saved cursor and state: `pages` fetches and yields each page;
    the first page is committed alone, then pages are gathered until they hold `BATCH_ROWS`
    rows or the stream ends, then committed (`commit_batch`, with `commit` options) before
    the next page is fetched."""
    cap = BATCH_ROWS
    result = SyncResult(stream)
    calls_before = client.api_calls
    hooks = hooks or SyncHooks()
    cursor, state = load_state(engine, source, stream)
    batch: list[tuple[Page, str | None, dict[str, Any]]] = []
    gathered = 0
    # The first page is a batch of its own: a run that fails early (the database restarting
    # while page 3 is fetched) keeps it and resumes after it. After it, batches of up to `cap`
    # rows: the gate's fixed cost (a GX validation, about 0.13 CPU s whatever its size) is
    # paid twice for a stream of up to `cap` rows, and once more per `cap` rows after that. A
    # failure loses at most one batch of fetching, never a stored record.
    first = True

    def flush() -> None:
        nonlocal gathered, first
        commit_batch(
            engine, result, batch, source=source, hooks=hooks, actor=actor, hash_key=hash_key,
            **commit,
        )  # fmt: skip
        if batch:
            first = False
        batch.clear()
        gathered = 0

    # Free text is masked once per distinct text for the run; the page walk below runs in a
    # copy of this context, so it shares the cache with the gate.
    with text_cache():
        walk = _prefetched(pages(cursor, state), PREFETCH_PAGES, f"{source}-{stream}-pages")
        try:
            while True:
                try:
                    page, next_cursor, next_state = next(walk)
                except StopIteration:
                    break
                except Exception:
                    # The source failed (after the HTTP layer's retries): the pages fetched
                    # before still commit, so a retry resumes after them, as when each page
                    # committed.
                    flush()
                    raise
                batch.append((page, next_cursor, next_state))
                gathered += sum(len(rows) for rows in page.rows.values()) + len(page.bad)
                if gathered >= cap or first:
                    flush()
            flush()
        finally:
            walk.close()  # stops and joins the worker before the calls are counted
            result.api_calls = client.api_calls - calls_before
            clear_caches()  # the raw ids and texts it cached do not outlive the run
    return result


_END = object()


def _prefetched(items: Iterator[Any], depth: int, name: str) -> Iterator[Any]:
    """`items` produced by a worker thread up to `depth` ahead: the next pages are fetched and
    parsed while the database works on the ones before (COPY, upsert, commit) and, against a
    real API, while its latency passes. Errors reach the consumer in order. Closing the result
    stops the worker after the item it is producing and waits for it, so no request of this
    walk happens after the walk ended (a crash test counts them)."""
    if depth <= 0:
        yield from items
        return
    handoff: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, _END))
        except BaseException as exc:  # handed over, raised in the consumer
            put((False, exc))
        finally:
            items.close()  # type: ignore[attr-defined]

    # In the caller's context: context-local settings and loggers apply to the walk as before.
    context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(work,), name=name, daemon=True)
    worker.start()
    try:
        while True:
            ok, item = handoff.get()
            if not ok:
                raise item
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        worker.join()
