"""virt-controller's informers, event recorder and controllers over an in-memory `FakeKube`, wired as
`virt_controller.main` wires them, for unit tests of the reconcile shells.

`async with FakeCluster(kube) as cluster:` lists and watches the fake; `cluster.start()` also runs the
controllers' workers and the event recorder (as the leader does); without it a test calls a
controller's `reconcile(key)` itself after `await cluster.caught_up()`. Waits poll with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from tests.support.wait import wait_for_async
from virt_client import resources as r
from virt_client.clock import RealClock
from virt_client.events import EventRecorder
from virt_client.informer import Informer
from virt_client.kube_fake import FakeKube
from virt_client.resources import ResourceRef
from virt_controller.ownership import (
    CREATED_BY_INDEX,
    OWNER_UID_INDEX,
    VMI_KEY_INDEX,
    by_controller_uid,
    by_created_by,
    by_vmi_key,
)
from virt_controller.settings import Hypervisor, LauncherConfig
from virt_controller.vm.reconcile import VMController
from virt_controller.vmi.reconcile import VMIController
from virt_controller.vmirs.reconcile import ReplicaSetController

NS = "ns"
T = TypeVar("T")


class FakeCluster:
    """The controllers of one virt-controller leader, over `kube`."""

    def __init__(self, kube: FakeKube) -> None:
        self.kube = kube
        clock = RealClock()
        self.vms = Informer(kube, r.VMS)
        self.vmis = Informer(kube, r.VMIS, indexers={OWNER_UID_INDEX: by_controller_uid})
        self.pods = Informer(kube, r.PODS, label_selector="kubevirt.io=virt-launcher",
                             indexers={CREATED_BY_INDEX: by_created_by, VMI_KEY_INDEX: by_vmi_key})
        self.replicasets = Informer(kube, r.VMIRSS)
        self.datavolumes = Informer(kube, r.DATAVOLUMES)
        self.pvcs = Informer(kube, r.PVCS)
        self.informers = (self.vms, self.vmis, self.pods, self.replicasets, self.datavolumes, self.pvcs)
        self.recorder = EventRecorder(kube, component="virt-controller", clock=clock)
        self.vm = VMController(client=kube, vms=self.vms, vmis=self.vmis, datavolumes=self.datavolumes,
                               pvcs=self.pvcs, recorder=self.recorder, clock=clock, workers=1, jitter=lambda: 0.0)
        self.vmi = VMIController(client=kube, vmis=self.vmis, pods=self.pods, pvcs=self.pvcs, recorder=self.recorder,
                                 launcher=LauncherConfig(hypervisor=Hypervisor.TEST), clock=clock, workers=2)
        self.vmirs = ReplicaSetController(client=kube, replicasets=self.replicasets, vmis=self.vmis,
                                          recorder=self.recorder, clock=clock, workers=1)
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> FakeCluster:
        self._tasks += [asyncio.create_task(i.run()) for i in self.informers]
        for informer in self.informers:
            assert await informer.wait_for_synced(timeout_seconds=10)
        return self

    def start(self) -> None:
        """Run the controllers and the event recorder, as the leader does."""
        self._tasks += [asyncio.create_task(c.run()) for c in (self.vm.controller, self.vmi.controller,
                                                                 self.vmirs.controller)]
        self._tasks.append(asyncio.create_task(self.recorder.run()))

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _informer(self, ref: ResourceRef) -> Informer:
        return next(i for i in self.informers if i.ref == ref)

    def _in_step(self) -> bool:
        for informer in self.informers:
            stored = {f"{o['metadata']['namespace']}/{o['metadata']['name']}": o["metadata"]["resourceVersion"]
                      for o in self.kube.objects(informer.ref)
                      if informer.ref != r.PODS or (o["metadata"].get("labels") or {}).get("kubevirt.io")}
            cached = {key: informer.store.resource_version(key) for key in informer.store.keys()}
            if stored != cached:
                return False
        return True

    async def caught_up(self) -> None:
        """Wait until every cache holds what the fake stores."""
        await wait_for_async(self._in_step, interval=0.005, message="the caches to catch up with the fake")

    async def reconcile(self, reconcile: Callable[[str], Awaitable[Any]], key: str) -> Any:
        """One reconcile of `key` once the caches caught up; its events written."""
        await self.caught_up()
        try:
            return await reconcile(key)
        finally:
            await self.recorder.flush()

    def events(self, reason: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.kube.objects(r.EVENTS, NS) if reason is None or e["reason"] == reason]
