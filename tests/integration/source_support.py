"""What the connector tests share: an injected sleep that records instead of waiting, and the
options every test client gets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from feedbackloop.http import RetryPolicy, engine_usage_recorder


class Sleeps(list[float]):
    """The injected sleep: records every wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_options(
    engine: Engine, sleeps: Sleeps | None, options: dict[str, Any]
) -> dict[str, Any]:
    """Keyword arguments for a connector's client: quick retries unless `options` sets its own,
    calls recorded in ops.api_usage, waits recorded instead of slept, no jitter."""
    return {
        "retry": RetryPolicy(max_retries=5, backoff_base=1.0),
        "on_call": engine_usage_recorder(engine),
        "sleep": sleeps if sleeps is not None else Sleeps(),
        "rand": lambda: 0.5,
        **options,
    }
