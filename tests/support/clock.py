"""The fixed instant tests generate their demo datasets at and treat as now: one value, so a
dataset built with the same seed is the same in every test file."""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2026, 11, 1, tzinfo=UTC)
