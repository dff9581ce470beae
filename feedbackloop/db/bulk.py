"""Write a batch of rows in one statement: `INSERT ... SELECT ... FROM unnest(arrays)`.

The columns go as arrays, one bound parameter per column whatever the batch size, not one per
value (which psycopg would have to parse for every batch). A `jsonb` column goes as one JSON
array (text) that the server splits: as a `text[]`, psycopg would escape every `"` of the JSON
in Python (about a third of scoring's CPU).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, CursorResult, TextClause, text


@lru_cache(maxsize=64)
def _statement(
    table: str,
    columns: tuple[tuple[str, str], ...],
    ordered: bool,
    on_conflict: str,
    returning: str,
) -> TextClause:
    names = ", ".join(name for name, _ in columns)
    # Positional aliases (c0, c1, ...): a column name that is a keyword cannot clash.
    aliases = ", ".join(f"c{i}" for i in range(len(columns)))
    selected = ", ".join(
        f"CAST(c{i} AS jsonb)" if sql_type == "jsonb" else f"c{i}"
        for i, (_, sql_type) in enumerate(columns)
    )
    arrays = ", ".join(
        # the JSON array's elements, in its order
        f"ARRAY(SELECT e FROM jsonb_array_elements(CAST(:{name} AS jsonb)) "
        "WITH ORDINALITY AS j(e, n) ORDER BY n)"
        if sql_type == "jsonb"
        else f"CAST(:{name} AS {sql_type}[])"
        for name, sql_type in columns
    )
    # WITH ORDINALITY + ORDER BY: rows are inserted in array order, so serial ids follow it.
    if ordered:
        source = f"unnest({arrays}) WITH ORDINALITY AS u({aliases}, n) ORDER BY n"
    else:
        source = f"unnest({arrays}) AS u({aliases})"
    sql = f"INSERT INTO {table} ({names}) SELECT {selected} FROM {source}"
    if on_conflict:
        sql += f" ON CONFLICT {on_conflict}"
    if returning:
        sql += f" RETURNING {returning}"
    return text(sql)


def insert_unnest(
    conn: Connection,
    table: str,
    columns: Mapping[str, str],
    rows: Sequence[Mapping[str, Any]],
    *,
    ordered: bool = False,
    on_conflict: str = "",
    returning: str = "",
) -> CursorResult[Any]:
    """Insert `rows` (dicts with a key per column) into `table` in one statement.

    `columns` maps each column to its PostgreSQL type (`text`, `float8`, `jsonb`, ...);
    `on_conflict` is what follows `ON CONFLICT`, `returning` what follows `RETURNING`; `ordered`
    inserts in the order of `rows`."""
    stmt = _statement(table, tuple(columns.items()), ordered, on_conflict, returning)
    params: dict[str, Any] = {}
    for name, sql_type in columns.items():
        values = [r[name] for r in rows]
        params[name] = json.dumps(values) if sql_type == "jsonb" else values
    return conn.execute(stmt, params)
