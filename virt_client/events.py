"""Event recorder: core/v1 Events about objects, with repeats aggregated as client-go does.

`recorder.event(obj, "Normal", "Created", "created pod x")` never blocks and never fails the
caller: events are queued (bounded; the excess is dropped and counted) and written by `run()`.
A repeat of the same type/reason/message about the same object from the same component does
not create a new Event: it bumps `count` and `lastTimestamp` of the first one with a merge patch.
If that Event has expired from the server meanwhile, a new one is created.

The decision (create or bump) is the pure `EventAggregator`, tested without a server.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from virt_client.api.times import rfc3339
from virt_client.clock import Clock, RealClock
from virt_client.errors import ClientError, NotFound
from virt_client.kube_api import KubeApi
from virt_client.resources import EVENTS

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"


@dataclass(frozen=True)
class EventKey:
    """What makes two events the same event."""

    kind: str
    namespace: str
    name: str
    uid: str
    type: str
    reason: str
    message: str
    component: str


@dataclass(frozen=True)
class CreateEvent:
    name: str
    count: int = 1


@dataclass(frozen=True)
class BumpEvent:
    name: str
    count: int


class EventAggregator:
    """Remembers recent events (LRU) and decides whether a new one is a repeat."""

    def __init__(self, *, size: int = 4096) -> None:
        self.size = size
        self._seen: OrderedDict[EventKey, tuple[str, int]] = OrderedDict()

    def observe(self, key: EventKey, now: datetime) -> CreateEvent | BumpEvent:
        seen = self._seen.get(key)
        if seen is not None:
            name, count = seen
            self._seen[key] = (name, count + 1)
            self._seen.move_to_end(key)
            return BumpEvent(name, count + 1)
        name = f"{key.name}.{int(now.timestamp() * 1e9):x}"
        self._seen[key] = (name, 1)
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return CreateEvent(name)

    def forget(self, key: EventKey) -> None:
        self._seen.pop(key, None)

    def restart(self, key: EventKey, name: str) -> None:
        """The Event was recreated under `name` with count 1."""
        self._seen[key] = (name, 1)


@dataclass(frozen=True)
class _Pending:
    key: EventKey
    involved: dict[str, Any]
    at: datetime


class EventRecorder:
    """Writes Events for one component (e.g. "virt-controller") on one host."""

    def __init__(
        self,
        client: KubeApi,
        *,
        component: str,
        host: str = "",
        clock: Clock | None = None,
        max_pending: int = 1000,
        aggregator: EventAggregator | None = None,
    ) -> None:
        self.client = client
        self.component = component
        self.host = host
        self._clock = clock or RealClock()
        self._aggregator = aggregator or EventAggregator()
        self._pending: asyncio.Queue[_Pending] = asyncio.Queue(max_pending)
        self.dropped = 0

    def event(self, obj: Mapping[str, Any], type: str, reason: str, message: str) -> None:
        """Queue an event about `obj`; never blocks."""
        metadata = obj.get("metadata") or {}
        involved = {
            "apiVersion": obj.get("apiVersion", ""),
            "kind": obj.get("kind", ""),
            "namespace": metadata.get("namespace", ""),
            "name": metadata.get("name", ""),
            "uid": metadata.get("uid", ""),
            "resourceVersion": metadata.get("resourceVersion", ""),
        }
        key = EventKey(
            involved["kind"], involved["namespace"], involved["name"], involved["uid"],
            type, reason, message[:1024], self.component,
        )
        try:
            self._pending.put_nowait(_Pending(key, {k: v for k, v in involved.items() if v}, self._clock.now()))
        except asyncio.QueueFull:
            self.dropped += 1

    def normal(self, obj: Mapping[str, Any], reason: str, message: str) -> None:
        self.event(obj, NORMAL, reason, message)

    def warning(self, obj: Mapping[str, Any], reason: str, message: str) -> None:
        self.event(obj, WARNING, reason, message)

    async def run(self) -> None:
        """Write queued events until cancelled."""
        while True:
            pending = await self._pending.get()
            await self._write(pending)

    async def flush(self) -> None:
        """Write every queued event now."""
        while not self._pending.empty():
            await self._write(self._pending.get_nowait())

    async def _write(self, pending: _Pending) -> None:
        key = pending.key
        decision = self._aggregator.observe(key, pending.at)
        namespace = key.namespace or "default"
        try:
            if isinstance(decision, BumpEvent):
                try:
                    await self.client.patch(
                        EVENTS, decision.name,
                        {"count": decision.count, "lastTimestamp": rfc3339(pending.at)},
                        namespace,
                    )
                    return
                except NotFound:
                    decision = CreateEvent(decision.name)
                    self._aggregator.restart(key, decision.name)
            await self.client.create(EVENTS, self._body(pending, decision.name, namespace))
        except ClientError as e:
            self._aggregator.forget(key)
            log.warning("event %s/%s %s not written: %s", namespace, key.name, key.reason, e)

    def _body(self, pending: _Pending, name: str, namespace: str) -> dict[str, Any]:
        key = pending.key
        ts = rfc3339(pending.at)
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": pending.involved,
            "type": key.type,
            "reason": key.reason,
            "message": key.message,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": ts,
            "lastTimestamp": ts,
            "count": 1,
            "reportingComponent": self.component,
            "reportingInstance": self.host or self.component,
        }
