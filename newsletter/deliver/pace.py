"""The pool's pace: one global rate in messages per second, shared by every connection.

Kept apart from the pool (pool.py) because it is pure timing: it knows nothing of
SMTP, only of successes and throttling replies, and can be tested with a clock alone.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

__all__ = ["RateLimiter"]


class RateLimiter:
    """A global pace in messages per second, halved on throttling replies and regained slowly.

    Each `wait` reserves the next free slot, so concurrent workers share one pace.
    Without a configured rate the pool runs unpaced until the first throttling reply,
    then at half the rate it was achieving, recovering 1% (+0.05) per success until it is
    back to four times that (then unpaced again).
    """

    def __init__(self, rate: float | None, *, floor: float = 0.2, guess: float = 8.0) -> None:
        self.ceiling = rate
        self.guess = guess  # msgs/s assumed when throttled before anything was delivered
        self.rate = rate
        self.floor = floor
        self.throttles = 0
        self._next = 0.0
        self._unpace_at: float | None = None
        self._last_throttle = -1e9
        self._recent: deque[float] = deque(maxlen=8192)

    async def wait(self, stop: asyncio.Event) -> bool:
        """Sleep until this caller's slot; False if `stop` was set meanwhile."""
        if self.rate is None:
            return not stop.is_set()
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + 1.0 / self.rate
        if slot > now:
            try:
                await asyncio.wait_for(stop.wait(), slot - now)
                return False
            except TimeoutError:
                pass
        return not stop.is_set()

    def succeeded(self) -> None:
        self._recent.append(time.monotonic())
        if self.rate is None:
            return
        self.rate = self.rate * 1.01 + 0.05
        if self.ceiling is not None and self.rate >= self.ceiling:
            self.rate = self.ceiling
        elif self.ceiling is None and self._unpace_at is not None and self.rate >= self._unpace_at:
            self.rate = None

    def throttled(self) -> bool:
        """Lower the pace; False when it was already lowered in the last second (one burst)."""
        now = time.monotonic()
        if now - self._last_throttle < 1.0:
            return False
        self._last_throttle = now
        self.throttles += 1
        if self.rate is None:
            recent = [t for t in self._recent if now - t <= 2.0]
            span = min(2.0, max(0.25, now - recent[0])) if recent else 2.0
            base = max(1.0, len(recent) / span) if recent else self.guess  # what the pool achieved just now
            self._unpace_at = base * 4
        else:
            base = self.rate
        self.rate = max(self.floor, base / 2)
        self._next = max(self._next, now + 1.0 / self.rate)
        return True
