"""Row counts per table, for the demo summary and `feedbackloop db status`."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from feedbackloop.db.models import Base


def row_counts(engine: Engine, schemas: tuple[str, ...] = ("raw", "ops", "nlp")) -> dict[str, int]:
    """`schema.table` -> rows, for every mapped table in `schemas`."""
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.schema in schemas:
                counts[f"{table.schema}.{table.name}"] = conn.execute(
                    select(func.count()).select_from(table)
                ).scalar_one()
    return counts
