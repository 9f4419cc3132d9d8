"""The pool's pace: one global rate in messages per second, shared by every connection.

Kept apart from the pool (pool.py) because it is pure timing: it knows nothing of
SMTP, only of slow-down signals and the clock, and can be tested with a clock alone.

The pace follows TCP's congestion control (AIMD): each slow-down signal about the sender
or the connection halves it (a burst of signals within a second counts once), and every
second without one adds a fixed step back, so a passing storm costs seconds, not the run.
It never goes below 1 msg/s (or the configured `rate`, if that is lower): a relay that
wants less says so with 421s, and the pool reconnects rather than crawling. A reply about
one recipient (greylisting, a full mailbox) is not a signal at all: that recipient waits
for its own retry (send/jobs.py) while everyone else goes on at full pace.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable

__all__ = ["RateLimiter"]

FLOOR = 1.0  # msgs/s: the pace never goes lower unless the configured rate is lower
RECOVERY_SECONDS = 10.0  # clean seconds to climb back from nothing to the target pace


class RateLimiter:
    """A global pace in messages per second: halved per slow-down signal, regained per clean second.

    Each `wait` reserves the next free slot, so concurrent workers share one pace.
    Without a configured rate the pool runs unpaced until the first signal, then at half
    the rate it was achieving, and unpaced again once it has climbed back to that rate.
    `slowdowns` counts the signals that lowered the pace, by reason, for the report.
    """

    def __init__(self, rate: float | None, *, guess: float = 8.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = rate
        self.guess = guess  # msgs/s assumed when throttled before anything was delivered
        self.rate = rate
        self.floor = min(FLOOR, rate) if rate else FLOOR
        self.clock = clock
        self.slowdowns: Counter[str] = Counter()
        self.lowest = rate
        self._target = rate  # where additive increase stops (None: unpaced again)
        self._next = 0.0
        self._last_signal = -1e9
        self._last_step = clock()
        self._recent: deque[float] = deque(maxlen=8192)

    @property
    def throttles(self) -> int:
        """How many times the pace was lowered."""
        return sum(self.slowdowns.values())

    async def wait(self, stop: asyncio.Event) -> bool:
        """Sleep until this caller's slot; False if `stop` was set meanwhile."""
        self._recover()
        if self.rate is None:
            return not stop.is_set()
        now = self.clock()
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
        """A message went: remembered to estimate the achieved rate if a signal comes unpaced."""
        self._recent.append(self.clock())
        self._recover()

    def _recover(self) -> None:
        """Additive increase: one step per clean second since the last signal or step."""
        now = self.clock()
        elapsed = now - max(self._last_step, self._last_signal)
        self._last_step = now
        if self.rate is None or elapsed <= 0:
            return
        target = self.ceiling if self.ceiling is not None else self._target
        if target is None:
            return
        self.rate = min(target, self.rate + elapsed * target / RECOVERY_SECONDS)
        if self.ceiling is None and self.rate >= target:
            self.rate = self._target = None  # back where it was before the signal: unpaced again

    def slow_down(self, reason: str) -> bool:
        """Multiplicative decrease for a sender/connection signal; False when within a second of the last."""
        now = self.clock()
        self._recover()
        if now - self._last_signal < 1.0:
            return False
        self._last_signal = now
        self.slowdowns[reason] += 1
        if self.rate is None:
            recent = [t for t in self._recent if now - t <= 2.0]
            span = min(2.0, max(0.25, now - recent[0])) if recent else 2.0
            base = max(FLOOR, len(recent) / span) if recent else self.guess  # what the pool achieved just now
            self._target = base
        else:
            base = self.rate
        self.rate = max(self.floor, base / 2)
        self.lowest = self.rate if self.lowest is None else min(self.lowest, self.rate)
        self._next = max(self._next, now + 1.0 / self.rate)
        return True
