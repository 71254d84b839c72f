"""Controller runner: N workers taking keys from a rate-limited queue and reconciling them.

A controller supplies one `async def reconcile(key) -> Result`:
- `DONE` — the key is in its desired state; its backoff is forgotten.
- `RequeueAfter(seconds)` — look again later (polling a condition); backoff is forgotten too.
- `ReconcileError(reason, message)` — an expected failure (`reconcile.py`): logged as one structured
  line with its reason, no traceback, and retried with the queue's per-key exponential backoff.
- any other exception — logged with its traceback (none for client errors) and retried the same way.

Invariants: the queue guarantees one worker per key; workers start only after every informer
given has synced; cancelling `run()` (or losing leadership, which cancels it) stops the workers
and shuts the queue down; nothing outlives `run()`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from virt_client.clock import Clock, RealClock
from virt_client.errors import ClientError
from virt_client.indexer import object_key
from virt_client.informer import EventHandler, Informer, wait_for_cache_sync
from virt_client.logs import FIELDS
from virt_client.metrics import RECONCILE_SECONDS, RECONCILES
from virt_client.rate_limiter import RateLimiter
from virt_client.reconcile import ReconcileError
from virt_client.workqueue import WorkQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Done:
    """The key needs nothing more until something changes."""


@dataclass(frozen=True)
class RequeueAfter:
    """Reconcile the key again after `seconds`."""

    seconds: float


Result = Done | RequeueAfter
DONE: Final = Done()
Reconcile = Callable[[str], Awaitable[Result]]


class Controller:
    """Runs `reconcile` for queued keys on `workers` concurrent workers."""

    def __init__(
        self,
        *,
        name: str,
        reconcile: Reconcile,
        workers: int = 1,
        informers: Sequence[Informer] = (),
        clock: Clock | None = None,
        rate_limiter: RateLimiter | None = None,
        queue: WorkQueue[str] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("a controller needs at least one worker")
        self.name = name
        self.workers = workers
        self._reconcile = reconcile
        self._informers = tuple(informers)
        self._clock = clock or RealClock()
        self.queue: WorkQueue[str] = queue or WorkQueue(name=name, clock=self._clock, rate_limiter=rate_limiter)
        self._m_seconds = RECONCILE_SECONDS.labels(name)
        self._m_results = {r: RECONCILES.labels(name, r) for r in ("done", "requeue_after", "error")}

    # -- feeding the queue ----------------------------------------------------------------------

    def enqueue(self, obj: Mapping[str, Any]) -> None:
        """Queue the key of an object."""
        self.queue.add(object_key(obj))

    def enqueue_key(self, key: str) -> None:
        self.queue.add(key)

    def handler(self) -> EventHandler:
        """An event handler that queues the key of every added, updated or deleted object."""
        return EventHandler(
            on_add=self.enqueue,
            on_update=lambda old, new: self.enqueue(new),
            on_delete=self.enqueue,
        )

    # -- running --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Wait for the caches, then process keys until cancelled."""
        try:
            await wait_for_cache_sync(self._informers)
            log.info("controller %s: caches synced, starting %d workers", self.name, self.workers)
            async with asyncio.TaskGroup() as tg:
                for i in range(self.workers):
                    tg.create_task(self._worker(), name=f"{self.name}-worker-{i}")
        finally:
            self.queue.shut_down()

    async def _worker(self) -> None:
        while (key := await self.queue.get()) is not None:
            try:
                await self.process(key)
            finally:
                self.queue.done(key)

    async def process(self, key: str) -> None:
        """Reconcile one key taken from the queue and requeue it as its result says."""
        started = self._clock.monotonic()
        try:
            result = await self._reconcile(key)
        except asyncio.CancelledError:
            raise
        except ReconcileError as e:
            self._m_results["error"].inc()
            log.warning(
                "controller %s: reconcile %s: %s: %s",
                self.name,
                key,
                e.reason,
                e.message,
                extra={FIELDS: {"controller": self.name, "key": key, "reason": e.reason,
                                "retry": self.queue.num_requeues(key) + 1}},
            )
            self.queue.add_rate_limited(key)
            return
        except Exception as e:
            self._m_results["error"].inc()
            retries = self.queue.num_requeues(key)
            log.warning(
                "controller %s: reconcile %s failed (retry %d): %s",
                self.name,
                key,
                retries + 1,
                e,
                exc_info=not _expected(e),
            )
            self.queue.add_rate_limited(key)
            return
        finally:
            self._m_seconds.observe(max(0.0, self._clock.monotonic() - started))
        self.queue.forget(key)
        if isinstance(result, RequeueAfter):
            self._m_results["requeue_after"].inc()
            self.queue.add_after(key, result.seconds)
        else:
            self._m_results["done"].inc()


def _expected(e: Exception) -> bool:
    """Errors that are part of normal operation and need no traceback in the log."""
    return isinstance(e, ClientError)
