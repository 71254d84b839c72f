"""Rate limiters with client-go semantics: per-item exponential backoff and token buckets.

A rate limiter answers "how long must this item wait before it is retried?" (`when`), counts
retries per item (`num_requeues`) and forgets an item once it succeeds (`forget`). The work queue
uses the default controller limiter: the maximum of a per-item exponential backoff (5 ms doubling
to 1000 s) and an overall token bucket (10 qps, burst 100), exactly as client-go does.

`TokenBucket` is also the client-side QPS/burst limiter of `KubeClient`.

Invariants: limiters are pure over the injected clock; `when()` of the token bucket reserves a
token (the bucket may go into debt, which is the delay); exponential delays never exceed `max_delay`.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

from virt_client.clock import Clock, RealClock


class RateLimiter(Protocol):
    """Decides the delay before an item is retried."""

    def when(self, item: Hashable) -> float: ...

    def forget(self, item: Hashable) -> None: ...

    def num_requeues(self, item: Hashable) -> int: ...


class TokenBucket:
    """A token bucket refilled at `qps` up to `burst`; `reserve()` takes one token now or in debt."""

    def __init__(self, *, qps: float, burst: int, clock: Clock | None = None) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError("token bucket needs qps > 0 and burst >= 1")
        self.qps = qps
        self.burst = burst
        self._clock = clock or RealClock()
        self._tokens = float(burst)
        self._last = self._clock.monotonic()

    def _refill(self) -> None:
        now = self._clock.monotonic()
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.qps)

    def reserve(self) -> float:
        """Take a token; return how many seconds the caller must wait before using it."""
        self._refill()
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def try_take(self) -> bool:
        """Take a token only if one is available now."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    async def wait(self) -> None:
        """Wait until a token is ours."""
        delay = self.reserve()
        if delay > 0:
            await self._clock.sleep(delay)


class ItemExponentialFailureRateLimiter:
    """Delay `base * 2**failures`, capped at `max_delay`, counted per item."""

    def __init__(self, *, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        failures = self._failures.get(item, 0)
        self._failures[item] = failures + 1
        if failures >= 64:  # 2**64 overflows any useful delay
            return self.max_delay
        return min(self.max_delay, self.base_delay * float(2**failures))

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter:
    """An overall limit on retries, whatever the item."""

    def __init__(self, bucket: TokenBucket) -> None:
        self.bucket = bucket

    def when(self, item: Hashable) -> float:
        return self.bucket.reserve()

    def forget(self, item: Hashable) -> None:
        return None

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay of several limiters; every limiter sees every call."""

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise ValueError("MaxOfRateLimiter needs at least one limiter")
        self.limiters = limiters

    def when(self, item: Hashable) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_controller_rate_limiter(clock: Clock | None = None) -> MaxOfRateLimiter:
    """client-go's `DefaultControllerRateLimiter`: 5 ms..1000 s per item, 10 qps / 100 burst overall."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(base_delay=0.005, max_delay=1000.0),
        BucketRateLimiter(TokenBucket(qps=10.0, burst=100, clock=clock)),
    )
