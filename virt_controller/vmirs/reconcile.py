"""The replica-set controller's I/O shell: handlers, expectations and the reconcile of one key."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from virt_client.api.constants import Kind
from virt_client.api.objects import controller_key, is_deleting
from virt_client.api.times import rfc3339
from virt_client.clock import Clock
from virt_client.controller import DONE, Controller, Result
from virt_client.errors import ApiError, NotFound
from virt_client.events import EventRecorder
from virt_client.expectations import UIDTrackingExpectations
from virt_client.indexer import FrozenDict, thaw
from virt_client.informer import EventHandler, Informer
from virt_client.kube import KubeClient
from virt_client.resources import VMIRSS, VMIS
from virt_controller.ownership import OWNER_UID_INDEX
from virt_controller.vmirs.plan import CreateVMIs, DeleteVMIs, RSSnapshot, compute_status, plan

log = logging.getLogger(__name__)


class ReplicaSetController:
    """Keeps `spec.replicas` VMIs alive for every VMIRS."""

    def __init__(self, *, client: KubeClient, replicasets: Informer, vmis: Informer, recorder: EventRecorder,
                 clock: Clock, workers: int) -> None:
        self.client = client
        self.replicasets = replicasets
        self.vmis = vmis
        self.recorder = recorder
        self.clock = clock
        self.expectations = UIDTrackingExpectations(clock=clock)
        self.controller = Controller(name="vmirs", reconcile=self.reconcile, workers=workers,
                                     informers=[replicasets, vmis], clock=clock)
        replicasets.add_handler(self.controller.handler())
        vmis.add_handler(EventHandler(on_add=self._vmi_added, on_update=self._vmi_updated,
                                      on_delete=self._vmi_deleted))

    def _vmi_added(self, vmi: FrozenDict) -> None:
        key = controller_key(vmi, Kind.VIRTUAL_MACHINE_INSTANCE_REPLICA_SET)
        if key:
            self.expectations.creation_observed(key)
            self.controller.enqueue_key(key)

    def _vmi_updated(self, old: FrozenDict, new: FrozenDict) -> None:
        key = controller_key(new, Kind.VIRTUAL_MACHINE_INSTANCE_REPLICA_SET)
        if key:
            if is_deleting(new):
                self.expectations.deletion_observed(key, str(new["metadata"].get("uid")))
            self.controller.enqueue_key(key)

    def _vmi_deleted(self, vmi: FrozenDict) -> None:
        key = controller_key(vmi, Kind.VIRTUAL_MACHINE_INSTANCE_REPLICA_SET)
        if key:
            self.expectations.deletion_observed(key, str(vmi["metadata"].get("uid")))
            self.controller.enqueue_key(key)

    async def reconcile(self, key: str) -> Result:
        cached = self.replicasets.get(key)
        if cached is None:
            self.expectations.delete_expectations(key)
            return DONE
        rs = thaw(cached)
        vmis = [thaw(v) for v in self.vmis.by_index(OWNER_UID_INDEX, str(rs["metadata"].get("uid")))]
        snapshot = RSSnapshot(rs=rs, vmis=vmis, expectations_satisfied=self.expectations.satisfied(key),
                              now=rfc3339(self.clock.now()))
        failure: tuple[str, str] | None = None
        actions = plan(snapshot)
        deleting = [uid for a in actions if isinstance(a, DeleteVMIs) for _, uid in a.refs]
        creating = sum(a.count for a in actions if isinstance(a, CreateVMIs))
        if actions:
            self.expectations.expect_deletions(key, deleting)
            self.expectations.counts.raise_expectations(key, add=creating)
        for action in actions:
            try:
                if isinstance(action, CreateVMIs):
                    await self._create(key, rs, action)
                else:
                    await self._delete(key, rs, action)
            except ApiError as e:
                failure = ("FailedCreate" if isinstance(action, CreateVMIs) else "FailedDelete", e.message)
        status = compute_status(snapshot, failure)
        if status != (rs.get("status") or {}):
            try:
                await self.client.update_status(VMIRSS, {**rs, "status": status})
            except NotFound:
                return DONE
        if failure is not None:
            raise RuntimeError(f"{failure[0]}: {failure[1]}")
        return DONE

    async def _create(self, key: str, rs: Mapping[str, Any], action: CreateVMIs) -> None:
        async def one() -> None:
            try:
                vmi = await self.client.create(VMIS, action.vmi)
            except ApiError as e:
                self.expectations.creation_observed(key)
                self.recorder.warning(rs, "FailedCreate", f"Error creating VMI: {e.message}")
                raise
            self.recorder.normal(rs, "SuccessfulCreate", f"Created virtual machine instance: {vmi['metadata']['name']}")

        results = await asyncio.gather(*(one() for _ in range(action.count)), return_exceptions=True)
        _raise_first(results)

    async def _delete(self, key: str, rs: Mapping[str, Any], action: DeleteVMIs) -> None:
        async def one(name: str, uid: str) -> None:
            try:
                await self.client.delete(VMIS, name, rs["metadata"]["namespace"], uid=uid)
            except NotFound:
                self.expectations.deletion_observed(key, uid)
                return
            except ApiError as e:
                self.expectations.deletion_observed(key, uid)
                self.recorder.warning(rs, "FailedDelete", f"Error deleting VMI {name}: {e.message}")
                raise
            self.recorder.normal(rs, "SuccessfulDelete", f"Deleted virtual machine instance {name} ({action.reason})")

        results = await asyncio.gather(*(one(n, u) for n, u in action.refs), return_exceptions=True)
        _raise_first(results)

    async def run(self) -> None:
        await self.controller.run()


def _raise_first(results: list[Any]) -> None:
    for r in results:
        if isinstance(r, BaseException):
            raise r
