"""What the VMI controller must do for one VirtualMachineInstance: a pure `plan(snapshot, now)`.

Rules (reference §2.3, §3.1, Appendix E):
- an unprocessed VMI that is not being deleted gets the finalizer
  `kubevirt.io/foregroundDeleteVirtualMachine` (the VMI is written before the Pod) and one launcher Pod, never two:
  nothing is created while a creation is still expected, while any launcher Pod of the VMI exists,
  or while a launcher Pod of an earlier VMI of the same name has not ended (its QEMU may still hold
  the disks);
- every PVC the VMI's volumes use (a DataVolume's has its name) must exist before the Pod is
  created: a missing one raises `ReconcileError(FailedPvcNotFound)`, which the shell writes as
  `Synchronized=False` and a Warning Event; the next pass that finds them clears it;
- the phase moves Pending → Scheduling (a Pod exists) → Scheduled (the Pod runs), or to Failed
  when the Pod fails or vanishes first, or when the launcher dies later (see `status.compute_vmi`);
- Pods are deleted only when the VMI is final (the handler is done) or when a deleted VMI never
  got scheduled (the status computation makes that VMI Failed first);
- the finalizer is removed once the VMI is final and none of its Pods is left;
- a write whose only change is Pending → Scheduling is held back while the Pod this controller just
  created may still start within `scheduling_settle` seconds (the plan has no status and asks to be
  looked at again then): when the Pod runs, the next pass writes Scheduling and Scheduled in one
  write (both in `phaseTransitionTimestamps`), one VMI write fewer per start than upstream's one
  write per phase. A Pod that does not start in that time, or any other change (an unschedulable
  or image pull condition, a failure), is written at once.

The plan's status is the whole VMI to write (VMIs have no status subresource: phase, conditions,
labels and finalizers go in one update after the actions), or None when nothing changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from virt_client.api.constants import VMI_FINALIZER
from virt_client.api.constants import VirtualMachineInstancePhase as Phase
from virt_client.api.times import rfc3339
from virt_client.api.views import PersistentVolumeClaimView, PodView, VirtualMachineInstanceView
from virt_client.reconcile import Plan, ReconcileError
from virt_controller.errors import Reason
from virt_controller.pod_render import render_launcher_pod
from virt_controller.settings import LauncherConfig
from virt_controller.vmi.status import UNPROCESSED, VMIObject, clear_failure, compute_vmi, pod_is_down


@dataclass(frozen=True)
class VMISnapshot:
    """Everything `plan` looks at, read from the caches by the shell."""

    vmi: VirtualMachineInstanceView
    #: the launcher Pods of this VMI (by its uid)
    pods: Sequence[PodView]
    expectations_satisfied: bool
    pod_suffix: str
    launcher: LauncherConfig
    #: the PVCs the VMI's volumes name, by claim name, as cached; None when PVCs are not watched
    pvcs: Mapping[str, PersistentVolumeClaimView] | None = None
    #: launcher Pods of earlier VMIs with this VMI's name that have not ended yet
    predecessors: Sequence[PodView] = ()
    #: seconds the Pending → Scheduling write may still wait for the new Pod to run (0: write now)
    scheduling_settle: float = 0.0


@dataclass(frozen=True)
class AddFinalizer:
    """Write the VMI with its finalizer (and the phase it has now) before anything is created; the
    plan's status is then that same object, so the shell does not write it twice."""

    vmi: VMIObject


@dataclass(frozen=True)
class CreatePod:
    pod: dict[str, Any]


@dataclass(frozen=True)
class DeletePod:
    name: str
    uid: str


Action = AddFinalizer | CreatePod | DeletePod
VMIPlan = Plan[Action, VMIObject]


def _created(pod: PodView) -> tuple[str, str]:
    return pod.metadata.creation_timestamp or "", pod.name


def current_pod(pods: Sequence[PodView]) -> PodView | None:
    """The launcher Pod that speaks for the VMI: the oldest live one, else the newest ended one."""
    live = sorted((p for p in pods if not pod_is_down(p)), key=_created)
    if live:
        return live[0]
    ended = sorted(pods, key=_created)
    return ended[-1] if ended else None


def missing_claim(vmi: VirtualMachineInstanceView, pvcs: Mapping[str, PersistentVolumeClaimView]) -> str | None:
    """The first PVC a volume uses that does not exist."""
    for volume in vmi.spec.volumes:
        claim = volume.claim_name
        if claim is not None and claim not in pvcs:
            return claim
    return None


def plan(s: VMISnapshot, now: datetime) -> VMIPlan:
    """The writes for one VMI, in the order they must run, and the VMI to write after them."""
    vmi = s.vmi
    stamp = rfc3339(now)
    new = compute_vmi(vmi, current_pod(s.pods), not s.expectations_satisfied, stamp)
    new_view = VirtualMachineInstanceView(new)
    actions: list[Action] = []
    finalizers = list(vmi.finalizers)

    if new_view.is_final:
        actions += [DeletePod(p.name, p.uid) for p in s.pods if not p.is_deleting]
        if not s.pods and VMI_FINALIZER in finalizers:
            new["metadata"]["finalizers"] = [f for f in finalizers if f != VMI_FINALIZER]
    elif not vmi.is_deleting and new_view.phase in UNPROCESSED and not s.pods and s.expectations_satisfied:
        if s.pvcs is not None and (claim := missing_claim(vmi, s.pvcs)) is not None:
            raise ReconcileError(Reason.FAILED_PVC_NOT_FOUND,
                                 f"PVC {vmi.namespace}/{claim} does not exist, waiting for it to appear")
        if not s.predecessors:
            if VMI_FINALIZER not in finalizers:
                new["metadata"]["finalizers"] = [*finalizers, VMI_FINALIZER]
                actions.append(AddFinalizer(new))
            actions.append(CreatePod(render_launcher_pod(new_view, s.launcher, s.pod_suffix)))
    clear_failure(new)

    if new == vmi.raw:
        return Plan.of(actions)
    if s.scheduling_settle > 0 and not actions and _only_scheduling(vmi, new_view):
        return Plan(requeue_after=s.scheduling_settle)
    return Plan.of(actions, new)


def _only_scheduling(old: VirtualMachineInstanceView, new: VirtualMachineInstanceView) -> bool:
    """The write would only move the phase Pending → Scheduling (conditions and the rest unchanged)."""
    if old.phase not in UNPROCESSED or new.phase is not Phase.SCHEDULING:
        return False
    before, after = dict(old.status.raw), dict(new.status.raw)
    for status in (before, after):
        status.pop("phase", None)
        status.pop("phaseTransitionTimestamps", None)
    return before == after and old.metadata.raw == new.metadata.raw
