"""Rate limiters: per-item exponential backoff, token bucket, max-of."""

from __future__ import annotations

import asyncio

import pytest

from virt_client.clock import FakeClock
from virt_client.rate_limiter import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    TokenBucket,
    default_controller_rate_limiter,
)


@pytest.mark.parametrize(
    ("base", "cap", "calls", "expected"),
    [
        (0.005, 1000.0, 4, [0.005, 0.01, 0.02, 0.04]),
        (1.0, 5.0, 5, [1.0, 2.0, 4.0, 5.0, 5.0]),
        (1.0, 1.0, 3, [1.0, 1.0, 1.0]),
    ],
    ids=["client-go-default", "capped", "flat"],
)
def test_exponential_backoff(base: float, cap: float, calls: int, expected: list[float]) -> None:
    limiter = ItemExponentialFailureRateLimiter(base_delay=base, max_delay=cap)
    assert [limiter.when("x") for _ in range(calls)] == pytest.approx(expected)
    assert limiter.num_requeues("x") == calls
    assert limiter.when("other") == pytest.approx(base), "items back off independently"


def test_exponential_backoff_survives_huge_failure_counts() -> None:
    limiter = ItemExponentialFailureRateLimiter(base_delay=0.005, max_delay=1000)
    delays = [limiter.when("x") for _ in range(200)]
    assert delays[-1] == 1000


def test_forget_resets_backoff() -> None:
    limiter = ItemExponentialFailureRateLimiter(base_delay=1, max_delay=100)
    limiter.when("x")
    limiter.when("x")
    limiter.forget("x")
    assert limiter.num_requeues("x") == 0
    assert limiter.when("x") == 1


@pytest.mark.parametrize(
    ("qps", "burst", "takes", "advance", "expected_last"),
    [
        (10.0, 3, 3, 0.0, 0.0),
        (10.0, 3, 4, 0.0, 0.1),
        (10.0, 3, 5, 0.0, 0.2),
        (10.0, 3, 5, 0.1, 0.1),
        (1.0, 1, 2, 5.0, 0.0),
    ],
    ids=["within-burst", "first-over-burst", "debt-accumulates", "refill-pays-debt", "refill-capped"],
)
def test_token_bucket(qps: float, burst: int, takes: int, advance: float, expected_last: float) -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=qps, burst=burst, clock=clock)
    delays = [bucket.reserve() for _ in range(takes - 1)]
    clock.advance(advance)
    delays.append(bucket.reserve())
    assert delays[-1] == pytest.approx(expected_last)


def test_token_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(qps=0, burst=1)
    with pytest.raises(ValueError):
        TokenBucket(qps=1, burst=0)


def test_try_take() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=1, burst=1, clock=clock)
    assert bucket.try_take()
    assert not bucket.try_take()
    clock.advance(1)
    assert bucket.try_take()


async def test_token_bucket_wait_uses_the_clock() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=2, burst=1, clock=clock)
    await bucket.wait()
    waiter = asyncio.create_task(bucket.wait())
    for _ in range(100):
        if clock.pending_timers:
            break
        await asyncio.sleep(0)
    assert not waiter.done()
    clock.advance(0.5)
    await asyncio.wait_for(waiter, 5)


def test_max_of_takes_the_longest_delay() -> None:
    clock = FakeClock()
    limiter = MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(base_delay=0.001, max_delay=10),
        BucketRateLimiter(TokenBucket(qps=1, burst=1, clock=clock)),
    )
    assert limiter.when("a") == pytest.approx(0.001)
    assert limiter.when("b") == pytest.approx(1.0), "bucket exhausted: the overall limit wins"
    assert limiter.num_requeues("a") == 1
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0


def test_default_controller_rate_limiter() -> None:
    limiter = default_controller_rate_limiter(FakeClock())
    assert limiter.when("a") == pytest.approx(0.005)
    assert limiter.when("a") == pytest.approx(0.01)
