"""A watcher on a thread of its own for the length of a `with` block: the memory samplers of
the webhook intake test and of benchmarks/loop_bench.py (which imports it as
`tests.support.threads`, so it imports nothing else of the tests)."""

from __future__ import annotations

import threading
from typing import Self


class Watcher:
    """Runs `_watch` on a daemon thread from entering the block until leaving it; `_watch`
    loops until `self._stop` is set, which leaving the block does before it joins the thread."""

    def __init__(self, name: str = "watcher") -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=name, daemon=True)

    def _watch(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
