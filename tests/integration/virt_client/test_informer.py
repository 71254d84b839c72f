"""Informer and controller against virt-local's API server: restart mid-watch, 410 relist,
coalesced bursts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.apiserver import RunningApiServer, start_apiserver
from tests.support.wait import wait_for_async
from virt_client import resources as r
from virt_client.controller import DONE, Controller, Result
from virt_client.indexer import FrozenDict, by_label, object_key
from virt_client.informer import EventHandler, Informer
from virt_client.kube import KubeClient

NODE = "kubevirt.io/nodeName"
SELECTOR = "test=it"  # the server also keeps its own ConfigMaps (kube-root-ca.crt)


def cm(name: str, value: str, node: str = "n1") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default", "labels": {NODE: node, "test": "it"}},
            "data": {"v": value}}


class Recorder:
    """Event handler that records every delivery as (type, key, resourceVersion)."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, str, str]] = []

    def _rec(self, kind: str, obj: FrozenDict) -> None:
        self.deliveries.append((kind, object_key(obj), obj["metadata"]["resourceVersion"]))

    def handler(self) -> EventHandler:
        return EventHandler(on_add=lambda o: self._rec("add", o), on_update=lambda _, n: self._rec("update", n),
                            on_delete=lambda o: self._rec("delete", o))

    def duplicates(self) -> list[tuple[str, str, str]]:
        seen: set[tuple[str, str]] = set()
        dups = []
        for kind, key, rv in self.deliveries:
            if kind != "delete" and (key, rv) in seen:
                dups.append((kind, key, rv))
            seen.add((key, rv))
        return dups


async def server_state(kc: KubeClient) -> dict[str, str]:
    items = (await kc.list(r.CONFIGMAPS, "default", label_selector=SELECTOR))["items"]
    return {object_key(i): i["metadata"]["resourceVersion"] for i in items}


def cache_state(inf: Informer) -> dict[str, str]:
    return {k: inf.store.resource_version(k) or "" for k in inf.store.keys()}


@pytest.fixture
async def kc(apiserver: RunningApiServer) -> AsyncIterator[KubeClient]:
    async with await KubeClient.from_kubeconfig(str(apiserver.kubeconfig)) as client:
        yield client


async def test_informer_converges_after_api_server_restart(apiserver: RunningApiServer, kc: KubeClient) -> None:
    for i in range(5):
        await kc.create(r.CONFIGMAPS, cm(f"cm{i}", "0"))
    rec = Recorder()
    inf = Informer(kc, r.CONFIGMAPS, namespace="default", label_selector=SELECTOR, indexers={"node": by_label(NODE)},
                   backoff_initial=0.05, backoff_max=0.5)
    inf.add_handler(rec.handler())
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(inf.run())
        assert await inf.wait_for_synced(30)
        for i in range(5):
            await kc.patch(r.CONFIGMAPS, f"cm{i}", {"data": {"v": "1"}}, "default")
        expected = await server_state(kc)
        await wait_for_async(lambda: cache_state(inf) == expected, interval=0.02, message="the cache to see the first updates")

        await asyncio.to_thread(apiserver.restart)  # the watch breaks mid-stream

        for i in range(3):
            await kc.patch(r.CONFIGMAPS, f"cm{i}", {"data": {"v": "2"}, "metadata": {"labels": {NODE: "n2"}}},
                           "default")
        await kc.delete(r.CONFIGMAPS, "cm4", "default")
        await kc.create(r.CONFIGMAPS, cm("cm5", "2"))
        expected = await server_state(kc)
        await wait_for_async(lambda: cache_state(inf) == expected, interval=0.02, message="the cache to converge after the restart")
        task.cancel()
    final = {k: o["data"]["v"] for k in inf.store.keys() if (o := inf.get(k)) is not None}
    assert final == {"default/cm0": "2", "default/cm1": "2", "default/cm2": "2", "default/cm3": "1",
                     "default/cm5": "2"}
    assert inf.store.index_keys("node", "n2") == ["default/cm0", "default/cm1", "default/cm2"]
    assert ("delete", "default/cm4") in {(k, key) for k, key, _ in rec.deliveries}
    assert rec.duplicates() == [], "one resourceVersion was delivered twice"


async def test_informer_relists_on_410_and_reports_missed_deletes(tmp_path: Any) -> None:
    srv = start_apiserver(tmp_path / "small-history", "--watch-history", "5")
    try:
        async with await KubeClient.from_kubeconfig(str(srv.kubeconfig)) as kc:
            for i in range(3):
                await kc.create(r.CONFIGMAPS, cm(f"cm{i}", "0"))
            rec = Recorder()
            inf = Informer(kc, r.CONFIGMAPS, namespace="default", label_selector=SELECTOR, backoff_initial=0.05, backoff_max=0.5)
            inf.add_handler(rec.handler())
            run = asyncio.create_task(inf.run())
            assert await inf.wait_for_synced(30)
            run.cancel()
            with pytest.raises(asyncio.CancelledError):
                await run
            # While nobody watches, more changes than the server's history keeps.
            await kc.delete(r.CONFIGMAPS, "cm0", "default")
            for n in range(10):
                await kc.patch(r.CONFIGMAPS, "cm1", {"data": {"v": str(n)}}, "default")
            expected = await server_state(kc)
            async with asyncio.TaskGroup() as tg:
                run = tg.create_task(inf.run())  # resumes from an expired resourceVersion → 410 → relist
                await wait_for_async(lambda: cache_state(inf) == expected, interval=0.02, message="the relist")
                run.cancel()
            assert ("delete", "default/cm0") in {(k, key) for k, key, _ in rec.deliveries}
            assert rec.duplicates() == []
    finally:
        srv.stop()


async def test_burst_of_updates_to_one_key_is_coalesced(kc: KubeClient) -> None:
    await kc.create(r.CONFIGMAPS, cm("hot", "0"))
    inf = Informer(kc, r.CONFIGMAPS, namespace="default", label_selector=SELECTOR)
    release = asyncio.Event()
    seen_values: list[str] = []

    async def reconcile(key: str) -> Result:
        obj = inf.get(key)
        seen_values.append(obj["data"]["v"] if obj is not None else "<gone>")
        await release.wait()
        return DONE

    ctrl = Controller(name="burst-it", reconcile=reconcile, workers=4, informers=[inf])
    inf.add_handler(ctrl.handler())
    async with asyncio.TaskGroup() as tg:
        watching = tg.create_task(inf.run())
        run = tg.create_task(ctrl.run())
        await wait_for_async(lambda: seen_values == ["0"], interval=0.02, message="the first reconcile")
        for n in range(1, 31):
            await kc.patch(r.CONFIGMAPS, "hot", {"data": {"v": str(n)}}, "default")
        await wait_for_async(lambda: (o := inf.get("default/hot")) is not None and o["data"]["v"] == "30", interval=0.02, message="the cache to see the last update")
        release.set()
        await wait_for_async(lambda: ctrl.queue.processing == 0 and len(ctrl.queue) == 0 and len(seen_values) >= 2, interval=0.02, message="the queue to drain")
        run.cancel()
        watching.cancel()
    assert seen_values == ["0", "30"], "31 updates while busy must give one more reconcile, on the final state"
