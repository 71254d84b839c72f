"""Injected time: a `Clock` protocol, the real clock and a fake clock for tests.

Everything in `virt_client` that waits or measures time (work queue delays, backoff, lease
renewal, event timestamps, expectation expiry) takes a `Clock`, so tests drive time by hand
instead of sleeping.

Invariants:
- `monotonic()` never goes backwards; it is for durations and deadlines.
- `now()` is wall-clock UTC; it is only for timestamps written to the API (leases, events).
- `FakeClock.advance()` fires due timers in deadline order (ties in scheduling order) and moves
  both `monotonic()` and `now()` by the same amount.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Timer(Protocol):
    """A scheduled callback that can be cancelled before it fires."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Source of time and timers."""

    def monotonic(self) -> float:
        """Seconds on a monotonic scale, for durations and deadlines."""
        ...

    def now(self) -> datetime:
        """Current wall-clock time (timezone-aware, UTC)."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run `callback` on the event loop after `delay` seconds."""
        ...

    async def sleep(self, delay: float) -> None:
        """Wait `delay` seconds."""
        ...


class RealClock:
    """The clock of the running event loop and the system."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay))


@dataclass(order=True)
class _FakeTimer:
    deadline: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that only moves when told to; timers fire synchronously inside `advance()`."""

    def __init__(self, *, start: float = 1000.0, wall: datetime | None = None) -> None:
        self._mono = start
        self._wall = wall or datetime(2024, 1, 1, tzinfo=UTC)
        self._timers: list[_FakeTimer] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self._mono

    def now(self) -> datetime:
        return self._wall

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = _FakeTimer(self._mono + max(0.0, delay), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    async def sleep(self, delay: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        timer = self.call_later(delay, wake)
        try:
            await fut
        finally:
            timer.cancel()

    @property
    def pending_timers(self) -> int:
        """Timers scheduled and not yet fired or cancelled (sleepers included)."""
        return sum(1 for t in self._timers if not t.cancelled)

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer that falls due on the way."""
        target = self._mono + max(0.0, seconds)
        while self._timers and self._timers[0].deadline <= target:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._set(max(self._mono, timer.deadline))
            timer.callback()
        self._set(target)

    def _set(self, mono: float) -> None:
        self._wall += timedelta(seconds=mono - self._mono)
        self._mono = mono
