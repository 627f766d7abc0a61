"""Slowing password guessing from one network address, beside the per-account lock-out in `users`.

The lock-out stops many guesses at one account; this stops one address trying a few guesses at many accounts
(or many client credentials). Only failures count, so a busy but honest client is never slowed. The counts are
kept in the memory of one server process: enough to make guessing slow, and nothing to clean up.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

MAX_FAILURES = 20
WINDOW = 600
_MAX_ADDRESSES = 10_000


class GuessLimiter:
    """At most `max_failures` failed attempts per address in any `window` seconds."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: int = WINDOW,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window
        self.now = now
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again, or None when it may try now."""
        times = self._failures.get(address)
        if not times:
            return None
        now = self.now()
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) < self.max_failures:
            return None
        return max(1, math.ceil(times[0] + self.window - now))

    def fail(self, address: str) -> None:
        if address not in self._failures and len(self._failures) >= _MAX_ADDRESSES:
            self._forget_quiet()
        self._failures.setdefault(address, deque(maxlen=self.max_failures)).append(self.now())

    def _forget_quiet(self) -> None:
        cutoff = self.now() - self.window
        for address in [a for a, times in self._failures.items() if not times or times[-1] <= cutoff]:
            del self._failures[address]
        if len(self._failures) >= _MAX_ADDRESSES:  # all busy: drop the oldest address rather than grow
            del self._failures[next(iter(self._failures))]
