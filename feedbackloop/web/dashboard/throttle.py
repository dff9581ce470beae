"""Failed dashboard logins, counted per client address and per user name.

The first `FREE_FAILURES` failures of a key cost nothing; the one that reaches the limit locks
the key for `BASE_LOCK_SECONDS`, and every failure after a lock doubles it, up to
`MAX_LOCK_SECONDS`. While a key is locked, nothing is checked: the answer is 429 with
``Retry-After``, also for the right password, so guessing gains nothing from being fast. A
key's count is forgotten `FORGET_SECONDS` after its last failure, and a success clears the
address's and the user's counts.

Per address stops one client guessing many names; per user stops many clients guessing one
password. The counts live in memory (one process: `feedbackloop web` runs one); a restart
forgets them, and the durable record is `ops.login_failures`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["BASE_LOCK_SECONDS", "FREE_FAILURES", "MAX_LOCK_SECONDS", "LoginThrottle"]

FREE_FAILURES = 5
BASE_LOCK_SECONDS = 30.0
MAX_LOCK_SECONDS = 900.0
FORGET_SECONDS = 900.0
# A flood of made-up names or addresses cannot grow the table without bound.
MAX_KEYS = 50_000

Key = tuple[str, str]


@dataclass
class _Strikes:
    failures: int = 0
    last: float = 0.0
    locked_until: float = 0.0


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._strikes: dict[Key, _Strikes] = {}

    def retry_after(self, keys: Iterable[Key]) -> float:
        """Seconds until every key in `keys` is unlocked; 0 when none is locked."""
        now = self._clock()
        waits = [s.locked_until - now for k in keys if (s := self._strikes.get(k)) is not None]
        return max([0.0, *waits])

    def failed(self, keys: Iterable[Key]) -> float:
        """Count a failure against each key; the longest lock it started (0: none)."""
        now = self._clock()
        started = 0.0
        for key in keys:
            strikes = self._strikes.get(key)
            if strikes is None or (
                now - strikes.last > FORGET_SECONDS and now >= strikes.locked_until
            ):
                strikes = self._strikes[key] = _Strikes()
            strikes.failures += 1
            strikes.last = now
            over = strikes.failures - FREE_FAILURES
            if over >= 0:
                # Capped exponent: the float product cannot overflow however long it goes on.
                lock = min(BASE_LOCK_SECONDS * 2 ** min(over, 16), MAX_LOCK_SECONDS)
                strikes.locked_until = now + lock
                started = max(started, lock)
        if len(self._strikes) > MAX_KEYS:
            self._prune(now)
        return started

    def succeeded(self, keys: Iterable[Key]) -> None:
        for key in keys:
            self._strikes.pop(key, None)

    def _prune(self, now: float) -> None:
        stale = [
            k
            for k, s in self._strikes.items()
            if now >= s.locked_until and now - s.last > FORGET_SECONDS
        ]
        for key in stale:
            del self._strikes[key]
        if len(self._strikes) > MAX_KEYS:
            # Still full of live keys: drop the oldest unlocked ones first, locks last.
            order = sorted(
                self._strikes, key=lambda k: (self._strikes[k].locked_until, self._strikes[k].last)
            )
            for key in order[: len(self._strikes) - MAX_KEYS]:
                del self._strikes[key]
