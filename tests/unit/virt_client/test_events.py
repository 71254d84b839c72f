"""Event aggregation: repeats bump count/lastTimestamp; different events stay separate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from virt_client.clock import FakeClock
from virt_client.errors import NotFound
from virt_client.events import BumpEvent, CreateEvent, EventAggregator, EventKey, EventRecorder
from virt_client.kube import KubeClient
from virt_client.resources import ResourceRef

VMI = {
    "apiVersion": "kubevirt.io/v1",
    "kind": "VirtualMachineInstance",
    "metadata": {"namespace": "ns", "name": "vmi1", "uid": "u1", "resourceVersion": "7"},
}
OTHER = {**VMI, "metadata": {**VMI["metadata"], "name": "vmi2", "uid": "u2"}}  # type: ignore[dict-item]


class FakeEventsApi:
    """Keeps Events in memory with the create/patch behaviour of the API server."""

    def __init__(self) -> None:
        self.events: dict[tuple[str, str], dict[str, Any]] = {}

    async def create(self, ref: ResourceRef, body: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        self.events[key] = body
        return body

    async def patch(self, ref: ResourceRef, name: str, patch: dict[str, Any], namespace: str | None = None,
                    **kw: Any) -> dict[str, Any]:
        key = (namespace or "", name)
        if key not in self.events:
            raise NotFound(404, "NotFound", f"events {name} not found")
        self.events[key].update(patch)
        return self.events[key]


def key(message: str = "m", name: str = "vmi1") -> EventKey:
    return EventKey("VirtualMachineInstance", "ns", name, "u", "Normal", "Started", message, "virt-handler")


NOW = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ([key()], [CreateEvent]),
        ([key(), key(), key()], [CreateEvent, BumpEvent, BumpEvent]),
        ([key("a"), key("b")], [CreateEvent, CreateEvent]),
        ([key(name="x"), key(name="y"), key(name="x")], [CreateEvent, CreateEvent, BumpEvent]),
    ],
    ids=["first", "repeats", "different-message", "interleaved-objects"],
)
def test_aggregator_decisions(keys: list[EventKey], expected: list[type]) -> None:
    agg = EventAggregator()
    assert [type(agg.observe(k, NOW)) for k in keys] == expected


def test_aggregator_counts_and_evicts_oldest() -> None:
    agg = EventAggregator(size=2)
    first = agg.observe(key(name="a"), NOW)
    assert isinstance(first, CreateEvent) and first.name.startswith("a.")
    assert agg.observe(key(name="a"), NOW) == BumpEvent(first.name, 2)
    agg.observe(key(name="b"), NOW)
    agg.observe(key(name="c"), NOW)  # evicts "a"
    assert isinstance(agg.observe(key(name="a"), NOW), CreateEvent)


async def test_recorder_aggregates_repeats_into_one_event() -> None:
    api = FakeEventsApi()
    clock = FakeClock()
    rec = EventRecorder(cast(KubeClient, api), component="virt-controller", host="node1", clock=clock)
    for _ in range(3):
        rec.normal(VMI, "SuccessfulCreate", "Created virtual machine pod x")
        clock.advance(10)
        await rec.flush()
    rec.warning(VMI, "SyncFailed", "boom")
    rec.normal(OTHER, "SuccessfulCreate", "Created virtual machine pod x")
    await rec.flush()
    assert len(api.events) == 3
    created = [e for e in api.events.values() if e["reason"] == "SuccessfulCreate"
               and e["involvedObject"]["name"] == "vmi1"]
    assert len(created) == 1
    event = created[0]
    assert event["count"] == 3
    assert event["firstTimestamp"] == "2024-01-01T00:00:00Z"
    assert event["lastTimestamp"] == "2024-01-01T00:00:20Z"
    assert event["involvedObject"] == {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                                       "namespace": "ns", "name": "vmi1", "uid": "u1", "resourceVersion": "7"}
    assert event["source"] == {"component": "virt-controller", "host": "node1"}


async def test_recorder_recreates_an_expired_event() -> None:
    api = FakeEventsApi()
    rec = EventRecorder(cast(KubeClient, api), component="c", clock=FakeClock())
    rec.normal(VMI, "R", "m")
    await rec.flush()
    api.events.clear()  # the server expired it
    rec.normal(VMI, "R", "m")
    await rec.flush()
    assert [e["count"] for e in api.events.values()] == [1]


def test_recorder_drops_beyond_its_queue() -> None:
    rec = EventRecorder(cast(KubeClient, FakeEventsApi()), component="c", clock=FakeClock(), max_pending=2)
    for i in range(5):
        rec.normal(VMI, "R", str(i))
    assert rec.dropped == 3
