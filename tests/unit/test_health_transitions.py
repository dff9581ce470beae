"""Alert on the second failure in a row, once; recover on the first success after an alert."""

from __future__ import annotations

from datetime import timedelta

import pytest

from feedbackloop.monitoring.health import cron_period, transition


def _run(results: list[bool]) -> list[str | None]:
    history: list[bool] = []
    out = []
    for ok in results:
        out.append(transition(history, ok))
        history.insert(0, ok)
    return out


def test_one_failure_does_not_alert() -> None:
    assert _run([True, False, True, True]) == [None, None, None, None]


def test_second_failure_in_a_row_alerts_once_then_recovers() -> None:
    assert _run([True, False, False, False, False, True, True]) == [
        None,
        None,
        "alert",
        None,
        None,
        "recovered",
        None,
    ]


def test_flapping_never_alerts() -> None:
    assert _run([False, True, False, True, False, True]) == [None] * 6


def test_a_new_failure_streak_alerts_again() -> None:
    assert _run([False, False, True, False, False]) == [None, "alert", "recovered", None, "alert"]


@pytest.mark.parametrize(
    ("cron", "period"),
    [
        ("* * * * *", timedelta(minutes=1)),
        ("*/5 * * * *", timedelta(minutes=5)),
        ("7 * * * *", timedelta(hours=1)),
        ("30 2 * * *", timedelta(days=1)),
        ("0 9 * * 1", timedelta(days=7)),
    ],
)
def test_cron_period(cron: str, period: timedelta) -> None:
    assert cron_period(cron) == period
