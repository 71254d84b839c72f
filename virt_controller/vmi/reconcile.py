"""The VMI controller's I/O shell: informer handlers, expectations and the reconcile of one key.

Reads the VMI and its launcher Pods from the caches, calls the pure `plan`, performs the writes
and records events. Expectations (per VMI key) keep a slow Pod cache from causing a second Pod.
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Mapping
from typing import Any

from virt_client.api.constants import Kind
from virt_client.api.objects import controller_key, is_deleting
from virt_client.api.times import rfc3339
from virt_client.clock import Clock
from virt_client.controller import DONE, Controller, RequeueAfter, Result
from virt_client.errors import AlreadyExists, NotFound
from virt_client.events import EventRecorder
from virt_client.expectations import UIDTrackingExpectations
from virt_client.indexer import FrozenDict, thaw
from virt_client.informer import EventHandler, Informer
from virt_client.kube import KubeClient
from virt_client.resources import PODS, VMIS
from virt_controller.ownership import CREATED_BY_INDEX
from virt_controller.settings import LauncherConfig
from virt_controller.vmi.plan import CreatePod, DeletePod, UpdateVMI, VMISnapshot, Wait, plan

log = logging.getLogger(__name__)
_ALPHABET = string.ascii_lowercase + string.digits
#: how long a VMI whose new launcher Pod has not run yet stays Pending before Scheduling is written
SCHEDULING_SETTLE_SECONDS = 1.0


def random_suffix() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(5))


class VMIController:
    """Launcher Pods and phases up to Scheduled for every VMI."""

    def __init__(self, *, client: KubeClient, vmis: Informer, pods: Informer, recorder: EventRecorder,
                 launcher: LauncherConfig, clock: Clock, workers: int) -> None:
        self.client = client
        self.vmis = vmis
        self.pods = pods
        self.recorder = recorder
        self.launcher = launcher
        self.clock = clock
        self.expectations = UIDTrackingExpectations(clock=clock)
        self._pod_created_at: dict[str, float] = {}  # VMI key -> when this controller created its Pod
        self.controller = Controller(name="vmi", reconcile=self.reconcile, workers=workers,
                                     informers=[vmis, pods], clock=clock)
        vmis.add_handler(self.controller.handler())
        pods.add_handler(EventHandler(on_add=self._pod_added, on_update=self._pod_updated,
                                      on_delete=self._pod_deleted))

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
                self.expectations.deletion_observed(key, str(new["metadata"].get("uid")))
            self.controller.enqueue_key(key)

    def _pod_deleted(self, pod: FrozenDict) -> None:
        key = controller_key(pod, Kind.VIRTUAL_MACHINE_INSTANCE)
        if key:
            self.expectations.deletion_observed(key, str(pod["metadata"].get("uid")))
            self.controller.enqueue_key(key)

    # -- reconcile ----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Result:
        cached = self.vmis.get(key)
        if cached is None:
            self.expectations.delete_expectations(key)
            self._pod_created_at.pop(key, None)
            return DONE
        vmi = thaw(cached)
        uid = str(vmi["metadata"].get("uid"))
        pods = [thaw(p) for p in self.pods.by_index(CREATED_BY_INDEX, uid)]
        created_at = self._pod_created_at.get(key)
        settle = 0.0 if created_at is None else SCHEDULING_SETTLE_SECONDS - (self.clock.monotonic() - created_at)
        snapshot = VMISnapshot(vmi=vmi, pods=pods, expectations_satisfied=self.expectations.satisfied(key),
                               now=rfc3339(self.clock.now()), pod_suffix=random_suffix(), launcher=self.launcher,
                               scheduling_settle=max(0.0, settle))
        for action in plan(snapshot):
            if isinstance(action, Wait):
                return RequeueAfter(action.seconds)
            if isinstance(action, UpdateVMI):
                if (action.vmi.get("status") or {}).get("phase") not in ("", "Pending"):
                    self._pod_created_at.pop(key, None)
                await self._update_vmi(vmi, action.vmi)
            elif isinstance(action, CreatePod):
                await self._create_pod(key, vmi, action.pod)
            elif isinstance(action, DeletePod):
                await self._delete_pod(key, vmi, action)
        return DONE

    async def _update_vmi(self, old: Mapping[str, Any], new: dict[str, Any]) -> None:
        await self.client.update(VMIS, new)
        old_phase = (old.get("status") or {}).get("phase") or ""
        new_status = new.get("status") or {}
        if new_status.get("phase") != old_phase and new_status.get("phase") == "Failed":
            self.recorder.warning(new, str(new_status.get("reason") or "Failed"),
                                  f"VirtualMachineInstance failed in phase {old_phase or 'Pending'}: "
                                  f"{new_status.get('reason')}")

    async def _create_pod(self, key: str, vmi: Mapping[str, Any], pod: dict[str, Any]) -> None:
        self.expectations.expect_creations(key, 1)
        try:
            created = await self.client.create(PODS, pod)
            self._pod_created_at[key] = self.clock.monotonic()
        except AlreadyExists:
            self.expectations.creation_observed(key)
            raise
        except Exception as e:
            self.expectations.creation_observed(key)
            self.recorder.warning(vmi, "FailedCreate", f"Error creating pod: {e}")
            raise
        self.recorder.normal(vmi, "SuccessfulCreate", f"Created virtual machine pod {created['metadata']['name']}")

    async def _delete_pod(self, key: str, vmi: Mapping[str, Any], action: DeletePod) -> None:
        self.expectations.expect_deletions(key, [action.uid])
        try:
            await self.client.delete(PODS, action.name, vmi["metadata"]["namespace"], uid=action.uid)
        except NotFound:
            self.expectations.deletion_observed(key, action.uid)
            return
        except Exception as e:
            self.expectations.deletion_observed(key, action.uid)
            self.recorder.warning(vmi, "FailedDelete", f"Error deleting pod {action.name}: {e}")
            raise
        self.recorder.normal(vmi, "SuccessfulDelete", f"Deleted virtual machine pod {action.name}")

    async def run(self) -> None:
        await self.controller.run()

