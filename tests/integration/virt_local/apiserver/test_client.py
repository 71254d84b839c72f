"""kubernetes_asyncio against `virt-local apiserver`: CRUD, conflicts, status split, watch resume,
410 Gone, restart mid-watch, durability under kill -9, error Status bodies and bad input."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException

from tests.support.apiserver import RunningApiServer, start_apiserver
from tests.support.gadgets import CRD
from tests.support.wait import wait_for_async

G = ("example.com", "v1", "default", "gadgets")


async def api_client(srv: RunningApiServer) -> client.ApiClient:
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(srv.kubeconfig), client_configuration=cfg)
    return client.ApiClient(configuration=cfg)


@pytest.fixture
async def api(apiserver: RunningApiServer) -> AsyncIterator[client.ApiClient]:
    c = await api_client(apiserver)
    ext = client.ApiextensionsV1Api(c)
    await ext.create_custom_resource_definition(CRD)
    yield c
    await c.close()


def gadget(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": name}, "spec": spec}


async def test_crud_and_conflict(api: client.ApiClient) -> None:
    co = client.CustomObjectsApi(api)
    created = await co.create_namespaced_custom_object(*G, gadget("g1", size=1))
    md = created["metadata"]
    assert md["uid"] and md["creationTimestamp"] and md["generation"] == 1
    got = await co.get_namespaced_custom_object(*G, "g1")
    assert got == created
    got["spec"]["size"] = 2
    updated = await co.replace_namespaced_custom_object(*G, "g1", got)
    assert updated["metadata"]["generation"] == 2
    with pytest.raises(ApiException) as e:
        await co.replace_namespaced_custom_object(*G, "g1", got)  # stale resourceVersion
    assert e.value.status == 409
    body = orjson.loads(e.value.body)
    assert body["kind"] == "Status" and body["reason"] == "Conflict"
    with pytest.raises(ApiException) as e:
        await co.create_namespaced_custom_object(*G, gadget("g1"))
    assert e.value.status == 409 and orjson.loads(e.value.body)["reason"] == "AlreadyExists"
    with pytest.raises(ApiException) as e:
        await co.get_namespaced_custom_object(*G, "missing")
    assert e.value.status == 404
    assert orjson.loads(e.value.body)["message"] == 'gadgets.example.com "missing" not found'


async def test_status_subresource_split(api: client.ApiClient) -> None:
    co = client.CustomObjectsApi(api)
    obj = await co.create_namespaced_custom_object(*G, {**gadget("g2", size=1), "status": {"phase": "X"}})
    assert "status" not in obj  # status is ignored on create
    obj["status"] = {"phase": "Ready"}
    obj["spec"]["size"] = 5
    after = await co.replace_namespaced_custom_object_status(*G, "g2", obj)
    assert after["status"] == {"phase": "Ready"} and after["spec"]["size"] == 1
    assert after["metadata"]["generation"] == 1
    after["status"] = {"phase": "Lost"}
    after["spec"]["size"] = 7
    main = await co.replace_namespaced_custom_object(*G, "g2", after)
    assert main["status"] == {"phase": "Ready"} and main["spec"]["size"] == 7
    assert main["metadata"]["generation"] == 2


async def test_label_selector_and_pagination(api: client.ApiClient) -> None:
    co = client.CustomObjectsApi(api)
    for i in range(7):
        body = gadget(f"p{i}")
        body["metadata"]["labels"] = {"parity": "even" if i % 2 == 0 else "odd"}
        await co.create_namespaced_custom_object(*G, body)
    evens = await co.list_namespaced_custom_object(*G, label_selector="parity in (even)")
    assert sorted(i["metadata"]["name"] for i in evens["items"]) == ["p0", "p2", "p4", "p6"]
    names: list[str] = []
    token = None
    while True:
        page = await co.list_namespaced_custom_object(*G, limit=3, _continue=token)
        names += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert names == [f"p{i}" for i in range(7)]
    with pytest.raises(ApiException) as e:
        await co.list_namespaced_custom_object(*G, label_selector="a in (")
    assert e.value.status == 400


async def test_watch_resume_and_gone(tmp_path: Any) -> None:
    srv = start_apiserver(tmp_path / "s", "--watch-history", "5")
    try:
        api = await api_client(srv)
        await client.ApiextensionsV1Api(api).create_custom_resource_definition(CRD)
        co = client.CustomObjectsApi(api)
        first = await co.create_namespaced_custom_object(*G, gadget("w0"))
        rv = first["metadata"]["resourceVersion"]
        await co.create_namespaced_custom_object(*G, gadget("w1"))
        w = watch.Watch()
        seen = []
        async with w.stream(co.list_namespaced_custom_object, *G, resource_version=rv, timeout_seconds=2) as s:
            async for ev in s:
                seen.append((ev["type"], ev["object"]["metadata"]["name"]))
                break
        assert seen == [("ADDED", "w1")]
        for i in range(10):
            await co.create_namespaced_custom_object(*G, gadget(f"x{i}"))
        with pytest.raises(ApiException) as e:
            async with watch.Watch().stream(co.list_namespaced_custom_object, *G, resource_version=rv,
                                            timeout_seconds=2) as s:
                async for _ in s:
                    pass
        assert e.value.status == 410
        await api.close()
    finally:
        srv.stop()


async def test_restart_keeps_objects_and_resource_versions(apiserver: RunningApiServer) -> None:
    api = await api_client(apiserver)
    co = client.CustomObjectsApi(api)
    await client.ApiextensionsV1Api(api).create_custom_resource_definition(CRD)
    obj = await co.create_namespaced_custom_object(*G, gadget("keep", size=3))
    last_rv = obj["metadata"]["resourceVersion"]
    stream_ended = asyncio.Event()

    async def watch_it() -> None:
        try:
            async with watch.Watch().stream(co.list_namespaced_custom_object, *G, resource_version=last_rv,
                                            timeout_seconds=30) as s:
                async for _ in s:
                    pass
        except Exception:  # noqa: BLE001 - the server went away under the watch
            pass
        finally:
            stream_ended.set()
    task = asyncio.create_task(watch_it())
    await asyncio.to_thread(apiserver.restart)
    await asyncio.wait_for(stream_ended.wait(), 15)  # the watch does not hang on a dead server
    await task
    await api.close()
    api = await api_client(apiserver)
    co = client.CustomObjectsApi(api)
    got = await co.get_namespaced_custom_object(*G, "keep")
    assert got["metadata"]["resourceVersion"] == last_rv and got["spec"] == {"size": 3}
    later = await co.create_namespaced_custom_object(*G, gadget("after"))
    assert int(later["metadata"]["resourceVersion"]) > int(last_rv)
    seen = []
    async with watch.Watch().stream(co.list_namespaced_custom_object, *G, resource_version=last_rv,
                                    timeout_seconds=2) as s:
        async for ev in s:
            seen.append((ev["type"], ev["object"]["metadata"]["name"]))
            break
    assert seen == [("ADDED", "after")]  # resumed from the last resourceVersion seen before the restart
    await api.close()


async def test_kill_9_during_burst_loses_no_acknowledged_write(apiserver: RunningApiServer) -> None:
    api = await api_client(apiserver)
    await client.ApiextensionsV1Api(api).create_custom_resource_definition(CRD)
    co = client.CustomObjectsApi(api)
    acked: list[str] = []

    async def writer(n: int) -> None:
        i = 0
        while True:
            name = f"b{n}-{i}"
            try:
                await co.create_namespaced_custom_object(*G, gadget(name))
            except Exception:  # noqa: BLE001 - the server died under us
                return
            acked.append(name)
            i += 1
    tasks = [asyncio.create_task(writer(n)) for n in range(4)]
    await wait_for_async(lambda: len(acked) >= 200, interval=0.01, message="200 acknowledged writes")
    await asyncio.to_thread(apiserver.kill)
    await asyncio.gather(*tasks)
    await api.close()
    await asyncio.to_thread(apiserver.start)
    api = await api_client(apiserver)
    co = client.CustomObjectsApi(api)
    items = (await co.list_namespaced_custom_object(*G))["items"]
    stored = {i["metadata"]["name"] for i in items}
    assert set(acked) <= stored
    await api.close()


def _http(srv: RunningApiServer) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(srv.ca_file))
    return httpx.Client(base_url=srv.url, verify=ctx, headers={"Authorization": f"Bearer {srv.token}"})


@pytest.mark.parametrize(("method", "path", "body", "ctype", "code"), [
    ("POST", "/api/v1/namespaces/default/configmaps", b"{not json", "application/json", 400),
    ("POST", "/api/v1/namespaces/default/configmaps", b"a: [", "application/yaml", 400),
    ("POST", "/api/v1/namespaces/default/configmaps", b'{"metadata":{"name":"Bad_Name"}}', "application/json", 422),
    ("POST", "/api/v1/namespaces/default/configmaps", b"[]", "application/json", 400),
    ("GET", "/api/v1/namespaces/default/nothings", b"", "", 404),
    ("GET", "/apis/nope.example.com/v1/things", b"", "", 404),
    ("POST", "/api/v1/namespaces/default/configmaps", b'{"metadata":{"name":"x"},"data":"' + b"a" * (4 << 20) + b'"}',
     "application/json", 413),
    ("PATCH", "/api/v1/namespaces/default/configmaps/none", b"{}", "application/merge-patch+json", 404),
    ("PATCH", "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication", b"{}",
     "text/plain", 415),
    ("POST", "/api/v1/namespaces/nonexistent/configmaps", b'{"metadata":{"name":"x"}}', "application/json", 404),
    ("GET", "/api/v1/pods?fieldSelector=spec.bogus%3Dx", b"", "", 400),
    ("GET", "/api/v1/pods?watch=true&resourceVersion=abc", b"", "", 400),
], ids=["bad-json", "bad-yaml", "bad-name", "not-object", "unknown-resource", "unknown-group", "too-large",
        "patch-missing", "bad-patch-type", "missing-namespace", "bad-field-selector", "bad-rv"])
def test_bad_input_gets_status(apiserver: RunningApiServer, method: str, path: str, body: bytes, ctype: str,
                               code: int) -> None:
    with _http(apiserver) as h:
        resp = h.request(method, path, content=body or None, headers={"Content-Type": ctype} if ctype else {})
    assert resp.status_code == code, resp.text
    status = resp.json()
    assert status["kind"] == "Status" and status["code"] == code and status["message"]
