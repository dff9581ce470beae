"""Progress reporting that library code can call without knowing who is watching.

The CLI installs a sink (a Rich progress bar); flows and tests run with none, and `report` is a
no-op. A module-level sink rather than a context variable because Prefect may run a task in a
worker thread, where context variables set by the CLI are not visible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

Sink = Callable[[str, int, int | None], None]

_sink: Sink | None = None


@contextmanager
def reporting(sink: Sink) -> Iterator[None]:
    global _sink
    previous, _sink = _sink, sink
    try:
        yield
    finally:
        _sink = previous


def report(stage: str, advance: int, total: int | None = None) -> None:
    """`advance` units of `stage` are done (of `total`, when known)."""
    if _sink is not None:
        _sink(stage, advance, total)
