"""What the VMI controller must do for one VirtualMachineInstance: a pure `plan(snapshot)`.

Rules (reference §2.3, §3.1, Appendix E):
- an unprocessed VMI that is not being deleted gets the finalizer
  `kubevirt.io/foregroundDeleteVirtualMachine` and one launcher Pod, never two: nothing is
  created while a creation is still expected, or while any launcher Pod of the VMI exists;
- the phase moves Pending → Scheduling (a Pod exists) → Scheduled (the Pod runs), or to Failed
  when the Pod fails or vanishes first (see `status.compute_vmi`);
- Pods are deleted only when the VMI is final (the handler is done) or when a deleted VMI never
  got scheduled (the status computation makes that VMI Failed first);
- the finalizer is removed once the VMI is final and none of its Pods is left;
- a write whose only change is Pending → Scheduling is held back while the Pod this controller just
  created may still start within `scheduling_settle` seconds (`Wait`): when it does, the next pass
  writes Scheduling and Scheduled in one write (both in `phaseTransitionTimestamps`), one VMI write
  fewer per start than upstream's one write per phase. A Pod that does not start in that time, or any
  other change (an unschedulable or image pull condition, a failure), is written at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from virt_client.api.constants import VMI_FINALIZER
from virt_client.api.constants import VirtualMachineInstancePhase as Phase
from virt_client.api.objects import is_deleting, is_final
from virt_controller.pod_render import render_launcher_pod
from virt_controller.settings import LauncherConfig
from virt_controller.vmi.status import UNPROCESSED, compute_vmi, pod_is_down


@dataclass(frozen=True)
class VMISnapshot:
    """Everything `plan` looks at, read from the caches by the shell."""

    vmi: Mapping[str, Any]
    pods: Sequence[Mapping[str, Any]]
    expectations_satisfied: bool
    now: str
    pod_suffix: str
    launcher: LauncherConfig
    #: seconds the Pending → Scheduling write may still wait for the new Pod to run (0: write now)
    scheduling_settle: float = 0.0


@dataclass(frozen=True)
class CreatePod:
    pod: dict[str, Any]


@dataclass(frozen=True)
class DeletePod:
    name: str
    uid: str


@dataclass(frozen=True)
class UpdateVMI:
    """Write the VMI (whole object, optimistic on its resourceVersion)."""

    vmi: dict[str, Any]


@dataclass(frozen=True)
class Wait:
    """Nothing to write yet: look again after `seconds`."""

    seconds: float


Action = CreatePod | DeletePod | UpdateVMI | Wait


def _created(pod: Mapping[str, Any]) -> tuple[str, str]:
    md = pod.get("metadata") or {}
    return str(md.get("creationTimestamp") or ""), str(md.get("name") or "")


def current_pod(pods: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The launcher Pod that speaks for the VMI: the oldest live one, else the newest ended one."""
    live = sorted((p for p in pods if not pod_is_down(p)), key=_created)
    if live:
        return live[0]
    ended = sorted(pods, key=_created)
    return ended[-1] if ended else None


def _finalizers(vmi: Mapping[str, Any]) -> list[str]:
    return list((vmi.get("metadata") or {}).get("finalizers") or [])


def plan(s: VMISnapshot) -> list[Action]:
    """The actions for one VMI, in the order they must run."""
    vmi = s.vmi
    pod = current_pod(s.pods)
    new = compute_vmi(vmi, pod, not s.expectations_satisfied, s.now)
    actions: list[Action] = []
    deleted = is_deleting(vmi)
    finalizers = _finalizers(new)

    if is_final(new):
        for p in s.pods:
            if not is_deleting(p):
                actions.append(DeletePod(str(p["metadata"]["name"]), str(p["metadata"]["uid"])))
        if not s.pods and VMI_FINALIZER in finalizers:
            new["metadata"]["finalizers"] = [f for f in finalizers if f != VMI_FINALIZER]
    elif not deleted and new["status"].get("phase") in UNPROCESSED and not s.pods and s.expectations_satisfied:
        if VMI_FINALIZER not in finalizers:
            new["metadata"]["finalizers"] = [*finalizers, VMI_FINALIZER]
        actions.append(CreatePod(render_launcher_pod(new, s.launcher, s.pod_suffix)))

    if new != vmi:
        if s.scheduling_settle > 0 and not actions and _only_scheduling(vmi, new):
            return [Wait(s.scheduling_settle)]
        actions.insert(0, UpdateVMI(new))
    return actions


def _only_scheduling(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """The write would only move the phase Pending → Scheduling (conditions and the rest unchanged)."""
    before, after = dict(old.get("status") or {}), dict(new.get("status") or {})
    if before.get("phase") not in UNPROCESSED or after.get("phase") != Phase.SCHEDULING:
        return False
    for status in (before, after):
        status.pop("phase", None)
        status.pop("phaseTransitionTimestamps", None)
    return before == after and old.get("metadata") == new.get("metadata")
