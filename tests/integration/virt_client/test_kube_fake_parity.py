"""The same assertions against virt-local's API server (through `KubeClient`) and against `FakeKube`,
so the fake the shells' unit tests run on cannot drift from a real server's semantics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.apiserver import RunningApiServer, api_server
from tests.support.gadgets import CRD, GADGETS
from tests.support.wait import wait_for_async
from virt_client import errors
from virt_client import resources as r
from virt_client.api.json_patch import is_test_failure
from virt_client.kube import KubeClient, WatchEvent, patch_replace, patch_test
from virt_client.kube_api import KubeApi
from virt_client.kube_fake import STATUS_SUBRESOURCES, FakeKube

NS = "default"
WAIT = 30.0  # a deadline for the real server's answers, not a timing assertion


def cm(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": NS}
    if labels:
        md["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data}


def gadget(name: str, size: int = 1) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": name, "namespace": NS},
            "spec": {"size": size}, "status": {"phase": "Set-on-create"}}


@pytest.fixture(scope="module")
def shared_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApiServer]:
    with api_server(Path(tmp_path_factory.mktemp("parity")) / "apiserver") as srv:
        yield srv


async def _wait_for_gadgets(kube: KubeApi) -> None:
    """A new CRD is served once established; poll until it is."""
    with contextlib.suppress(errors.AlreadyExists):
        await kube.create(r.CRDS, CRD)

    async def served() -> bool:
        try:
            await kube.list(GADGETS, NS)
        except errors.NotFound:
            return False
        return True
    await wait_for_async(served, timeout=WAIT, message="the gadgets CRD to be served")


@pytest.fixture(params=["apiserver", "fake"])
async def kube(request: pytest.FixtureRequest) -> AsyncIterator[KubeApi]:
    if request.param == "fake":
        yield FakeKube(status_subresources=STATUS_SUBRESOURCES | {GADGETS})
        return
    srv: RunningApiServer = request.getfixturevalue("shared_apiserver")
    async with await KubeClient.from_kubeconfig(str(srv.kubeconfig)) as client:
        await _wait_for_gadgets(client)
        yield client
        for ref in (r.CONFIGMAPS, GADGETS, r.PODS):
            for item in (await client.list(ref, NS))["items"]:
                name = item["metadata"]["name"]
                if ref == r.CONFIGMAPS and name == "kube-root-ca.crt":
                    continue
                with contextlib.suppress(errors.NotFound):
                    if item["metadata"].get("finalizers"):
                        await client.patch(ref, name, {"metadata": {"finalizers": None}}, NS)
                    await client.delete(ref, name, NS, grace_period_seconds=0)


async def test_create_get_and_system_fields(kube: KubeApi) -> None:
    created = await kube.create(r.CONFIGMAPS, cm("a", x="1"))
    md = created["metadata"]
    assert md["uid"] and md["creationTimestamp"].endswith("Z") and md["resourceVersion"]
    assert created["kind"] == "ConfigMap" and created["apiVersion"] == "v1"
    assert await kube.get(r.CONFIGMAPS, "a", NS) == created
    with pytest.raises(errors.AlreadyExists) as exists:
        await kube.create(r.CONFIGMAPS, cm("a"))
    assert (exists.value.status, exists.value.reason) == (409, "AlreadyExists")
    assert exists.value.message == 'configmaps "a" already exists'
    with pytest.raises(errors.NotFound) as missing:
        await kube.get(r.CONFIGMAPS, "nope", NS)
    assert missing.value.message == 'configmaps "nope" not found'
    with pytest.raises(errors.Invalid):
        await kube.create(r.CONFIGMAPS, cm("Not_Valid"))


async def test_generate_name(kube: KubeApi) -> None:
    body = cm("")
    body["metadata"] = {"generateName": "gen-", "namespace": NS}
    created = await kube.create(r.CONFIGMAPS, body)
    name = created["metadata"]["name"]
    assert name.startswith("gen-") and len(name) == len("gen-") + 5
    assert (await kube.get(r.CONFIGMAPS, name, NS))["metadata"]["uid"] == created["metadata"]["uid"]


async def test_update_conflicts_on_a_stale_resource_version(kube: KubeApi) -> None:
    created = await kube.create(r.CONFIGMAPS, cm("u", x="1"))
    changed = {**created, "data": {"x": "2"}}
    updated = await kube.update(r.CONFIGMAPS, changed)
    assert updated["data"] == {"x": "2"}
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    with pytest.raises(errors.Conflict) as stale:
        await kube.update(r.CONFIGMAPS, {**created, "data": {"x": "3"}})
    assert stale.value.reason == "Conflict" and "the object has been modified" in stale.value.message
    unconditional = {**updated, "metadata": {k: v for k, v in updated["metadata"].items() if k != "resourceVersion"},
                     "data": {"x": "4"}}
    assert (await kube.update(r.CONFIGMAPS, unconditional))["data"] == {"x": "4"}
    with pytest.raises(errors.NotFound):
        await kube.update(r.CONFIGMAPS, cm("never-created"))


async def test_status_subresource_and_generation(kube: KubeApi) -> None:
    created = await kube.create(GADGETS, gadget("g"))
    assert "status" not in created, "create drops status of a kind with a status subresource"
    assert created["metadata"]["generation"] == 1
    tried = await kube.update(GADGETS, {**created, "status": {"phase": "Ignored"}})
    assert "status" not in tried and tried["metadata"]["generation"] == 1
    status_written = await kube.update_status(GADGETS, {**tried, "spec": {"size": 99}, "status": {"phase": "Ready"}})
    assert status_written["status"] == {"phase": "Ready"} and status_written["spec"] == {"size": 1}
    assert status_written["metadata"]["generation"] == 1, "a status write does not move generation"
    resized = await kube.update(GADGETS, {**status_written, "spec": {"size": 2}})
    assert resized["metadata"]["generation"] == 2 and resized["status"] == {"phase": "Ready"}
    patched = await kube.patch(GADGETS, "g", {"spec": {"size": 3}, "status": {"phase": "Nope"}}, NS)
    assert patched["spec"] == {"size": 3} and patched["status"] == {"phase": "Ready"}
    status_patched = await kube.patch(GADGETS, "g", {"status": {"phase": "Done"}, "spec": {"size": 7}}, NS,
                                      subresource="status")
    assert status_patched["status"] == {"phase": "Done"} and status_patched["spec"] == {"size": 3}


async def test_json_patch_test_failure_is_invalid(kube: KubeApi) -> None:
    await kube.create(r.CONFIGMAPS, cm("j", x="1"))
    guarded = await kube.patch(r.CONFIGMAPS, "j", [patch_test("/data/x", "1"), patch_replace("/data/x", "2")], NS,
                               patch_type="json")
    assert guarded["data"] == {"x": "2"}
    with pytest.raises(errors.Invalid) as failed:
        await kube.patch(r.CONFIGMAPS, "j", [patch_test("/data/x", "1"), patch_replace("/data/x", "3")], NS,
                         patch_type="json")
    assert failed.value.status == 422 and failed.value.reason == "Invalid"
    assert [(c.reason, c.message) for c in failed.value.causes] == [
        ("UnexpectedServerResponse", "testing value /data/x failed: test failed")]
    assert is_test_failure(failed.value.status, failed.value.reason,
                           ((c.reason, c.message) for c in failed.value.causes))
    assert (await kube.get(r.CONFIGMAPS, "j", NS))["data"] == {"x": "2"}
    with pytest.raises(errors.NotFound):
        await kube.patch(r.CONFIGMAPS, "absent", [patch_test("/data/x", "1")], NS, patch_type="json")


async def test_merge_and_strategic_patches(kube: KubeApi) -> None:
    await kube.create(r.CONFIGMAPS, cm("m", x="1", y="2"))
    merged = await kube.patch(r.CONFIGMAPS, "m", {"data": {"y": None, "z": "3"}}, NS)
    assert merged["data"] == {"x": "1", "z": "3"}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": NS, "finalizers": ["a/b"]},
           "spec": {"schedulerName": "nobody", "containers": [{"name": "one", "image": "i1"},
                                                              {"name": "two", "image": "i2"}]}}
    await kube.create(r.PODS, pod)
    patched = await kube.patch(r.PODS, "p", {"metadata": {"finalizers": ["c/d"], "labels": {"k": "v"}},
                                             "spec": {"containers": [{"name": "two", "image": "i3"}]}}, NS,
                               patch_type="strategic")
    assert [(c["name"], c["image"]) for c in patched["spec"]["containers"]] == [("one", "i1"), ("two", "i3")]
    assert patched["metadata"]["finalizers"] == ["a/b", "c/d"] and patched["metadata"]["labels"] == {"k": "v"}
    await kube.patch(r.PODS, "p", {"metadata": {"finalizers": None}}, NS)


async def test_finalizers_hold_a_deleted_object(kube: KubeApi) -> None:
    body = cm("f", x="1")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    created = await kube.create(r.CONFIGMAPS, body)
    with pytest.raises(errors.Conflict):
        await kube.delete(r.CONFIGMAPS, "f", NS, uid="00000000-0000-4000-8000-000000000000")
    await kube.delete(r.CONFIGMAPS, "f", NS, uid=created["metadata"]["uid"])
    held = await kube.get(r.CONFIGMAPS, "f", NS)
    assert held["metadata"]["deletionTimestamp"] and held["metadata"]["finalizers"] == ["example.com/hold"]
    await kube.patch(r.CONFIGMAPS, "f", [{"op": "remove", "path": "/metadata/finalizers"}], NS, patch_type="json")
    with pytest.raises(errors.NotFound):
        await kube.get(r.CONFIGMAPS, "f", NS)


async def test_selectors(kube: KubeApi) -> None:
    await kube.create(r.CONFIGMAPS, cm("s1", {"app": "a", "tier": "web"}))
    await kube.create(r.CONFIGMAPS, cm("s2", {"app": "b"}))
    await kube.create(r.CONFIGMAPS, cm("s3"))

    async def names(**selectors: str) -> list[str]:
        listed = await kube.list(r.CONFIGMAPS, NS, **selectors)  # type: ignore[arg-type]
        return sorted(i["metadata"]["name"] for i in listed["items"] if i["metadata"]["name"].startswith("s"))

    assert await names(label_selector="app=a") == ["s1"]
    assert await names(label_selector="app in (a,b)") == ["s1", "s2"]
    assert await names(label_selector="app,!tier") == ["s2"]
    assert await names(label_selector="app!=a") == ["s2", "s3"]
    assert await names(field_selector="metadata.name=s3") == ["s3"]
    assert await names(field_selector="metadata.name!=s3", label_selector="app notin (b)") == ["s1"]


async def _next(events: Any) -> WatchEvent:
    async with asyncio.timeout(WAIT):
        event: WatchEvent = await anext(events)
    while event.type == "BOOKMARK":
        async with asyncio.timeout(WAIT):
            event = await anext(events)
    return event


async def test_watch_in_order_and_resume(kube: KubeApi) -> None:
    start = (await kube.list(r.CONFIGMAPS, NS))["metadata"]["resourceVersion"]
    created = await kube.create(r.CONFIGMAPS, cm("w", {"watch": "me"}, x="1"))
    modified = await kube.patch(r.CONFIGMAPS, "w", {"data": {"x": "2"}}, NS)
    await kube.patch(r.CONFIGMAPS, "w", {"metadata": {"labels": {"watch": "no"}}}, NS)
    await kube.delete(r.CONFIGMAPS, "w", NS)
    events = kube.watch(r.CONFIGMAPS, NS, resource_version=start, label_selector="watch=me")
    try:
        seen = [await _next(events) for _ in range(3)]
    finally:
        await events.aclose()
    assert [(e.type, e.object["metadata"]["name"]) for e in seen] == [("ADDED", "w"), ("MODIFIED", "w"),
                                                                      ("DELETED", "w")]
    assert seen[1].object["data"] == {"x": "2"}
    resumed = kube.watch(r.CONFIGMAPS, NS, resource_version=created["metadata"]["resourceVersion"],
                         field_selector="metadata.name=w")
    try:
        first = await _next(resumed)
    finally:
        await resumed.aclose()
    assert (first.type, first.object["metadata"]["resourceVersion"]) == (
        "MODIFIED", modified["metadata"]["resourceVersion"])


async def test_dry_run_persists_nothing(kube: KubeApi) -> None:
    would_be = await kube.create(r.CONFIGMAPS, cm("d", x="1"), dry_run=True)
    assert would_be["metadata"]["name"] == "d"
    with pytest.raises(errors.NotFound):
        await kube.get(r.CONFIGMAPS, "d", NS)
    created = await kube.create(r.CONFIGMAPS, cm("d", x="1"))
    patched = await kube.patch(r.CONFIGMAPS, "d", {"data": {"x": "2"}}, NS, dry_run=True)
    assert patched["data"] == {"x": "2"}
    json_patched = await kube.patch(r.CONFIGMAPS, "d", [patch_replace("/data/x", "3")], NS, patch_type="json",
                                    dry_run=True)
    assert json_patched["data"] == {"x": "3"}
    await kube.update(r.CONFIGMAPS, {**created, "data": {"x": "4"}}, dry_run=True)
    await kube.delete(r.CONFIGMAPS, "d", NS, dry_run=True)
    still = await kube.get(r.CONFIGMAPS, "d", NS)
    assert still["data"] == {"x": "1"}
    assert still["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_bound_pod_deletion_is_graceful(kube: KubeApi) -> None:
    with contextlib.suppress(errors.AlreadyExists):
        await kube.create(r.NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "parity-node"}})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bound", "namespace": NS},
           "spec": {"schedulerName": "nobody", "containers": [{"name": "c", "image": "x"}]}}
    await kube.create(r.PODS, pod)
    await kube.create_subresource(r.PODS, "bound", "binding", {
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "bound", "namespace": NS},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "parity-node"}})
    scheduled = await kube.get(r.PODS, "bound", NS)
    assert scheduled["spec"]["nodeName"] == "parity-node"
    assert [c["status"] for c in scheduled["status"]["conditions"] if c["type"] == "PodScheduled"] == ["True"]
    await kube.delete(r.PODS, "bound", NS)
    terminating = await kube.get(r.PODS, "bound", NS)
    assert terminating["metadata"]["deletionTimestamp"]
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 30
    await kube.delete(r.PODS, "bound", NS, grace_period_seconds=0)
    with pytest.raises(errors.NotFound):
        await kube.get(r.PODS, "bound", NS)
