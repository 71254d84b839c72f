"""Rate-limited work queue with client-go semantics.

Keys (usually "namespace/name") are added by event handlers and taken by workers:

- A key sits in the queue at most once: adding it again before a worker takes it is a no-op (the
  burst of updates to one object is coalesced into one reconcile).
- A key is never handed to two workers at once: while it is being processed (between `get()` and
  `done()`), re-adds are recorded in the dirty set and the key is queued again at `done()`; they are
  deferred, never lost.
- `add_after()` schedules an add on the injected clock; of several pending delays for one key the
  earliest wins. `add_rate_limited()` uses the rate limiter (per-item backoff + overall bucket);
  `forget()` resets the item's backoff.
- After `shut_down()` further adds are ignored and `get()` returns None as soon as the keys already
  queued are taken; `shut_down_with_drain()` also waits for keys in flight to be `done()`.

The queue is single-event-loop and lock-free: every method except `get()` and
`shut_down_with_drain()` is synchronous and cheap, so handlers can call it from any callback.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from virt_client.clock import Clock, RealClock, Timer
from virt_client.metrics import workqueue_metrics
from virt_client.rate_limiter import RateLimiter, default_controller_rate_limiter

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    """A deduplicating, delaying, rate-limited FIFO of keys."""

    def __init__(
        self,
        *,
        name: str = "",
        clock: Clock | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self.name = name
        self._clock = clock or RealClock()
        self._limiter = rate_limiter or default_controller_rate_limiter(self._clock)
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._drained: asyncio.Future[None] | None = None
        self._shutting_down = False
        # Delayed adds: a heap of (ready_at, seq, key); `_waiting` holds each key's earliest time,
        # heap entries that disagree with it are stale and skipped.
        self._heap: list[tuple[float, int, K]] = []
        self._waiting: dict[K, float] = {}
        self._seq = itertools.count()
        self._timer: Timer | None = None
        self._timer_at = float("inf")
        m = workqueue_metrics(name) if name else None
        if m is not None:
            # Depth is read at scrape time rather than counted on every add and get.
            m.depth.set_function(lambda: len(self._queue))
        self._m_adds = m.adds if m else None
        self._m_retries = m.retries if m else None

    # -- adding -------------------------------------------------------------------------------

    def add(self, key: K) -> None:
        """Queue `key` unless it is queued already; defer it if a worker holds it."""
        if self._shutting_down or key in self._dirty:
            return
        if self._m_adds is not None:
            self._m_adds.inc()
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._wake_one()

    def add_after(self, key: K, delay: float) -> None:
        """Add `key` once `delay` seconds have passed on the clock."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        ready_at = self._clock.monotonic() + delay
        current = self._waiting.get(key)
        if current is not None and current <= ready_at:
            return
        self._waiting[key] = ready_at
        heapq.heappush(self._heap, (ready_at, next(self._seq), key))
        self._arm_timer()

    def add_rate_limited(self, key: K) -> None:
        """Add `key` after the delay the rate limiter assigns to its next retry."""
        if self._m_retries is not None:
            self._m_retries.inc()
        self.add_after(key, self._limiter.when(key))

    def forget(self, key: K) -> None:
        """The key succeeded: reset its backoff."""
        self._limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return self._limiter.num_requeues(key)

    # -- taking -------------------------------------------------------------------------------

    async def get(self) -> K | None:
        """Take the next key, waiting for one; None once the queue is shut down."""
        while not self._queue:
            if self._shutting_down:
                return None
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut in self._waiters:
                    self._waiters.remove(fut)
                elif self._queue:  # we were woken for an item we will not take: pass it on
                    self._wake_one()
                raise
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def get_nowait(self) -> K | None:
        """Take the next key if one is queued, without waiting."""
        if not self._queue:
            return None
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: K) -> None:
        """A worker finished `key`; queue it again if it was re-added meanwhile."""
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake_one()
        elif not self._processing and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # -- state and shutdown -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def processing(self) -> int:
        return len(self._processing)

    @property
    def waiting(self) -> int:
        """Keys scheduled by `add_after` and not yet added."""
        return len(self._waiting)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def shut_down(self) -> None:
        """Stop accepting keys; waiting `get()` calls return None; delayed adds are dropped."""
        self._shutting_down = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
        self._waiting.clear()
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)

    async def shut_down_with_drain(self) -> None:
        """Shut down, then wait until every key handed out has been `done()`."""
        self.shut_down()
        if self._processing:
            self._drained = asyncio.get_running_loop().create_future()
            await self._drained

    # -- internals ----------------------------------------------------------------------------

    def _wake_one(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def _arm_timer(self) -> None:
        if not self._heap:
            return
        ready_at = self._heap[0][0]
        if self._timer is not None and self._timer_at <= ready_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = ready_at
        self._timer = self._clock.call_later(ready_at - self._clock.monotonic(), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = float("inf")
        now = self._clock.monotonic()
        while self._heap and self._heap[0][0] <= now:
            ready_at, _, key = heapq.heappop(self._heap)
            if self._waiting.get(key) != ready_at:
                continue
            del self._waiting[key]
            self.add(key)
        self._arm_timer()
