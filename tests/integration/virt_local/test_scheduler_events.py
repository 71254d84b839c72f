"""The scheduler against the embedded API server: an unschedulable Pod gets kube-scheduler's
`FailedScheduling` Warning event, repeats of it are one Event with a growing count, and a Pod that fits
is bound without one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.apiserver import RunningApiServer
from tests.support.wait import wait_for_async
from virt_client.clock import FakeClock
from virt_client.kube import KubeClient
from virt_client.resources import EVENTS, NODES, PODS
from virt_local.scheduler import REPORT_SECONDS, Scheduler


@pytest.fixture
async def kube(apiserver: RunningApiServer) -> AsyncIterator[KubeClient]:
    client = await KubeClient.from_kubeconfig(str(apiserver.kubeconfig))
    try:
        yield client
    finally:
        await client.close()


async def add_node(kube: KubeClient, name: str) -> None:
    await kube.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    await kube.patch(NODES, name, {"status": {
        "conditions": [{"type": "Ready", "status": "True"}],
        "allocatable": {"cpu": "2", "memory": "1Gi", "pods": "10"}}}, subresource="status")


def pod(name: str, memory: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"memory": memory}}}]}}


async def scheduling_events(kube: KubeClient, name: str) -> list[dict[str, Any]]:
    events = await kube.list(EVENTS, "default", field_selector=f"involvedObject.name={name}")
    return [e for e in events["items"] if e["reason"] == "FailedScheduling"]


async def test_unschedulable_pod_gets_one_failed_scheduling_event(kube: KubeClient) -> None:
    await add_node(kube, "node-1")
    await add_node(kube, "node-2")
    clock = FakeClock()
    scheduler = Scheduler(kube, clock=clock)
    task = asyncio.create_task(scheduler.run())
    try:
        await kube.create(PODS, pod("big", "2Gi"), "default")
        await kube.create(PODS, pod("small", "100Mi"), "default")

        async def first() -> list[dict[str, Any]]:
            return await scheduling_events(kube, "big")
        [event] = await wait_for_async(first, message="the FailedScheduling event")
        assert (event["type"], event["message"], event["count"]) == (
            "Warning", "0/2 nodes are available: 2 Insufficient memory.", 1)
        assert event["source"] == {"component": "default-scheduler"}
        assert event["involvedObject"]["kind"] == "Pod" and event["involvedObject"]["namespace"] == "default"

        async def bound() -> bool:
            return bool(((await kube.get(PODS, "small", "default")).get("spec") or {}).get("nodeName"))
        await wait_for_async(bound, message="the small Pod to be bound")
        assert await scheduling_events(kube, "small") == []

        # the next attempt after the interval bumps the same Event
        clock.advance(REPORT_SECONDS + 1)
        await kube.patch(NODES, "node-1", {"metadata": {"labels": {"touched": "1"}}})  # wakes a pass

        async def bumped() -> list[dict[str, Any]] | None:
            events = await scheduling_events(kube, "big")
            return events if events and events[0]["count"] == 2 else None
        events = await wait_for_async(bumped, message="the event's count to reach 2")
        assert len(events) == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
