"""The VM controller's I/O shell: informer handlers, expectations and the reconcile of one key.

Reads the VM, its VMI (same name) and the DataVolumes/PVCs its template names from the caches,
runs the pure `plan`, performs the writes, then writes the status from the pure
`compute_status` (with the Failure condition when a write failed) if it changed.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Mapping
from typing import Any

from virt_client.api.constants import Kind
from virt_client.api.objects import controller_key, is_controlled_by, is_deleting
from virt_client.clock import Clock
from virt_client.controller import DONE, Controller, RequeueAfter, Result
from virt_client.errors import AlreadyExists, ApiError, NotFound
from virt_client.events import EventRecorder
from virt_client.expectations import UIDTrackingExpectations
from virt_client.indexer import FrozenDict, split_key, thaw
from virt_client.informer import EventHandler, Informer
from virt_client.kube import KubeClient
from virt_client.resources import VMIS, VMS
from virt_controller.vm.plan import CreateVMI, DeleteVMI, PatchVMSpec, SetFinalizers, VMSnapshot, plan
from virt_controller.vm.status import compute_status, referenced_volumes

log = logging.getLogger(__name__)


class VMController:
    """Run strategies and status for every VirtualMachine."""

    def __init__(self, *, client: KubeClient, vms: Informer, vmis: Informer, datavolumes: Informer | None,
                 pvcs: Informer | None, recorder: EventRecorder, clock: Clock, workers: int) -> None:
        self.client = client
        self.vms = vms
        self.vmis = vmis
        self.datavolumes = datavolumes
        self.pvcs = pvcs
        self.recorder = recorder
        self.clock = clock
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
                self.expectations.deletion_observed(key, str(new["metadata"].get("uid")))
            self.controller.enqueue_key(key)

    def _vmi_deleted(self, vmi: FrozenDict) -> None:
        key = controller_key(vmi, Kind.VIRTUAL_MACHINE)
        if key:
            self.expectations.deletion_observed(key, str(vmi["metadata"].get("uid")))
            self.controller.enqueue_key(key)

    def _volume_changed(self, obj: FrozenDict) -> None:
        ns = obj["metadata"].get("namespace")
        for vm in self.vms.by_index("namespace", str(ns)):
            dvs, pvcs = referenced_volumes(vm)
            if obj["metadata"].get("name") in (*dvs, *pvcs):
                self.controller.enqueue(vm)

    # -- reconcile ----------------------------------------------------------------------------

    def _snapshot(self, key: str, vm: dict[str, Any]) -> VMSnapshot:
        ns, _ = split_key(key)
        cached_vmi = self.vmis.get(key)
        vmi = thaw(cached_vmi) if cached_vmi is not None else None
        if vmi is not None and not is_controlled_by(vmi, str(vm["metadata"].get("uid"))):
            vmi = None if controller_key(vmi, Kind.VIRTUAL_MACHINE) else vmi
        dv_names, pvc_names = referenced_volumes(vm)
        dvs = {n: thaw(o) for n in dv_names if self.datavolumes and (o := self.datavolumes.get(f"{ns}/{n}"))}
        pvcs = {n: thaw(o) for n in pvc_names if self.pvcs and (o := self.pvcs.get(f"{ns}/{n}"))}
        adds, deletes = self.expectations.counts.pending(key)
        satisfied = self.expectations.satisfied(key)
        return VMSnapshot(vm=vm, vmi=vmi, now=self.clock.now(), expecting_creation=not satisfied and adds > 0,
                          expecting_deletion=not satisfied and deletes > 0, datavolumes=dvs, pvcs=pvcs)

    async def reconcile(self, key: str) -> Result:
        cached = self.vms.get(key)
        if cached is None:
            self.expectations.delete_expectations(key)
            return DONE
        vm = thaw(cached)
        snapshot = self._snapshot(key, vm)
        result = plan(snapshot)
        failure: tuple[str, str] | None = None
        created = deleted = False
        if result.error:
            failure = ("InvalidRunStrategy", result.error)
        for action in result.actions:
            try:
                if isinstance(action, CreateVMI):
                    await self._create_vmi(key, vm, action)
                    created = True
                elif isinstance(action, DeleteVMI):
                    await self._delete_vmi(key, vm, action)
                    deleted = True
                elif isinstance(action, PatchVMSpec):
                    await self.client.patch(VMS, vm["metadata"]["name"], action.patch, vm["metadata"]["namespace"],
                                            patch_type="json")
                    return DONE  # the spec changed: the update event brings the VM back
                elif isinstance(action, SetFinalizers):
                    vm = await self._set_finalizers(vm, action)
            except AlreadyExists as e:
                failure = ("FailedCreate", e.message)
            except ApiError as e:
                failure = ("FailedCreate" if isinstance(action, CreateVMI) else "FailedDelete", e.message)
        if "metadata" not in vm:
            return DONE
        snapshot = dataclasses.replace(snapshot, vm=vm,
                                       expecting_creation=snapshot.expecting_creation or created,
                                       expecting_deletion=snapshot.expecting_deletion or deleted)
        await self._write_status(vm, compute_status(snapshot, failure=failure,
                                                    add_start_request=result.add_start_request,
                                                    jitter=random.random()))
        if failure is not None:
            raise RuntimeError(f"{failure[0]}: {failure[1]}")
        if result.requeue_after:
            return RequeueAfter(result.requeue_after)
        return DONE

    async def _create_vmi(self, key: str, vm: Mapping[str, Any], action: CreateVMI) -> None:
        self.expectations.expect_creations(key, 1)
        try:
            vmi = await self.client.create(VMIS, action.vmi)
        except ApiError as e:
            self.expectations.creation_observed(key)
            self.recorder.warning(vm, "FailedCreate", f"Error creating virtual machine instance: {e.message}")
            raise
        self.recorder.normal(vm, "SuccessfulCreate",
                             f"Started the virtual machine by creating the new virtual machine instance "
                             f"{vmi['metadata']['name']}")

    async def _delete_vmi(self, key: str, vm: Mapping[str, Any], action: DeleteVMI) -> None:
        self.expectations.expect_deletions(key, [action.uid])
        try:
            await self.client.delete(VMIS, action.name, vm["metadata"]["namespace"], uid=action.uid)
        except NotFound:
            self.expectations.deletion_observed(key, action.uid)
            return
        except ApiError as e:
            self.expectations.deletion_observed(key, action.uid)
            self.recorder.warning(vm, "FailedDelete", f"Error deleting virtual machine instance: {e.message}")
            raise
        self.recorder.normal(vm, "SuccessfulDelete",
                             f"Stopped the virtual machine by deleting the virtual machine instance {action.uid} "
                             f"({action.reason})")

    async def _set_finalizers(self, vm: dict[str, Any], action: SetFinalizers) -> dict[str, Any]:
        ops: list[dict[str, Any]] = []
        if action.previous is None:
            ops.append({"op": "add", "path": "/metadata/finalizers", "value": action.finalizers})
        else:
            ops += [{"op": "test", "path": "/metadata/finalizers", "value": action.previous},
                    {"op": "replace", "path": "/metadata/finalizers", "value": action.finalizers}]
        try:
            return await self.client.patch(VMS, vm["metadata"]["name"], ops, vm["metadata"]["namespace"],
                                           patch_type="json")
        except NotFound:
            return {}

    async def _write_status(self, vm: dict[str, Any], status: dict[str, Any]) -> None:
        old = vm.get("status") or {}
        if old != status:
            start_failure = status.get("startFailure") or {}
            if start_failure and start_failure != old.get("startFailure"):
                self.recorder.warning(vm, "CrashLoopBackOff",
                                      f"VMI failed to start {start_failure.get('consecutiveFailCount')} time(s); "
                                      f"next start after {start_failure.get('retryAfterTimestamp')}")
            try:
                await self.client.update_status(VMS, {**vm, "status": status})
            except NotFound:
                return

    async def run(self) -> None:
        await self.controller.run()
