"""Leader election on a `coordination.k8s.io/v1` Lease, with client-go semantics.

`LeaderElector.run(lead)` waits until this process holds the lease, runs `lead()` while renewing
it every `retry_period`, and:
- if renewal has not succeeded for `renew_deadline`, cancels `lead()` and raises `LeaderLost`
  (the process should exit: its controllers may act on a world another leader now owns);
- if `lead()` returns or `run()` is cancelled, releases the lease (empty holder) so a successor
  takes over at once instead of waiting for expiry.

Expiry is judged as client-go does, on the local monotonic clock from the moment this candidate
last saw the lease record change, so clock skew between machines does not matter. Writes are
optimistic (resourceVersion), so two candidates can never both believe they acquired it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from virt_client.api.times import rfc3339_micro
from virt_client.clock import Clock, RealClock
from virt_client.errors import ClientError, Conflict, NotFound
from virt_client.kube_api import KubeApi
from virt_client.metrics import LEADER
from virt_client.resources import LEASES

log = logging.getLogger(__name__)


class LeaderLost(Exception):
    """The lease could not be renewed in time; leadership is gone."""


@dataclass(frozen=True)
class LeaderElectionConfig:
    namespace: str
    name: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not (self.lease_duration > self.renew_deadline > self.retry_period > 0):
            raise ValueError("need lease_duration > renew_deadline > retry_period > 0")
        if not self.identity:
            raise ValueError("leader election needs a non-empty identity")


class LeaderElector:
    """One candidate for one lease."""

    def __init__(self, client: KubeApi, config: LeaderElectionConfig, *, clock: Clock | None = None) -> None:
        self.client = client
        self.config = config
        self._clock = clock or RealClock()
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._leader = False
        self._gauge = LEADER.labels(config.name)

    @property
    def is_leader(self) -> bool:
        return self._leader

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        """Acquire, run `lead()` while leading, release; raise `LeaderLost` if renewal fails."""
        await self.wait_for_leadership()
        try:
            async with asyncio.TaskGroup() as tg:
                renewer = tg.create_task(self._renew_loop())
                try:
                    await lead()
                finally:
                    renewer.cancel()
        except* LeaderLost:
            raise LeaderLost(f"lost lease {self.config.namespace}/{self.config.name}") from None
        finally:
            await self._release()

    async def wait_for_leadership(self) -> None:
        """Block until this candidate holds the lease."""
        cfg = self.config
        log.info("leader election: %s waiting for lease %s/%s", cfg.identity, cfg.namespace, cfg.name)
        while not await self._try_safely():
            await self._clock.sleep(cfg.retry_period * random.uniform(1.0, 1.2))
        log.info("leader election: %s acquired lease %s/%s", cfg.identity, cfg.namespace, cfg.name)

    async def _renew_loop(self) -> None:
        cfg = self.config
        last_renewed = self._clock.monotonic()
        while True:
            await self._clock.sleep(cfg.retry_period)
            if await self._try_safely():
                last_renewed = self._clock.monotonic()
            elif self._clock.monotonic() - last_renewed >= cfg.renew_deadline:
                self._set_leader(False)
                log.error("leader election: %s failed to renew lease %s/%s", cfg.identity, cfg.namespace, cfg.name)
                raise LeaderLost(cfg.name)

    async def _try_safely(self) -> bool:
        try:
            async with asyncio.timeout(self.config.renew_deadline / 2):
                ok = await self.try_acquire_or_renew()
        except (ClientError, TimeoutError) as e:
            log.debug("leader election: attempt failed: %s", e)
            ok = False
        return ok

    async def try_acquire_or_renew(self) -> bool:
        """One attempt; True if this candidate holds the lease afterwards."""
        cfg = self.config
        now = rfc3339_micro(self._clock.now())
        try:
            lease = await self.client.get(LEASES, cfg.name, cfg.namespace)
        except NotFound:
            spec = self._spec(now, acquire_time=now, transitions=0)
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "spec": spec,
                    "metadata": {"name": cfg.name, "namespace": cfg.namespace}}
            try:
                await self.client.create(LEASES, body)
            except Conflict:
                return False
            self._observe(spec)
            return self._set_leader(True)
        spec = lease.get("spec") or {}
        self._observe(spec)
        holder = spec.get("holderIdentity") or ""
        duration = float(spec.get("leaseDurationSeconds") or cfg.lease_duration)
        if holder and holder != cfg.identity and self._observed_at + duration > self._clock.monotonic():
            return self._set_leader(False)
        if holder == cfg.identity:
            new_spec = self._spec(now, spec.get("acquireTime") or now, int(spec.get("leaseTransitions") or 0))
        else:
            new_spec = self._spec(now, now, int(spec.get("leaseTransitions") or 0) + (1 if holder else 0))
        lease["spec"] = new_spec
        try:
            await self.client.update(LEASES, lease)
        except Conflict:
            return self._set_leader(False)
        self._observe(new_spec)
        return self._set_leader(True)

    def _spec(self, now: str, acquire_time: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.config.identity,
            "leaseDurationSeconds": max(1, int(self.config.lease_duration)),
            "acquireTime": acquire_time,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    def _observe(self, spec: dict[str, Any]) -> None:
        record = (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("leaseTransitions"))
        if record != self._observed:
            self._observed = record
            self._observed_at = self._clock.monotonic()

    def _set_leader(self, leader: bool) -> bool:
        self._leader = leader
        self._gauge.set(1 if leader else 0)
        return leader

    async def _release(self) -> None:
        """Give the lease up (empty holder, 1 s duration) if we still hold it."""
        if not self._leader:
            return
        self._set_leader(False)
        cfg = self.config
        try:
            async with asyncio.timeout(cfg.retry_period):
                lease = await self.client.get(LEASES, cfg.name, cfg.namespace)
                spec = lease.get("spec") or {}
                if spec.get("holderIdentity") != cfg.identity:
                    return
                now = rfc3339_micro(self._clock.now())
                lease["spec"] = {**spec, "holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": now}
                await self.client.update(LEASES, lease)
                log.info("leader election: %s released lease %s/%s", cfg.identity, cfg.namespace, cfg.name)
        except (ClientError, TimeoutError) as e:
            log.warning("leader election: releasing lease %s/%s failed: %s", cfg.namespace, cfg.name, e)
