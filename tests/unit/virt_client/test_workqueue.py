"""Work queue semantics (client-go): dedupe, deferral while processing, delays, backoff, shutdown."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.wait import wait_for_async
from virt_client.clock import FakeClock
from virt_client.rate_limiter import ItemExponentialFailureRateLimiter
from virt_client.workqueue import WorkQueue


def make_queue(clock: FakeClock | None = None) -> WorkQueue[str]:
    return WorkQueue(clock=clock or FakeClock(), rate_limiter=ItemExponentialFailureRateLimiter(base_delay=1, max_delay=8))


def drain(q: WorkQueue[str]) -> list[str]:
    out = []
    while (key := q.get_nowait()) is not None:
        out.append(key)
        q.done(key)
    return out


@pytest.mark.parametrize(
    ("adds", "expected"),
    [
        (["a"], ["a"]),
        (["a", "a", "a"], ["a"]),
        (["a", "b", "a", "c", "b"], ["a", "b", "c"]),
        ([], []),
    ],
    ids=["one", "burst-coalesced", "fifo-dedupe", "empty"],
)
def test_add_deduplicates_in_fifo_order(adds: list[str], expected: list[str]) -> None:
    q = make_queue()
    for key in adds:
        q.add(key)
    assert drain(q) == expected


def test_readd_while_processing_is_deferred_until_done() -> None:
    q = make_queue()
    q.add("a")
    assert q.get_nowait() == "a"
    q.add("a")
    q.add("a")
    assert len(q) == 0, "a key being processed must not be handed out again"
    q.done("a")
    assert len(q) == 1
    assert q.get_nowait() == "a"
    q.done("a")
    assert len(q) == 0


async def test_key_is_never_processed_by_two_workers() -> None:
    q = make_queue()
    active: set[str] = set()
    overlaps = 0
    processed = 0

    async def worker() -> None:
        nonlocal overlaps, processed
        while (key := await q.get()) is not None:
            if key in active:
                overlaps += 1
            active.add(key)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            active.discard(key)
            processed += 1
            q.done(key)

    async with asyncio.TaskGroup() as tg:
        for _ in range(4):
            tg.create_task(worker())
        for i in range(200):
            q.add(f"k{i % 3}")
            await asyncio.sleep(0)
        await wait_for_async(lambda: len(q) == 0 and q.processing == 0, interval=0)
        q.shut_down()
    assert overlaps == 0
    assert processed >= 3


@pytest.mark.parametrize(
    ("delays", "steps", "expected_ready"),
    [
        ([5.0], [4.9], 0),
        ([5.0], [5.0], 1),
        ([10.0, 2.0], [2.0], 1),
        ([2.0, 10.0], [2.0], 1),
        ([0.0], [0.0], 1),
        ([-1.0], [0.0], 1),
    ],
    ids=["before-deadline", "at-deadline", "earlier-delay-wins", "later-delay-ignored", "zero-is-immediate", "negative"],
)
def test_add_after(delays: list[float], steps: list[float], expected_ready: int) -> None:
    clock = FakeClock()
    q = make_queue(clock)
    for d in delays:
        q.add_after("a", d)
    for s in steps:
        clock.advance(s)
    assert len(q) == expected_ready


def test_add_after_fires_once_for_several_delays() -> None:
    clock = FakeClock()
    q = make_queue(clock)
    q.add_after("a", 10)
    q.add_after("a", 2)
    clock.advance(2)
    assert drain(q) == ["a"]
    clock.advance(20)
    assert len(q) == 0 and q.waiting == 0


def test_rate_limited_backoff_doubles_and_forget_resets() -> None:
    clock = FakeClock()
    q = make_queue(clock)
    waits = []
    for _ in range(5):
        q.add_rate_limited("a")
        waited = 0.0
        while len(q) == 0:
            clock.advance(0.5)
            waited += 0.5
        waits.append(waited)
        drain(q)
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert q.num_requeues("a") == 5
    q.forget("a")
    assert q.num_requeues("a") == 0


async def test_shutdown_wakes_waiters_and_ignores_adds() -> None:
    q = make_queue()
    results: list[str | None] = []

    async def waiter() -> None:
        results.append(await q.get())

    async with asyncio.TaskGroup() as tg:
        tg.create_task(waiter())
        tg.create_task(waiter())
        await wait_for_async(lambda: len(q._waiters) == 2, interval=0)
        q.shut_down()
    assert results == [None, None]
    q.add("a")
    q.add_after("b", 1)
    assert len(q) == 0 and await q.get() is None


async def test_shutdown_hands_out_queued_keys_then_none() -> None:
    q = make_queue()
    q.add("a")
    q.shut_down()
    assert await q.get() == "a"
    assert await q.get() is None


async def test_shutdown_with_drain_waits_for_keys_in_flight() -> None:
    q = make_queue()
    q.add("a")
    key = await q.get()
    drained = asyncio.Event()

    async def drainer() -> None:
        await q.shut_down_with_drain()
        drained.set()

    async with asyncio.TaskGroup() as tg:
        tg.create_task(drainer())
        await wait_for_async(lambda: q.shutting_down, interval=0)
        assert not drained.is_set()
        assert key is not None
        q.done(key)
    assert drained.is_set()


async def test_cancelled_waiter_does_not_swallow_a_wakeup() -> None:
    q = make_queue()
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await wait_for_async(lambda: len(q._waiters) == 2, interval=0)
    q.add("a")  # wakes `first`...
    first.cancel()  # ...which is cancelled before it runs
    got = await asyncio.wait_for(second, 5)
    assert got == "a"
    with pytest.raises(asyncio.CancelledError):
        await first
