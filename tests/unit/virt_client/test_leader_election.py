"""Leader election over a Lease, with a fake clock and an in-memory lease API."""

from __future__ import annotations

import asyncio
import copy
from typing import Any, cast

import pytest

from tests.support.wait import wait_for_async
from virt_client.clock import FakeClock
from virt_client.errors import AlreadyExists, Conflict, NotFound, TransportError
from virt_client.kube import KubeClient
from virt_client.leader_election import LeaderElectionConfig, LeaderElector, LeaderLost
from virt_client.resources import ResourceRef


class FakeLeaseApi:
    """One Lease store with resourceVersion checks, as the API server does them."""

    def __init__(self) -> None:
        self.leases: dict[str, dict[str, Any]] = {}
        self.rv = 0
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise TransportError("connection refused")

    async def get(self, ref: ResourceRef, name: str, namespace: str | None = None) -> dict[str, Any]:
        self._check()
        if name not in self.leases:
            raise NotFound(404)
        return copy.deepcopy(self.leases[name])

    async def create(self, ref: ResourceRef, body: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        self._check()
        name = body["metadata"]["name"]
        if name in self.leases:
            raise AlreadyExists(409, "AlreadyExists")
        self.rv += 1
        self.leases[name] = {**copy.deepcopy(body), "metadata": {**body["metadata"], "resourceVersion": str(self.rv)}}
        return copy.deepcopy(self.leases[name])

    async def update(self, ref: ResourceRef, body: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        self._check()
        name = body["metadata"]["name"]
        if self.leases[name]["metadata"]["resourceVersion"] != body["metadata"].get("resourceVersion"):
            raise Conflict(409, "Conflict")
        self.rv += 1
        self.leases[name] = copy.deepcopy(body)
        self.leases[name]["metadata"]["resourceVersion"] = str(self.rv)
        return copy.deepcopy(self.leases[name])

    def holder(self) -> str:
        return str(self.leases.get("ctl", {}).get("spec", {}).get("holderIdentity", ""))


def elector(api: FakeLeaseApi, identity: str, clock: FakeClock) -> LeaderElector:
    cfg = LeaderElectionConfig(namespace="kubevirt", name="ctl", identity=identity,
                               lease_duration=15, renew_deadline=10, retry_period=2)
    return LeaderElector(cast(KubeClient, api), cfg, clock=clock)


async def advance(clock: FakeClock, seconds: float, step: float = 0.5) -> None:
    for _ in range(int(seconds / step)):
        clock.advance(step)
        for _ in range(20):
            await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("kwargs"),
    [dict(lease_duration=10, renew_deadline=10, retry_period=2), dict(lease_duration=15, renew_deadline=1,
     retry_period=2), dict(identity="")],
    ids=["deadline-not-below-duration", "retry-above-deadline", "no-identity"],
)
def test_config_is_validated(kwargs: dict[str, Any]) -> None:
    base: dict[str, Any] = dict(namespace="n", name="l", identity="a")
    with pytest.raises(ValueError):
        LeaderElectionConfig(**{**base, **kwargs})


async def test_first_candidate_creates_the_lease() -> None:
    api = FakeLeaseApi()
    a = elector(api, "a", FakeClock())
    assert await a.try_acquire_or_renew()
    assert api.holder() == "a"
    assert api.leases["ctl"]["spec"]["leaseTransitions"] == 0


async def test_second_candidate_waits_for_expiry_then_takes_over() -> None:
    api = FakeLeaseApi()
    clock = FakeClock()
    a, b = elector(api, "a", clock), elector(api, "b", clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    clock.advance(14)
    assert not await b.try_acquire_or_renew(), "the lease is still valid"
    clock.advance(2)
    assert await b.try_acquire_or_renew()
    assert api.holder() == "b"
    assert api.leases["ctl"]["spec"]["leaseTransitions"] == 1
    assert not await a.try_acquire_or_renew()


async def test_renewals_keep_the_lease() -> None:
    api = FakeLeaseApi()
    clock = FakeClock()
    a, b = elector(api, "a", clock), elector(api, "b", clock)
    assert await a.try_acquire_or_renew()
    for _ in range(20):
        clock.advance(2)
        assert await a.try_acquire_or_renew()
        assert not await b.try_acquire_or_renew()


async def test_run_leads_and_releases_on_cancel() -> None:
    api = FakeLeaseApi()
    clock = FakeClock()
    a = elector(api, "a", clock)
    leading = asyncio.Event()

    async def lead() -> None:
        leading.set()
        await asyncio.Future()

    task = asyncio.create_task(a.run(lead))
    await asyncio.wait_for(leading.wait(), 5)
    assert a.is_leader
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert api.holder() == "", "a released lease lets the next candidate in at once"
    b = elector(api, "b", clock)
    assert await b.try_acquire_or_renew()


async def test_losing_the_api_stops_the_leader() -> None:
    api = FakeLeaseApi()
    clock = FakeClock()
    a = elector(api, "a", clock)
    cancelled = asyncio.Event()

    async def lead() -> None:
        try:
            await asyncio.Future()
        finally:
            cancelled.set()

    task = asyncio.create_task(a.run(lead))
    await wait_for_async(lambda: a.is_leader, interval=0)
    await advance(clock, 6)
    assert not task.done()
    api.down = True
    await advance(clock, 12)
    await wait_for_async(task.done, interval=0)
    with pytest.raises(LeaderLost):
        task.result()
    assert cancelled.is_set() and not a.is_leader


async def test_a_dead_leader_is_replaced_after_the_lease_duration_plus_at_most_one_retry_period() -> None:
    """client-go semantics: expiry counts from the last change the candidate observed, which it polls
    every retry period; so the hand-over comes after one lease duration and within one more retry."""
    api = FakeLeaseApi()
    clock = FakeClock()
    a, b = elector(api, "a", clock), elector(api, "b", clock)
    assert await a.try_acquire_or_renew()
    killed_at = clock.monotonic()  # a never renews again
    led_at: list[float] = []

    async def lead() -> None:
        led_at.append(clock.monotonic())
        await asyncio.Future()

    task = asyncio.create_task(b.run(lead))
    try:
        while not led_at and clock.monotonic() - killed_at < 60:
            await advance(clock, 0.5, step=0.25)
        assert led_at, "b never took over"
        assert 15 <= led_at[0] - killed_at <= 15 + 2, f"hand-over after {led_at[0] - killed_at}s"
        assert api.holder() == "b"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
