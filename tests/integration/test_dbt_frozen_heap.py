"""A dbt build runs with the process's earlier objects left out of the garbage collector's
scans, and hands them back when it ends, whether it passed or failed (real embedded
PostgreSQL, real dbt)."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from demo.generator import generate
from demo.load import load_dataset
from feedbackloop.config import Settings
from feedbackloop.marts import MartsBuildError, build_marts, run_dbt


@contextmanager
def freeze_counts() -> Iterator[list[int]]:
    """The frozen object count at each collection set off inside the block."""
    seen: list[int] = []

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append(gc.get_freeze_count())

    gc.callbacks.append(record)
    try:
        yield seen
    finally:
        gc.callbacks.remove(record)


def test_a_build_collects_without_rescanning_the_heap_from_before(
    engine: Engine, settings: Settings
) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    load_dataset(engine, generate(seed=11, tickets=60, now=now), hash_key=settings.hash_key())
    with freeze_counts() as counts:
        result = build_marts(settings, quiet=True)
    assert result.success and result.passed
    # dbt set off collections with the objects from before frozen (the fingerprint and mark
    # checks around dbt run unfrozen).
    assert counts and max(counts) > 0
    assert gc.get_freeze_count() == 0


def test_a_failing_build_hands_the_heap_back(engine: Engine, settings: Settings) -> None:
    bad = json.dumps({"faq_min_similar": "no_such_column"})
    with freeze_counts() as counts, pytest.raises(MartsBuildError, match="mart_faq_candidates"):
        run_dbt(
            ["build", "--exclude-resource-type", "unit_test", "--vars", bad], settings, quiet=True
        )
    assert counts and max(counts) > 0
    assert gc.get_freeze_count() == 0
