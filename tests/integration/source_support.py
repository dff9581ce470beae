"""What the connector tests share: an injected sleep that records instead of waiting, and a
count query."""

from __future__ import annotations

from sqlalchemy import Engine, text


class Sleeps(list[float]):
    """The injected sleep: records every wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())
