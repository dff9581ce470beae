"""Idempotent loading: upsert by natural key, newest `updated_at` wins, bad rows quarantined.

Connectors and the demo loader both write through `upsert_rows`, so "loading the same data
twice changes nothing" and "every record is stored or quarantined with a reason" hold in one
place.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase

from feedbackloop.db import audit
from feedbackloop.db.models import Quarantine

Row = Mapping[str, Any]


@dataclass
class UpsertResult:
    written: int = 0
    quarantined: int = 0

    def __iadd__(self, other: UpsertResult) -> UpsertResult:
        self.written += other.written
        self.quarantined += other.quarantined
        return self


def _statement(model: type[DeclarativeBase], key: Sequence[str]) -> Any:
    table = model.__table__
    stmt = pg_insert(table)
    updatable = [c.name for c in table.columns if c.name not in {*key, "id"} and not c.primary_key]
    set_ = {name: stmt.excluded[name] for name in updatable if name != "loaded_at"}
    if "loaded_at" in table.c:
        set_["loaded_at"] = func.now()
    where = None
    if "updated_at" in table.c:
        # Replays and out-of-order pages never overwrite a newer version of the row.
        where = table.c.updated_at < stmt.excluded.updated_at
    return stmt.on_conflict_do_update(index_elements=list(key), set_=set_, where=where)


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
