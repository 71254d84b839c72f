"""FakeKube's test-facing API (seed, stored, writes, fail, compact) and the behaviour only a unit
test can pin down; the semantics shared with a real server are in the integration parity test."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from datetime import UTC, datetime
from typing import Any

import pytest

from virt_client import errors
from virt_client import resources as r
from virt_client.clock import FakeClock
from virt_client.events import EventRecorder
from virt_client.informer import EventHandler, Informer
from virt_client.kube import KubeClient, patch_test
from virt_client.kube_api import KubeApi
from virt_client.kube_fake import FakeKube, Write

NS = "default"


def vmi(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


def as_kube_api(client: KubeClient, fake: FakeKube) -> tuple[KubeApi, KubeApi]:
    """mypy checks that both implementations satisfy the protocol."""
    return client, fake


@pytest.mark.parametrize("impl", [KubeClient, FakeKube], ids=["KubeClient", "FakeKube"])
def test_implementations_have_the_protocols_signatures(impl: type) -> None:
    for verb in ("get", "list", "list_bytes", "watch", "create", "update", "update_status", "patch", "delete",
                 "create_subresource"):
        expected = inspect.signature(getattr(KubeApi, verb))
        actual = inspect.signature(getattr(impl, verb))
        assert list(actual.parameters.items()) == list(expected.parameters.items()), verb


async def test_seed_keeps_given_fields_and_records_no_write() -> None:
    kube = FakeKube()
    seeded = kube.seed(r.VMIS, {**vmi("a"), "status": {"phase": "Running"},
                                "metadata": {"name": "a", "namespace": NS, "uid": "uid-a"}})
    assert seeded["metadata"]["uid"] == "uid-a" and seeded["status"] == {"phase": "Running"}
    assert kube.stored(r.VMIS, "a", NS) == seeded
    assert kube.writes == []
    with pytest.raises(ValueError, match="already stored"):
        kube.seed(r.VMIS, vmi("a"))


async def test_writes_record_what_was_sent() -> None:
    kube = FakeKube()
    await kube.create(r.VMIS, vmi("a"))
    ops = [patch_test("/spec", {}), {"op": "add", "path": "/spec/x", "value": 1}]
    await kube.patch(r.VMIS, "a", ops, NS, patch_type="json")
    await kube.patch(r.VMIS, "a", {"spec": {"x": 2}}, NS, dry_run=True)
    await kube.delete(r.VMIS, "a", NS, grace_period_seconds=0)
    assert kube.writes_of("patch") == [Write("patch", r.VMIS, NS, "a", ops, None, "json", False)]
    assert [w.verb for w in kube.writes_of()] == ["create", "patch", "delete"]
    assert [w.verb for w in kube.writes_of(dry_run=True)] == ["patch"]
    assert kube.writes_of("delete")[0].body == {"gracePeriodSeconds": 0}
    assert kube.objects(r.VMIS) == []


async def test_failed_requests_are_not_recorded() -> None:
    kube = FakeKube()
    await kube.create(r.VMIS, vmi("a"))
    with pytest.raises(errors.Invalid):
        await kube.patch(r.VMIS, "a", [patch_test("/spec/x", 1)], NS, patch_type="json")
    assert [w.verb for w in kube.writes] == ["create"]


async def test_fail_injects_an_error_for_the_matching_calls_only() -> None:
    kube = FakeKube()
    refused = errors.Forbidden(403, "Forbidden", "quota exceeded")
    kube.fail("create", r.PODS, refused, times=2)
    pod = {"metadata": {"name": "p", "namespace": NS}, "spec": {}}
    await kube.create(r.VMIS, vmi("a"))
    for _ in range(2):
        with pytest.raises(errors.Forbidden):
            await kube.create(r.PODS, pod)
    assert (await kube.create(r.PODS, pod))["metadata"]["name"] == "p"
    kube.fail("get", r.VMIS, errors.ServerError(500), name="b")
    assert (await kube.get(r.VMIS, "a", NS))["metadata"]["name"] == "a"


async def test_times_come_from_the_clock_and_names_from_the_seed() -> None:
    clock = FakeClock(wall=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    first, second = FakeKube(clock=clock, seed=7), FakeKube(clock=clock, seed=7)
    body = {"metadata": {"generateName": "virt-launcher-a-", "namespace": NS}, "spec": {}}
    a, b = await first.create(r.PODS, body), await second.create(r.PODS, body)
    assert a["metadata"]["name"] == b["metadata"]["name"] and a["metadata"]["uid"] == b["metadata"]["uid"]
    assert a["metadata"]["creationTimestamp"] == "2026-01-02T03:04:05Z"


async def test_status_write_on_a_kind_without_status_subresource_is_not_found() -> None:
    kube = FakeKube()
    created = await kube.create(r.VMIS, {**vmi("a"), "status": {"phase": "Pending"}})
    assert created["status"] == {"phase": "Pending"}, "VMIs have no status subresource: create keeps status"
    with pytest.raises(errors.NotFound):
        await kube.update_status(r.VMIS, created)
    updated = await kube.update(r.VMIS, {**created, "status": {"phase": "Scheduling"}})
    assert updated["status"] == {"phase": "Scheduling"}


async def test_no_op_update_keeps_the_resource_version_and_sends_no_event() -> None:
    kube = FakeKube()
    created = await kube.create(r.VMIS, vmi("a"))
    same = await kube.update(r.VMIS, created)
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert kube.resource_version == created["metadata"]["resourceVersion"]


async def test_watch_lists_first_without_a_version_and_is_gone_after_compaction() -> None:
    kube = FakeKube()
    created = await kube.create(r.VMIS, vmi("a"))
    events = kube.watch(r.VMIS, NS)
    first = await anext(events)
    assert (first.type, first.object["metadata"]["name"]) == ("ADDED", "a")
    waiting = asyncio.ensure_future(anext(events))
    await kube.create(r.VMIS, vmi("b"))
    second = await asyncio.wait_for(waiting, 5)
    assert (second.type, second.object["metadata"]["name"]) == ("ADDED", "b")
    await events.aclose()
    kube.compact()
    stale = kube.watch(r.VMIS, NS, resource_version=created["metadata"]["resourceVersion"])
    with pytest.raises(errors.Gone):
        await anext(stale)


async def test_watch_only_sees_its_namespace_and_kind() -> None:
    kube = FakeKube()
    start = kube.resource_version
    await kube.create(r.VMIS, {**vmi("other"), "metadata": {"name": "other", "namespace": "elsewhere"}})
    await kube.create(r.VMS, {"metadata": {"name": "vm", "namespace": NS}, "spec": {}})
    await kube.create(r.VMIS, vmi("mine"))
    events = kube.watch(r.VMIS, NS, resource_version=start)
    event = await asyncio.wait_for(anext(events), 5)
    await events.aclose()
    assert event.object["metadata"]["name"] == "mine"


async def test_watch_ends_after_its_timeout() -> None:
    kube = FakeKube()
    events = [e async for e in kube.watch(r.VMIS, NS, timeout_seconds=0)]
    assert events == []


async def test_strategic_merge_is_refused_for_custom_resources() -> None:
    kube = FakeKube()
    await kube.create(r.VMIS, vmi("a"))
    with pytest.raises(errors.ApiError) as refused:
        await kube.patch(r.VMIS, "a", {"spec": {"x": 1}}, NS, patch_type="strategic")
    assert refused.value.status == 415


async def test_eviction_deletes_and_binding_twice_conflicts() -> None:
    kube = FakeKube()
    await kube.create(r.PODS, {"metadata": {"name": "p", "namespace": NS}, "spec": {}})
    binding = {"target": {"name": "n1"}}
    await kube.create_subresource(r.PODS, "p", "binding", binding, NS)
    with pytest.raises(errors.Conflict):
        await kube.create_subresource(r.PODS, "p", "binding", binding, NS)
    await kube.create_subresource(r.PODS, "p", "eviction", {"deleteOptions": {"gracePeriodSeconds": 0}}, NS)
    assert kube.stored(r.PODS, "p", NS) is None
    assert [(w.verb, w.subresource) for w in kube.writes_of("create_subresource")] == [
        ("create_subresource", "binding"), ("create_subresource", "eviction")]


async def test_bad_selector_is_bad_request() -> None:
    with pytest.raises(errors.BadRequest):
        await FakeKube().list(r.PODS, NS, label_selector="a in (b")


async def test_list_pages_with_limit_and_continue() -> None:
    kube = FakeKube()
    for name in ("a", "b", "c"):
        await kube.create(r.VMIS, vmi(name))
    page = await kube.list(r.VMIS, NS, limit=2)
    assert [i["metadata"]["name"] for i in page["items"]] == ["a", "b"]
    rest = await kube.list(r.VMIS, NS, limit=2, continue_token=page["metadata"]["continue"])
    assert [i["metadata"]["name"] for i in rest["items"]] == ["c"] and "continue" not in rest["metadata"]


async def test_an_informer_lists_and_watches_the_fake() -> None:
    kube = FakeKube()
    kube.seed(r.VMIS, vmi("before"))
    informer = Informer(kube, r.VMIS, namespace=NS)
    deleted: list[str] = []
    gone = asyncio.Event()

    def on_delete(obj: Any) -> None:
        deleted.append(obj["metadata"]["name"])
        gone.set()

    informer.add_handler(EventHandler(on_delete=on_delete))
    task = asyncio.create_task(informer.run())
    try:
        assert await informer.wait_for_synced(timeout_seconds=10)
        assert informer.get(f"{NS}/before") is not None
        await kube.create(r.VMIS, vmi("after"))
        await kube.delete(r.VMIS, "before", NS)
        await asyncio.wait_for(gone.wait(), 10)  # events arrive in order: the create came first
        assert deleted == ["before"]
        assert informer.get(f"{NS}/before") is None and informer.get(f"{NS}/after") is not None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_event_recorder_writes_through_the_fake() -> None:
    kube = FakeKube()
    obj = kube.seed(r.VMIS, vmi("a"))
    recorder = EventRecorder(kube, component="virt-controller")
    recorder.warning(obj, "FailedCreate", "quota exceeded")
    await recorder.flush()
    recorder.warning(obj, "FailedCreate", "quota exceeded")
    await recorder.flush()
    assert [w.verb for w in kube.writes_of(ref=r.EVENTS)] == ["create", "patch"]
    (event,) = kube.objects(r.EVENTS, NS)
    assert (event["type"], event["reason"], event["count"]) == ("Warning", "FailedCreate", 2)
    assert event["involvedObject"]["uid"] == obj["metadata"]["uid"]
