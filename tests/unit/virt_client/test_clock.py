"""Fake clock ordering: timers fire in deadline order, sleepers wake on advance."""

from __future__ import annotations

import asyncio

from virt_client.clock import FakeClock


def test_fake_clock_fires_timers_in_order_and_moves_wall_time() -> None:
    clock = FakeClock()
    fired: list[tuple[str, float]] = []
    start_wall = clock.now()
    clock.call_later(3, lambda: fired.append(("c", clock.monotonic())))
    clock.call_later(1, lambda: fired.append(("a", clock.monotonic())))
    cancelled = clock.call_later(2, lambda: fired.append(("x", clock.monotonic())))
    clock.call_later(1, lambda: fired.append(("b", clock.monotonic())))
    cancelled.cancel()
    clock.advance(2.5)
    assert [name for name, _ in fired] == ["a", "b"]
    assert fired[0][1] == 1001.0
    clock.advance(1)
    assert [name for name, _ in fired] == ["a", "b", "c"]
    assert (clock.now() - start_wall).total_seconds() == 3.5
    assert clock.pending_timers == 0


async def test_fake_sleep_wakes_on_advance() -> None:
    clock = FakeClock()
    task = asyncio.create_task(clock.sleep(5))
    await asyncio.sleep(0)
    clock.advance(4)
    await asyncio.sleep(0)
    assert not task.done()
    clock.advance(1)
    await asyncio.wait_for(task, 5)

