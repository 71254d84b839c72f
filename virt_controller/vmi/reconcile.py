"""The VMI controller's I/O shell: informer handlers, expectations and the reconcile of one key.

Reads the VMI, its launcher Pods, the launcher Pods of earlier VMIs of the same name and the PVCs
its volumes name from the caches into a `VMISnapshot`, calls the pure `plan`, performs its actions
through `KubeApi`, then writes the VMI the plan computed. Expectations (per VMI key) keep a slow Pod
cache from causing a second Pod. A `ReconcileError` (a missing PVC, a refused write) becomes a
Warning Event and `Synchronized=False` on the VMI (`status.failure_vmi`) and goes on to the runner,
which logs it in one line and retries the key with backoff; a PVC appearing requeues the VMIs
waiting for it at once.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import string
from typing import Any

from virt_client.api.constants import CREATED_BY_LABEL, Kind
from virt_client.api.constants import VirtualMachineInstancePhase as Phase
from virt_client.api.objects import controller_key, is_deleting, uid
from virt_client.api.times import rfc3339
from virt_client.api.views import PersistentVolumeClaimView, PodView, VirtualMachineInstanceView
from virt_client.clock import Clock
from virt_client.controller import DONE, Controller, RequeueAfter, Result
from virt_client.errors import ApiError, NotFound
from virt_client.events import EventRecorder
from virt_client.expectations import UIDTrackingExpectations
from virt_client.indexer import FrozenDict
from virt_client.informer import EventHandler, Informer
from virt_client.kube_api import KubeApi
from virt_client.reconcile import ReconcileError
from virt_client.resources import PODS, VMIS
from virt_controller.errors import Reason
from virt_controller.ownership import CREATED_BY_INDEX, VMI_KEY_INDEX, by_created_by, by_vmi_key
from virt_controller.settings import LauncherConfig
from virt_controller.vmi.plan import (
    AddFinalizer,
    CreatePod,
    DeletePod,
    VMIPlan,
    VMISnapshot,
    current_pod,
    plan,
)
from virt_controller.vmi.status import (
    UNPROCESSED,
    VMIObject,
    failure_vmi,
    pod_failure_message,
    pod_has_ended,
    pod_is_down,
)

log = logging.getLogger(__name__)
_ALPHABET = string.ascii_lowercase + string.digits
#: how long a VMI whose new launcher Pod has not run yet stays Pending before Scheduling is written
SCHEDULING_SETTLE_SECONDS = 1.0


def random_suffix() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(5))


class VMIController:
    """Launcher Pods and phases up to Scheduled for every VMI."""

    def __init__(self, *, client: KubeApi, vmis: Informer, pods: Informer, recorder: EventRecorder,
                 launcher: LauncherConfig, clock: Clock, workers: int, pvcs: Informer | None = None) -> None:
        self.client = client
        self.vmis = vmis
        self.pods = pods
        self.pvcs = pvcs
        self.recorder = recorder
        self.launcher = launcher
        self.clock = clock
        self.expectations = UIDTrackingExpectations(clock=clock)
        self._pod_created_at: dict[str, float] = {}  # VMI key -> when this controller created its Pod
        for index, func in ((CREATED_BY_INDEX, by_created_by), (VMI_KEY_INDEX, by_vmi_key)):
            with contextlib.suppress(ValueError):  # the composition root may have built the index already
                pods.store.add_indexers({index: func})
        informers = [i for i in (vmis, pods, pvcs) if i is not None]
        self.controller = Controller(name="vmi", reconcile=self.reconcile, workers=workers,
                                     informers=informers, clock=clock)
        vmis.add_handler(self.controller.handler())
        pods.add_handler(EventHandler(on_add=self._pod_added, on_update=self._pod_updated,
                                      on_delete=self._pod_deleted))
        if pvcs is not None:
            pvcs.add_handler(EventHandler(on_add=self._pvc_changed))

    # -- informer handlers --------------------------------------------------------------------

    def _pod_added(self, pod: FrozenDict) -> None:
        key = controller_key(pod, Kind.VIRTUAL_MACHINE_INSTANCE)
        if key:
            self.expectations.creation_observed(key)
            self.controller.enqueue_key(key)

    def _pod_updated(self, old: FrozenDict, new: FrozenDict) -> None:
        key = controller_key(new, Kind.VIRTUAL_MACHINE_INSTANCE)
        if key:
            if is_deleting(new):
                self.expectations.deletion_observed(key, uid(new))
            self.controller.enqueue_key(key)

    def _pod_deleted(self, pod: FrozenDict) -> None:
        key = controller_key(pod, Kind.VIRTUAL_MACHINE_INSTANCE)
        if key:
            self.expectations.deletion_observed(key, uid(pod))
            self.controller.enqueue_key(key)

    def _pvc_changed(self, obj: FrozenDict) -> None:
        """A PVC appeared: the VMIs still waiting for their Pod that name it can go on."""
        pvc = PersistentVolumeClaimView(obj)
        for cached in self.vmis.by_index("namespace", pvc.namespace):
            vmi = VirtualMachineInstanceView(cached)
            if vmi.phase in UNPROCESSED and any(v.claim_name == pvc.name for v in vmi.spec.volumes):
                self.controller.enqueue_key(vmi.key)

    # -- reconcile ----------------------------------------------------------------------------

    def _snapshot(self, key: str, vmi: VirtualMachineInstanceView) -> VMISnapshot:
        pods = [PodView(p) for p in self.pods.by_index(CREATED_BY_INDEX, vmi.uid)]
        predecessors = [pod for p in self.pods.by_index(VMI_KEY_INDEX, key)
                        if (pod := PodView(p)).labels.get(CREATED_BY_LABEL) != vmi.uid
                        and (ref := pod.controller_ref) is not None and ref.uid != vmi.uid
                        and not pod_has_ended(pod)]
        pvcs: dict[str, PersistentVolumeClaimView] | None = None
        if self.pvcs is not None:
            pvcs = {claim: PersistentVolumeClaimView(o) for v in vmi.spec.volumes
                    if (claim := v.claim_name) is not None
                    and (o := self.pvcs.get(f"{vmi.namespace}/{claim}")) is not None}
        created_at = self._pod_created_at.get(key)
        settle = 0.0 if created_at is None else SCHEDULING_SETTLE_SECONDS - (self.clock.monotonic() - created_at)
        return VMISnapshot(vmi=vmi, pods=pods, expectations_satisfied=self.expectations.satisfied(key),
                           pod_suffix=random_suffix(), launcher=self.launcher, pvcs=pvcs,
                           predecessors=predecessors, scheduling_settle=max(0.0, settle))

    async def reconcile(self, key: str) -> Result:
        cached = self.vmis.get(key)
        if cached is None:
            self.expectations.delete_expectations(key)
            self._pod_created_at.pop(key, None)
            return DONE
        snapshot = self._snapshot(key, VirtualMachineInstanceView(cached))
        now = self.clock.now()
        try:
            result = plan(snapshot, now)
            resource_version, written = await self._perform(key, snapshot.vmi, result)
            if result.status is not None and result.status is not written:
                await self._write(key, snapshot, result.status, resource_version)
        except ReconcileError as e:
            await self._record_failure(snapshot, failure_vmi(snapshot.vmi, e, rfc3339(now)), e)
            raise
        if result.requeue_after:
            return RequeueAfter(result.requeue_after)
        return DONE

    async def _perform(self, key: str, vmi: VirtualMachineInstanceView,
                       result: VMIPlan) -> tuple[str, VMIObject | None]:
        """Run the actions; the VMI's resourceVersion after them, and the VMI object they wrote (if any)."""
        resource_version = vmi.metadata.resource_version
        written: VMIObject | None = None
        for action in result.actions:
            if isinstance(action, AddFinalizer):
                # a conflict is retried by the runner like any client error: nothing the user must know
                updated = await self.client.update(VMIS, action.vmi)
                resource_version, written = VirtualMachineInstanceView(updated).metadata.resource_version, action.vmi
            elif isinstance(action, CreatePod):
                await self._create_pod(key, vmi, action.pod)
            elif isinstance(action, DeletePod):
                await self._delete_pod(key, vmi, action)
        return resource_version, written

    async def _write(self, key: str, snapshot: VMISnapshot, new: VMIObject, resource_version: str) -> None:
        old = snapshot.vmi
        new_phase = VirtualMachineInstanceView(new).phase
        if new_phase not in UNPROCESSED:
            self._pod_created_at.pop(key, None)
        body = {**new, "metadata": {**new["metadata"], "resourceVersion": resource_version}}
        await self.client.update(VMIS, body)
        if new_phase is Phase.FAILED and old.phase is not Phase.FAILED:
            reason = VirtualMachineInstanceView(new).status.reason or "Failed"
            message = f"VirtualMachineInstance failed in phase {old.phase.value or 'Pending'}: {reason}"
            pod = current_pod(snapshot.pods)
            if pod is not None and pod_is_down(pod):
                message += f"; {pod_failure_message(pod)}"
            self.recorder.warning(new, reason, message)

    async def _create_pod(self, key: str, vmi: VirtualMachineInstanceView, pod: dict[str, Any]) -> None:
        self.expectations.expect_creations(key, 1)
        try:
            created = await self.client.create(PODS, pod)
            self._pod_created_at[key] = self.clock.monotonic()
        except ApiError as e:
            self.expectations.creation_observed(key)
            raise ReconcileError(Reason.FAILED_CREATE, f"Error creating pod: {e.message}") from e
        self.recorder.normal(vmi.raw, "SuccessfulCreate", f"Created virtual machine pod {PodView(created).name}")

    async def _delete_pod(self, key: str, vmi: VirtualMachineInstanceView, action: DeletePod) -> None:
        self.expectations.expect_deletions(key, [action.uid])
        try:
            await self.client.delete(PODS, action.name, vmi.namespace, uid=action.uid)
        except NotFound:
            self.expectations.deletion_observed(key, action.uid)
            return
        except ApiError as e:
            self.expectations.deletion_observed(key, action.uid)
            raise ReconcileError(Reason.FAILED_DELETE, f"Error deleting pod {action.name}: {e.message}") from e
        self.recorder.normal(vmi.raw, "SuccessfulDelete", f"Deleted virtual machine pod {action.name}")

    async def _record_failure(self, snapshot: VMISnapshot, new: VMIObject, error: ReconcileError) -> None:
        vmi = snapshot.vmi
        self.recorder.warning(vmi.raw, error.reason, error.message)
        if new == vmi.raw:
            return
        try:
            await self.client.update(VMIS, new)
        except ApiError as e:
            log.info("VMI %s: the Synchronized condition was not written: %s", vmi.key, e.message)

    async def run(self) -> None:
        await self.controller.run()


