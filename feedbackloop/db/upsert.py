"""Idempotent loading: upsert by natural key, newest `updated_at` wins, bad rows quarantined.

Connectors and the demo loader both write through `upsert_rows`, so "loading the same data
twice changes nothing" and "every record is stored or quarantined with a reason" hold in one
place. A batch of `COPY_MIN_ROWS` or more is bulk loaded: COPYed (already masked) into a
temporary staging table, then one `INSERT ... SELECT ... ON CONFLICT DO UPDATE` whose WHERE is
the newest-version check; smaller batches use one executemany.
"""

from __future__ import annotations

import json
import math
import re
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Connection, Engine, Table, func, select
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase

from feedbackloop.db import audit
from feedbackloop.db.models import Quarantine

Row = Mapping[str, Any]


# Below this many rows a staging table costs more than it saves.
COPY_MIN_ROWS = 50
_CREATE_STAGE = "CREATE TEMPORARY TABLE"
# Engines whose role may not create temporary tables: the bulk path is not tried again there
# (each try costs a savepoint and a refused statement per batch).
_NO_TEMP: weakref.WeakSet[Engine] = weakref.WeakSet()


@dataclass
class UpsertResult:
    written: int = 0
    quarantined: int = 0
    # Of `written`: rows the database kept as they were because the stored version is as new
    # (known on the bulk path only, from the upsert's row count), and the older versions of a
    # key the batch held more than once.
    not_newer: int = 0

    def __iadd__(self, other: UpsertResult) -> UpsertResult:
        self.written += other.written
        self.quarantined += other.quarantined
        self.not_newer += other.not_newer
        return self


def _on_conflict(insert: Any, table: Table, key: Sequence[str]) -> Any:
    """`insert` (of values or of a SELECT) made an upsert on `key`: every other column but `id`
    and the primary key takes the incoming value, `loaded_at` is now(), and where the table
    has `updated_at`, only a newer version replaces the stored one (replays and out-of-order
    pages never overwrite a newer version)."""
    set_ = {
        c.name: insert.excluded[c.name]
        for c in table.columns
        if c.name not in {*key, "id", "loaded_at"} and not c.primary_key
    }
    if "loaded_at" in table.c:
        set_["loaded_at"] = func.now()
    where = table.c.updated_at < insert.excluded.updated_at if "updated_at" in table.c else None
    return insert.on_conflict_do_update(index_elements=list(key), set_=set_, where=where)


def _statement(model: type[DeclarativeBase], key: Sequence[str]) -> Any:
    table: Table = model.__table__  # type: ignore[assignment]
    return _on_conflict(pg_insert(table), table, key)


def insert_new(
    conn: Connection, model: Any, rows: Sequence[Row], *, constraint: str | None = None
) -> list[Any]:
    """Insert `rows` (one or more), skipping each that a unique key (`constraint`, else any)
    already holds: append-only records whose first version stands. The new rows' ids."""
    statement = (
        pg_insert(model)
        .values(list(rows))
        .on_conflict_do_nothing(constraint=constraint)
        .returning(model.id)
    )
    return list(conn.execute(statement).scalars())


def newest_per_key(rows: Iterable[Row], key: Sequence[str], *, versioned: bool = True) -> list[Row]:
    """One row per `key`, the version that upserting the rows one by one keeps: the newest
    `updated_at`, the first of equals (`versioned`), else the last. One INSERT ... ON CONFLICT
    cannot touch a row twice."""
    kept: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        k = tuple(row[c] for c in key)
        if not versioned:
            kept.pop(k, None)  # the last one wins, in the order of its last sighting
            kept[k] = row
        elif (old := kept.get(k)) is None or old["updated_at"] < row["updated_at"]:
            kept[k] = row
    return list(kept.values())


def overwrite(
    model: type[DeclarativeBase],
    key: Sequence[str],
    columns: Sequence[str],
    *,
    stamp: str | None = None,
    where: Callable[[Any], Any] | None = None,
) -> Any:
    """INSERT into `model`; on a conflict on `key`, take the incoming `columns`, set `stamp`
    (a timestamp column) to now(), and only where `where(excluded)` holds, when given."""
    stmt = pg_insert(model)
    set_: dict[str, Any] = {name: stmt.excluded[name] for name in columns}
    if stamp is not None:
        set_[stamp] = func.now()
    return stmt.on_conflict_do_update(
        index_elements=list(key),
        set_=set_,
        where=where(stmt.excluded) if where is not None else None,
    )


def _reason(exc: DBAPIError) -> str:
    # The driver's first line names the constraint or type; row values it may quote stay out.
    message = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
    return f"{type(exc.orig).__name__}: {message.split(' DETAIL:')[0]}"


def upsert_rows(
    conn: Connection,
    model: type[DeclarativeBase],
    rows: Sequence[Row],
    *,
    source: str,
    stream: str,
    key: Sequence[str] = ("source", "source_id"),
    mask_payload: Callable[[Any], Any] | None = None,
    actor: str = "feedbackloop",
) -> UpsertResult:
    """Upsert `rows` into `model`'s table inside the caller's transaction.

    The batch goes in with one executemany; if the database refuses it, rows are retried one
    by one under savepoints and each refused row goes to `ops.quarantine` with the database's
    reason, so one bad record never loses the rest of the batch.
    """
    if not rows:
        return UpsertResult()
    stmt = _statement(model, key)
    bulk = len(rows) >= COPY_MIN_ROWS and conn.engine not in _NO_TEMP and _uniform(rows)
    if bulk:
        unique = _one_per_key(model, rows, key)
        try:
            with conn.begin_nested():
                changed = copy_upsert(conn, model, unique, key=key)
            return UpsertResult(written=len(rows), not_newer=len(rows) - changed)
        except DBAPIError as exc:
            # No TEMP privilege (production roles may lack it): the executemany path, now
            # and for the rest of this engine's life. Anything else is a row the database
            # refuses: find it one row at a time.
            bulk = not isinstance(exc.orig, pg_errors.InsufficientPrivilege)
            if not bulk and str(exc.statement or "").startswith(_CREATE_STAGE):
                _NO_TEMP.add(conn.engine)
    if not bulk:
        try:
            with conn.begin_nested():
                conn.execute(stmt, list(rows))
            return UpsertResult(written=len(rows))
        except DBAPIError:
            pass
    result = UpsertResult()
    for row in rows:
        try:
            with conn.begin_nested():
                conn.execute(stmt, [row])
            result.written += 1
        except DBAPIError as exc:
            quarantine(
                conn,
                source=source,
                stream=stream,
                source_id=str(row.get("source_id")) if row.get("source_id") is not None else None,
                reason=_reason(exc),
                payload=row,
                mask_payload=mask_payload,
                actor=actor,
            )
            result.quarantined += 1
    return result


def _uniform(rows: Sequence[Row]) -> bool:
    first = rows[0].keys()
    return all(r.keys() == first for r in rows)


def _one_per_key(
    model: type[DeclarativeBase], rows: Sequence[Row], key: Sequence[str]
) -> Sequence[Row]:
    """`rows` with a repeated key reduced to the version the row-by-row path would keep (a
    replayed page in the batch): the bulk upsert goes on instead of falling back row by row.
    Rows without a comparable `updated_at` are left as they are, for the database to judge."""
    table = model.__table__
    versioned = "updated_at" in table.c
    if versioned and any(r["updated_at"] is None for r in rows):
        return rows
    if len({tuple(r[c] for c in key) for r in rows}) == len(rows):
        return rows
    return newest_per_key(rows, key, versioned=versioned)


def copy_upsert(
    conn: Connection,
    model: type[DeclarativeBase],
    rows: Sequence[Row],
    *,
    key: Sequence[str] = ("source", "source_id"),
) -> int:
    """Bulk upsert inside the caller's transaction (and savepoint): COPY `rows` (same keys in
    each, one row per `key`, already masked: nothing unmasked may reach a temp file) into a
    temporary table shaped like the target's columns, then one INSERT ... SELECT ... ON
    CONFLICT DO UPDATE with the newest-`updated_at` check. Returns the rows inserted or
    replaced; raises `DBAPIError` when the database refuses any row."""
    target: Table = model.__table__  # type: ignore[assignment]
    names = list(rows[0].keys())
    stage_name = f"_stage_{target.name}"
    json_columns = {n for n in names if isinstance(target.c[n].type, JSON)}
    driver = conn.connection.driver_connection
    assert driver is not None
    qualified = sql.Identifier(*(p for p in (target.schema, target.name) if p))
    columns = sql.SQL(", ").join(map(sql.Identifier, names))
    stage = sql.Identifier(stage_name)

    def execute(statement: sql.Composable) -> None:
        # Through SQLAlchemy's connection so its error wrapping (DBAPIError) applies.
        conn.exec_driver_sql(statement.as_string(driver))

    # Columns and types only: constraints are checked where the rows land, in the INSERT.
    execute(
        sql.SQL(_CREATE_STAGE + " {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            stage, columns, qualified
        )
    )
    try:
        copy_in = sql.SQL("COPY {} ({}) FROM STDIN").format(stage, columns)
        with driver.cursor() as cursor, cursor.copy(copy_in) as copy:
            for row in rows:
                copy.write_row(
                    [
                        Jsonb(row[n]) if n in json_columns and row[n] is not None else row[n]
                        for n in names
                    ]
                )
    except psycopg.Error as exc:  # the driver's own error: wrapped as SQLAlchemy wraps them
        raise DBAPIError.instance(None, None, exc, psycopg.Error) from exc
    staged = sa_table(stage_name, *(sa_column(n) for n in names))
    upsert = _on_conflict(pg_insert(target).from_select(names, select(*staged.c)), target, key)
    # The command's row count is what it inserted or replaced (a row the WHERE kept is not).
    changed = conn.execute(upsert, execution_options={"preserve_rowcount": True}).rowcount
    execute(sql.SQL("DROP TABLE {}").format(stage))
    return changed


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: Any) -> Any:
    """`value` with what PostgreSQL text and jsonb refuse replaced, recursively: NUL and lone
    surrogates (undecodable bytes read with `surrogateescape`) by U+FFFD, and the non-finite
    floats JSON allows in practice (`1e999`, `NaN`) by their names."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def quarantine(
    conn: Connection,
    *,
    source: str,
    stream: str,
    source_id: str | None,
    reason: str,
    payload: Any,
    mask_payload: Callable[[Any], Any] | None = None,
    flow_run_id: str | None = None,
    actor: str = "feedbackloop",
) -> bool:
    """Park a record with its reason and audit it; the payload is masked and made JSON-safe.

    Keyed by content, never by position: a record whose (source, stream, masked payload) is
    already parked and unresolved is not parked again (`ops.quarantine.content_key`, computed
    by the database, so every writer shares the rule). Returns whether a row was added;
    `source_id` and `reason` describe the first sighting and are not part of the key.
    """
    safe = storable(json.loads(json.dumps(storable(payload), default=str)))
    if mask_payload is not None:
        safe = mask_payload(safe)
    table = Quarantine.__table__
    added = conn.execute(
        pg_insert(table)
        .values(
            source=source,
            stream=stream,
            source_id=storable(source_id),
            reason=storable(reason),
            payload=safe,
            flow_run_id=flow_run_id,
        )
        .on_conflict_do_nothing(
            index_elements=[table.c.source, table.c.stream, table.c.content_key],
            index_where=table.c.resolved_at.is_(None),
        )
        .returning(table.c.id)
    ).first()
    if added is None:
        return False
    audit.record(
        conn,
        actor=actor,
        action="quarantine",
        entity_type=stream,
        entity_id=storable(source_id),
        details={"source": source},
        reason=storable(reason),
    )
    return True
