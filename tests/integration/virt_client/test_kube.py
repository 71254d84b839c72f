"""KubeClient against virt-local's API server: verbs, patch types, status subresource, errors."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.apiserver import RunningApiServer
from tests.support.gadgets import CRD, GADGETS
from virt_client import errors
from virt_client import resources as r
from virt_client.indexer import freeze
from virt_client.kube import KubeClient, escape_pointer, patch_replace, patch_test


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": data}


@pytest.fixture
async def kc(apiserver: RunningApiServer) -> AsyncIterator[KubeClient]:
    async with await KubeClient.from_kubeconfig(str(apiserver.kubeconfig)) as client:
        yield client


async def test_crud_and_optimistic_concurrency(kc: KubeClient) -> None:
    created = await kc.create(r.CONFIGMAPS, cm("a", x="1"))
    assert created["metadata"]["uid"]
    with pytest.raises(errors.AlreadyExists):
        await kc.create(r.CONFIGMAPS, cm("a"))
    got = await kc.get(r.CONFIGMAPS, "a", "default")
    got["data"]["x"] = "2"
    updated = await kc.update(r.CONFIGMAPS, got)
    assert updated["data"] == {"x": "2"}
    with pytest.raises(errors.Conflict):
        await kc.update(r.CONFIGMAPS, got)  # stale resourceVersion
    listed = await kc.list(r.CONFIGMAPS, "default")
    assert "a" in [i["metadata"]["name"] for i in listed["items"]]
    assert listed["metadata"]["resourceVersion"]
    await kc.delete(r.CONFIGMAPS, "a", "default")
    with pytest.raises(errors.NotFound):
        await kc.get(r.CONFIGMAPS, "a", "default")


async def test_patch_types_and_json_patch_test_guard(kc: KubeClient) -> None:
    await kc.create(r.CONFIGMAPS, cm("p", x="1"))
    merged = await kc.patch(r.CONFIGMAPS, "p", {"data": {"y": "2"}}, "default")
    assert merged["data"] == {"x": "1", "y": "2"}
    key = escape_pointer("kubevirt.io/nodeName")
    labelled = await kc.patch(r.CONFIGMAPS, "p", [{"op": "add", "path": "/metadata/labels", "value": {}},
                                                  {"op": "add", "path": f"/metadata/labels/{key}", "value": "n1"}],
                              "default", patch_type="json")
    assert labelled["metadata"]["labels"] == {"kubevirt.io/nodeName": "n1"}
    guarded = await kc.patch(r.CONFIGMAPS, "p", [patch_test("/data/x", "1"), patch_replace("/data/x", "3")],
                             "default", patch_type="json")
    assert guarded["data"]["x"] == "3"
    with pytest.raises((errors.Conflict, errors.Invalid)):
        await kc.patch(r.CONFIGMAPS, "p", [patch_test("/data/x", "1"), patch_replace("/data/x", "4")],
                       "default", patch_type="json")
    assert (await kc.get(r.CONFIGMAPS, "p", "default"))["data"]["x"] == "3"
    strategic = await kc.patch(r.CONFIGMAPS, "p", {"data": {"z": "5"}}, "default", patch_type="strategic")
    assert strategic["data"]["z"] == "5"


async def test_custom_resource_status_subresource(kc: KubeClient) -> None:
    await kc.create(r.CRDS, CRD)
    gadget = None
    # The CRD is served as soon as it is established; poll for it rather than assume.
    for _ in range(100):
        with contextlib.suppress(errors.NotFound):
            gadget = await kc.create(GADGETS, {"apiVersion": "example.com/v1", "kind": "Gadget",
                                               "metadata": {"name": "g", "namespace": "default"},
                                               "spec": {"size": 1}})
            break
    assert gadget is not None
    gadget["status"] = {"phase": "Ready"}
    gadget["spec"]["size"] = 99
    written = await kc.update_status(GADGETS, freeze(gadget))
    assert written["status"] == {"phase": "Ready"}
    assert written["spec"]["size"] == 1, "a status write must not change spec"
    patched = await kc.patch(GADGETS, "g", {"status": {"phase": "Done"}}, "default", subresource="status")
    assert patched["status"]["phase"] == "Done"


async def test_subresource_create_pod_binding(kc: KubeClient) -> None:
    await kc.create(r.NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-b"}})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "x"}], "schedulerName": "nobody"}}
    await kc.create(r.PODS, pod)
    await kc.create_subresource(r.PODS, "p", "binding", {
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p", "namespace": "default"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-b"}})
    assert (await kc.get(r.PODS, "p", "default"))["spec"]["nodeName"] == "node-b"


async def test_errors_carry_status(kc: KubeClient) -> None:
    with pytest.raises(errors.NotFound) as nf:
        await kc.get(r.CONFIGMAPS, "missing", "default")
    assert nf.value.status == 404 and nf.value.reason == "NotFound"
    with pytest.raises(errors.Invalid) as inv:
        await kc.create(r.CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": "Not_Valid", "namespace": "default"}})
    assert inv.value.status == 422


async def test_unreachable_server_is_a_transport_error(apiserver: RunningApiServer) -> None:
    async with await KubeClient.from_kubeconfig(str(apiserver.kubeconfig)) as client:
        apiserver.stop()
        with pytest.raises(errors.TransportError):
            await client.get(r.CONFIGMAPS, "x", "default")
        apiserver.start()
