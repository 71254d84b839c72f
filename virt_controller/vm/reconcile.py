"""The VM controller's I/O shell: informer handlers, expectations and the reconcile of one key.

Reads the VM, its VMI (same name) and the DataVolumes/PVCs its template names from the caches
into a `VMSnapshot`, runs the pure `plan`, performs its actions through `KubeApi`, then writes the
plan's status. A `ReconcileError` (from the plan, or a refused write here) becomes a Warning Event on
the VM and the Failure condition (`status.failure_status`), and goes on to the runner, which logs it
in one line and retries the key with backoff.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from typing import Any

from virt_client.api.constants import Kind
from virt_client.api.objects import controller_key, is_deleting, uid
from virt_client.api.views import (
    DataVolumeView,
    ObjectView,
    PersistentVolumeClaimView,
    StartFailureView,
    VirtualMachineInstanceView,
    VirtualMachineView,
)
from virt_client.clock import Clock
from virt_client.controller import DONE, Controller, RequeueAfter, Result
from virt_client.errors import ApiError, NotFound
from virt_client.events import EventRecorder
from virt_client.expectations import UIDTrackingExpectations
from virt_client.indexer import FrozenDict
from virt_client.informer import EventHandler, Informer
from virt_client.kube_api import KubeApi
from virt_client.reconcile import ReconcileError
from virt_client.resources import VMIS, VMS
from virt_controller.errors import Reason
from virt_controller.vm.plan import CreateVMI, DeleteVMI, PatchVMSpec, SetFinalizers, VMPlan, VMSnapshot, plan
from virt_controller.vm.snapshot import VMStatus
from virt_controller.vm.status import failure_status, referenced_volumes

log = logging.getLogger(__name__)


class VMController:
    """Run strategies and status for every VirtualMachine."""

    def __init__(self, *, client: KubeApi, vms: Informer, vmis: Informer, datavolumes: Informer | None,
                 pvcs: Informer | None, recorder: EventRecorder, clock: Clock, workers: int,
                 jitter: Callable[[], float] = random.random) -> None:
        self.client = client
        self.vms = vms
        self.vmis = vmis
        self.datavolumes = datavolumes
        self.pvcs = pvcs
        self.recorder = recorder
        self.clock = clock
        self.jitter = jitter
        self.expectations = UIDTrackingExpectations(clock=clock)
        informers = [i for i in (vms, vmis, datavolumes, pvcs) if i is not None]
        self.controller = Controller(name="vm", reconcile=self.reconcile, workers=workers, informers=informers,
                                     clock=clock)
        vms.add_handler(self.controller.handler())
        vmis.add_handler(EventHandler(on_add=self._vmi_added, on_update=self._vmi_updated,
                                      on_delete=self._vmi_deleted))
        for inf in (datavolumes, pvcs):
            if inf is not None:
                inf.add_handler(EventHandler(on_add=self._volume_changed,
                                             on_update=lambda old, new: self._volume_changed(new),
                                             on_delete=self._volume_changed))

    # -- informer handlers --------------------------------------------------------------------

    def _vmi_added(self, vmi: FrozenDict) -> None:
        key = controller_key(vmi, Kind.VIRTUAL_MACHINE)
        if key:
            self.expectations.creation_observed(key)
            self.controller.enqueue_key(key)

    def _vmi_updated(self, old: FrozenDict, new: FrozenDict) -> None:
        key = controller_key(new, Kind.VIRTUAL_MACHINE)
        if key:
            if is_deleting(new):
                self.expectations.deletion_observed(key, uid(new))
            self.controller.enqueue_key(key)

    def _vmi_deleted(self, vmi: FrozenDict) -> None:
        key = controller_key(vmi, Kind.VIRTUAL_MACHINE)
        if key:
            self.expectations.deletion_observed(key, uid(vmi))
            self.controller.enqueue_key(key)

    def _volume_changed(self, obj: FrozenDict) -> None:
        volume = ObjectView(obj)  # a DataVolume or a PVC: only its name matters
        for vm in self.vms.by_index("namespace", volume.namespace):
            dvs, pvcs = referenced_volumes(VirtualMachineView(vm))
            if volume.name in (*dvs, *pvcs):
                self.controller.enqueue(vm)

    # -- reconcile ----------------------------------------------------------------------------

    def _snapshot(self, key: str, vm: VirtualMachineView) -> VMSnapshot:
        ns = vm.namespace
        cached_vmi = self.vmis.get(key)
        vmi = VirtualMachineInstanceView(cached_vmi) if cached_vmi is not None else None
        ref = vmi.controller_ref if vmi is not None else None
        if ref is not None and ref.kind == Kind.VIRTUAL_MACHINE and ref.uid != vm.uid:
            vmi = None  # another VM's VMI of the same name: not ours to act on
        dv_names, pvc_names = referenced_volumes(vm)
        dvs = {n: DataVolumeView(o) for n in dv_names
               if self.datavolumes is not None and (o := self.datavolumes.get(f"{ns}/{n}")) is not None}
        pvcs = {n: PersistentVolumeClaimView(o) for n in pvc_names
                if self.pvcs is not None and (o := self.pvcs.get(f"{ns}/{n}")) is not None}
        adds, deletes = self.expectations.counts.pending(key)
        satisfied = self.expectations.satisfied(key)
        return VMSnapshot(vm=vm, vmi=vmi, expecting_creation=not satisfied and adds > 0,
                          expecting_deletion=not satisfied and deletes > 0, datavolumes=dvs, pvcs=pvcs,
                          jitter=self.jitter())

    async def reconcile(self, key: str) -> Result:
        cached = self.vms.get(key)
        if cached is None:
            self.expectations.delete_expectations(key)
            return DONE
        snapshot = self._snapshot(key, VirtualMachineView(cached))
        now = self.clock.now()
        try:
            result = plan(snapshot, now)
            vm = await self._perform(key, snapshot.vm, result)
        except ReconcileError as e:
            await self._record_failure(snapshot, failure_status(snapshot, now, e), e)
            raise
        if vm is not None and result.status is not None:
            await self._write_status(vm, result.status)
        if result.requeue_after:
            return RequeueAfter(result.requeue_after)
        return DONE

    async def _perform(self, key: str, vm: VirtualMachineView, result: VMPlan) -> Mapping[str, Any] | None:
        """Run the actions; the VM as last written or read (None: it is gone, or its spec just changed)."""
        latest: Mapping[str, Any] = vm.raw
        for action in result.actions:
            if isinstance(action, CreateVMI):
                await self._create_vmi(key, vm, action)
            elif isinstance(action, DeleteVMI):
                await self._delete_vmi(key, vm, action)
            elif isinstance(action, PatchVMSpec):
                try:
                    await self.client.patch(VMS, vm.name, action.patch, vm.namespace, patch_type="json")
                except NotFound:
                    pass
                except ApiError as e:
                    raise ReconcileError(Reason.FAILED_UPDATE, f"Error starting the virtual machine: {e.message}") \
                        from e
                return None  # the spec changed: the update event brings the VM back
            elif isinstance(action, SetFinalizers):
                patched = await self._set_finalizers(vm, action)
                if patched is None:
                    return None
                latest = patched
        return latest

    async def _create_vmi(self, key: str, vm: VirtualMachineView, action: CreateVMI) -> None:
        self.expectations.expect_creations(key, 1)
        try:
            vmi = await self.client.create(VMIS, action.vmi)
        except ApiError as e:
            self.expectations.creation_observed(key)
            raise ReconcileError(Reason.FAILED_CREATE,
                                 f"Error creating virtual machine instance: {e.message}") from e
        self.recorder.normal(vm.raw, "SuccessfulCreate",
                             f"Started the virtual machine by creating the new virtual machine instance "
                             f"{VirtualMachineInstanceView(vmi).name}")

    async def _delete_vmi(self, key: str, vm: VirtualMachineView, action: DeleteVMI) -> None:
        self.expectations.expect_deletions(key, [action.uid])
        try:
            await self.client.delete(VMIS, action.name, vm.namespace, uid=action.uid)
        except NotFound:
            self.expectations.deletion_observed(key, action.uid)
            return
        except ApiError as e:
            self.expectations.deletion_observed(key, action.uid)
            raise ReconcileError(Reason.FAILED_DELETE,
                                 f"Error deleting virtual machine instance: {e.message}") from e
        self.recorder.normal(vm.raw, "SuccessfulDelete",
                             f"Stopped the virtual machine by deleting the virtual machine instance {action.uid} "
                             f"({action.reason})")

    async def _set_finalizers(self, vm: VirtualMachineView, action: SetFinalizers) -> dict[str, Any] | None:
        ops: list[dict[str, Any]] = []
        if action.previous is None:
            ops.append({"op": "add", "path": "/metadata/finalizers", "value": action.finalizers})
        else:
            ops += [{"op": "test", "path": "/metadata/finalizers", "value": action.previous},
                    {"op": "replace", "path": "/metadata/finalizers", "value": action.finalizers}]
        try:
            return await self.client.patch(VMS, vm.name, ops, vm.namespace, patch_type="json")
        except NotFound:
            return None
        except ApiError as e:
            raise ReconcileError(Reason.FAILED_UPDATE, f"Error updating the finalizers: {e.message}") from e

    async def _write_status(self, vm: Mapping[str, Any], status: VMStatus) -> None:
        old = VirtualMachineView(vm).status
        start_failure = StartFailureView(status.get("startFailure"))
        if start_failure and start_failure.raw != old.raw.get("startFailure"):
            self.recorder.warning(vm, "CrashLoopBackOff",
                                  f"VMI failed to start {start_failure.consecutive_fail_count} time(s); "
                                  f"next start after {start_failure.retry_after_timestamp}")
        try:
            await self.client.update_status(VMS, {**vm, "status": status})
        except NotFound:
            return

    async def _record_failure(self, snapshot: VMSnapshot, status: VMStatus, error: ReconcileError) -> None:
        vm = snapshot.vm
        self.recorder.warning(vm.raw, error.reason, error.message)
        if status == vm.status.raw:
            return
        try:
            await self.client.update_status(VMS, {**vm.raw, "status": status})
        except ApiError as e:
            log.info("VM %s: the Failure condition was not written: %s", vm.key, e.message)

    async def run(self) -> None:
        await self.controller.run()
