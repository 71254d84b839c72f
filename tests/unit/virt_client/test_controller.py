"""Controller runner: results, retries with backoff, requeue-after, one worker per key."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.wait import wait_for_async
from virt_client.clock import FakeClock
from virt_client.controller import DONE, Controller, RequeueAfter, Result
from virt_client.rate_limiter import ItemExponentialFailureRateLimiter


class Script:
    """A reconcile that returns (or raises) scripted outcomes per call and records calls."""

    def __init__(self, outcomes: list[Result | Exception]) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[str] = []

    async def __call__(self, key: str) -> Result:
        self.calls.append(key)
        outcome = self.outcomes.pop(0) if self.outcomes else DONE
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def controller(script: Script, clock: FakeClock, workers: int = 1) -> Controller:
    return Controller(
        name="test", reconcile=script, workers=workers, clock=clock,
        rate_limiter=ItemExponentialFailureRateLimiter(base_delay=1, max_delay=60),
    )


@pytest.mark.parametrize(
    ("outcomes", "advance", "expected_calls", "expected_requeues"),
    [
        ([DONE], 100.0, 1, 0),
        ([RuntimeError("boom"), DONE], 1.0, 2, 0),
        ([RuntimeError("boom"), RuntimeError("again"), DONE], 1.0, 2, 2),
        ([RuntimeError("boom"), RuntimeError("again"), DONE], 3.0, 3, 0),
        ([RequeueAfter(30), DONE], 29.0, 1, 0),
        ([RequeueAfter(30), DONE], 30.0, 2, 0),
    ],
    ids=["done", "error-retried-after-backoff", "second-retry-waits-longer", "second-retry-runs",
         "requeue-after-not-yet", "requeue-after-due"],
)
async def test_results(
    outcomes: list[Result | Exception], advance: float, expected_calls: int, expected_requeues: int
) -> None:
    clock = FakeClock()
    script = Script(outcomes)
    ctrl = controller(script, clock)
    ctrl.enqueue_key("ns/a")
    task = asyncio.create_task(ctrl.run())
    try:
        await wait_for_async(lambda: len(script.calls) == 1 and ctrl.queue.processing == 0, interval=0)
        step = 0.5
        moved = 0.0
        while moved < advance:
            clock.advance(step)
            moved += step
            await wait_for_async(lambda: ctrl.queue.processing == 0 and len(ctrl.queue) == 0, interval=0)
        assert len(script.calls) == expected_calls
        assert ctrl.queue.num_requeues("ns/a") == expected_requeues
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert ctrl.queue.shutting_down


async def test_workers_never_share_a_key_and_bursts_coalesce() -> None:
    clock = FakeClock()
    running: set[str] = set()
    overlap = False
    calls: list[str] = []
    release = asyncio.Event()

    async def reconcile(key: str) -> Result:
        nonlocal overlap
        overlap |= key in running
        running.add(key)
        calls.append(key)
        await release.wait()
        running.discard(key)
        return DONE

    ctrl = Controller(name="burst", reconcile=reconcile, workers=4, clock=clock)
    task = asyncio.create_task(ctrl.run())
    try:
        ctrl.enqueue_key("ns/a")
        await wait_for_async(lambda: calls == ["ns/a"], interval=0)
        for _ in range(50):  # a burst while the key is being processed
            ctrl.enqueue({"metadata": {"namespace": "ns", "name": "a"}})
        release.set()
        await wait_for_async(lambda: len(calls) == 2 and ctrl.queue.processing == 0, interval=0)
        assert len(ctrl.queue) == 0
        assert not overlap
        assert calls == ["ns/a", "ns/a"], "the burst is processed once, after the running reconcile"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_controller_needs_a_worker() -> None:
    with pytest.raises(ValueError):
        Controller(name="x", reconcile=Script([]), workers=0)
