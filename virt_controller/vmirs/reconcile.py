"""The replica-set controller's I/O shell: handlers, expectations and the reconcile of one key.

Reads the VMIRS and the VMIs it controls from the caches into an `RSSnapshot`, runs the pure
`plan`, creates and deletes VMIs through `KubeApi` (each batch concurrently), then writes the plan's
status. A refused write becomes a `ReconcileError` (`FailedCreate`/`FailedDelete`): a Warning Event
on the VMIRS and its `ReplicaFailure` condition, then the runner's one-line log and backoff.
"""

from __future__ import annotations

import asyncio
import logging

from virt_client.api.constants import Kind
from virt_client.api.objects import controller_key, is_deleting, uid
from virt_client.api.views import VirtualMachineInstanceReplicaSetView, VirtualMachineInstanceView
from virt_client.clock import Clock
from virt_client.controller import DONE, Controller, Result
from virt_client.errors import ApiError, NotFound
from virt_client.events import EventRecorder
from virt_client.expectations import UIDTrackingExpectations
from virt_client.indexer import FrozenDict
from virt_client.informer import EventHandler, Informer
from virt_client.kube_api import KubeApi
from virt_client.reconcile import ReconcileError
from virt_client.resources import VMIRSS, VMIS
from virt_controller.errors import Reason
from virt_controller.ownership import OWNER_UID_INDEX
from virt_controller.vmirs.plan import CreateVMIs, DeleteVMIs, RSSnapshot, RSStatus, compute_status, plan

log = logging.getLogger(__name__)


class ReplicaSetController:
    """Keeps `spec.replicas` VMIs alive for every VMIRS."""

    def __init__(self, *, client: KubeApi, replicasets: Informer, vmis: Informer, recorder: EventRecorder,
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
                self.expectations.deletion_observed(key, uid(new))
            self.controller.enqueue_key(key)

    def _vmi_deleted(self, vmi: FrozenDict) -> None:
        key = controller_key(vmi, Kind.VIRTUAL_MACHINE_INSTANCE_REPLICA_SET)
        if key:
            self.expectations.deletion_observed(key, uid(vmi))
            self.controller.enqueue_key(key)

    async def reconcile(self, key: str) -> Result:
        cached = self.replicasets.get(key)
        if cached is None:
            self.expectations.delete_expectations(key)
            return DONE
        rs = VirtualMachineInstanceReplicaSetView(cached)
        vmis = [VirtualMachineInstanceView(v) for v in self.vmis.by_index(OWNER_UID_INDEX, rs.uid)]
        snapshot = RSSnapshot(rs=rs, vmis=vmis, expectations_satisfied=self.expectations.satisfied(key))
        now = self.clock.now()
        result = plan(snapshot, now)
        deleting = [u for a in result.actions if isinstance(a, DeleteVMIs) for _, u in a.refs]
        creating = sum(a.count for a in result.actions if isinstance(a, CreateVMIs))
        if result.actions:
            self.expectations.expect_deletions(key, deleting)
            self.expectations.counts.raise_expectations(key, add=creating)
        try:
            for action in result.actions:
                if isinstance(action, CreateVMIs):
                    await self._create(key, rs, action)
                else:
                    await self._delete(key, rs, action)
        except ReconcileError as e:
            self.recorder.warning(rs.raw, e.reason, e.message)
            await self._write_status(rs, compute_status(snapshot, now, e))
            raise
        if result.status is not None:
            await self._write_status(rs, result.status)
        return DONE

    async def _write_status(self, rs: VirtualMachineInstanceReplicaSetView, status: RSStatus) -> None:
        if status == rs.status.raw:
            return
        try:
            await self.client.update_status(VMIRSS, {**rs.raw, "status": status})
        except NotFound:
            return

    async def _create(self, key: str, rs: VirtualMachineInstanceReplicaSetView, action: CreateVMIs) -> None:
        async def one() -> None:
            try:
                vmi = await self.client.create(VMIS, action.vmi)
            except ApiError as e:
                self.expectations.creation_observed(key)
                raise ReconcileError(Reason.FAILED_CREATE, f"Error creating VMI: {e.message}") from e
            self.recorder.normal(rs.raw, "SuccessfulCreate",
                                 f"Created virtual machine instance: {VirtualMachineInstanceView(vmi).name}")

        _raise_first(await asyncio.gather(*(one() for _ in range(action.count)), return_exceptions=True))

    async def _delete(self, key: str, rs: VirtualMachineInstanceReplicaSetView, action: DeleteVMIs) -> None:
        async def one(name: str, vmi_uid: str) -> None:
            try:
                await self.client.delete(VMIS, name, rs.namespace, uid=vmi_uid)
            except NotFound:
                self.expectations.deletion_observed(key, vmi_uid)
                return
            except ApiError as e:
                self.expectations.deletion_observed(key, vmi_uid)
                raise ReconcileError(Reason.FAILED_DELETE, f"Error deleting VMI {name}: {e.message}") from e
            self.recorder.normal(rs.raw, "SuccessfulDelete",
                                 f"Deleted virtual machine instance {name} ({action.reason})")

        _raise_first(await asyncio.gather(*(one(n, u) for n, u in action.refs), return_exceptions=True))

    async def run(self) -> None:
        await self.controller.run()


def _raise_first(results: list[BaseException | None]) -> None:
    for r in results:
        if isinstance(r, BaseException):
            raise r
