"""Pure status computation of a VirtualMachineInstance from its launcher Pod.

virt-controller owns the phases `Pending → Scheduling → Scheduled` and the move to `Failed` when
the launcher Pod goes away or fails before the domain runs; virt-handler owns
`Scheduled → Running → Succeeded/Failed`. Once the VMI runs, this module fails it too when the
launcher itself dies (its Pod failed, or the node reports the `compute` container terminated with a
non-zero exit code), as upstream's controller does for a vanished Pod; a clean exit is left to the
handler, which knows whether the guest shut down or crashed. It never moves a VMI into `Running` or
out of a final phase.

Conditions kept here: `PodScheduled` (copied from the Pod while it is False), `Synchronized=False`
with `ErrImagePull`/`ImagePullBackOff` while the launcher image cannot be pulled, and `Ready`
(the Pod is ready, the VMI runs and is not paused). A failed reconcile (`ReconcileError`) is
written by `failure_vmi`: `Synchronized=False` with its reason and message (and, for a VMI still
waiting for its Pod, `PodScheduled=False` as upstream writes for a missing PVC).
"""

from __future__ import annotations

from typing import Any

from virt_client.api import conditions as c
from virt_client.api.constants import (
    FINAL_VMI_PHASES,
    LAUNCHER_COMPUTE_CONTAINER,
    NODE_NAME_LABEL,
    ConditionReason,
    MigrationTransport,
)
from virt_client.api.constants import VirtualMachineInstanceConditionType as Cond
from virt_client.api.constants import VirtualMachineInstancePhase as Phase
from virt_client.api.views import (
    ContainerStateTerminatedView,
    PodView,
    VirtualMachineInstanceView,
    find_condition,
)
from virt_client.reconcile import ReconcileError
from virt_controller.errors import Reason

UNPROCESSED = frozenset({Phase.UNSET, Phase.PENDING})
IMAGE_PULL_REASONS = frozenset({ConditionReason.ERR_IMAGE_PULL, ConditionReason.IMAGE_PULL_BACK_OFF})
#: Synchronized=False reasons of this controller's failed passes (cleared by the next pass that succeeds)
CONTROLLER_FAILURE_REASONS = frozenset(Reason)
POD_FAILED_REASON = "PodFailed"
POD_NOT_EXISTS_REASON = "PodNotExists"
ENDED_POD_PHASES = frozenset({"Succeeded", "Failed"})

#: a VMI as written back: the cached object's top level copied, `metadata` and `status` fresh dicts
VMIObject = dict[str, Any]


def compute_terminated(pod: PodView) -> ContainerStateTerminatedView | None:
    """The `compute` container's termination, when the node reports one."""
    for cs in pod.status.container_statuses:
        if cs.name == LAUNCHER_COMPUTE_CONTAINER:
            return cs.state.terminated
    return None


def pod_has_ended(pod: PodView) -> bool:
    """The Pod reached Succeeded or Failed: none of its processes runs any more."""
    return pod.phase in ENDED_POD_PHASES


def pod_is_down(pod: PodView) -> bool:
    """The Pod ended, is being deleted, or its `compute` container terminated: the launcher is gone or going."""
    return pod_has_ended(pod) or pod.is_deleting or compute_terminated(pod) is not None


def launcher_failed(pod: PodView) -> bool:
    """The launcher died: the Pod failed, or `compute` terminated with a non-zero exit code."""
    if pod.phase == "Failed":
        return True
    terminated = compute_terminated(pod)
    return terminated is not None and terminated.exit_code != 0


def pod_is_running(pod: PodView) -> bool:
    """Ready in KubeVirt's sense: bound, phase Running and `compute` running (when reported)."""
    if pod.phase != "Running" or not pod.spec.node_name:
        return False
    for cs in pod.status.container_statuses:
        if cs.name == LAUNCHER_COMPUTE_CONTAINER:
            return cs.state.running is not None
    return True


def pod_is_ready(pod: PodView) -> bool:
    ready = find_condition(pod.status.conditions, "Ready")
    if ready is not None:
        return ready.is_true
    return pod_is_running(pod)


def pod_failure_reason(pod: PodView) -> str:
    """Why the launcher Pod failed: its reason, its compute container's, or `PodFailed`."""
    status = pod.status
    if status.reason:
        return status.reason
    for cs in status.container_statuses:
        for state in (cs.state.terminated, cs.state.waiting):
            if state is not None and state.reason:
                return state.reason
    return POD_FAILED_REASON


def pod_failure_message(pod: PodView) -> str:
    """What the node said about the launcher's end, for the Warning Event."""
    terminated = compute_terminated(pod)
    if terminated is not None:
        said = f": {terminated.message}" if terminated.message else ""
        return (f"the launcher Pod {pod.name} failed: container {LAUNCHER_COMPUTE_CONTAINER} exited with code "
                f"{terminated.exit_code} ({terminated.reason or 'no reason given'}){said}")
    if pod.status.message:
        return f"the launcher Pod {pod.name} failed: {pod.status.message}"
    return f"the launcher Pod {pod.name} is {pod.phase or 'gone'}"


def image_pull_error(pod: PodView) -> tuple[str, str] | None:
    """(reason, message) when a container of the Pod waits on an image pull error."""
    status = pod.status
    for cs in (*status.init_container_statuses, *status.container_statuses):
        waiting = cs.state.waiting
        if waiting is not None and waiting.reason in IMAGE_PULL_REASONS:
            return waiting.reason, waiting.message
    return None


def _set_phase(status: dict[str, Any], phase: Phase, now: str) -> None:
    if status.get("phase") == phase:
        return
    status["phase"] = phase.value
    stamps = [dict(t) for t in status.get("phaseTransitionTimestamps") or ()]
    stamps.append({"phase": phase.value, "phaseTransitionTimestamp": now})
    status["phaseTransitionTimestamps"] = stamps


def _fail(status: dict[str, Any], reason: str, now: str) -> None:
    _set_phase(status, Phase.FAILED, now)
    status["reason"] = reason


def _scheduling_conditions(status: dict[str, Any], pod: PodView, now: str) -> None:
    scheduled = find_condition(pod.status.conditions, Cond.POD_SCHEDULED)
    conds: list[dict[str, Any]] = list(status.get("conditions") or [])
    if scheduled is not None and scheduled.status == "False":
        conds = c.set_condition(conds, Cond.POD_SCHEDULED, "False", now, scheduled.reason, scheduled.message)
    else:
        conds = c.remove_condition(conds, Cond.POD_SCHEDULED)
    pull = image_pull_error(pod)
    if pull is not None:
        conds = c.set_condition(conds, Cond.SYNCHRONIZED, "False", now, pull[0], pull[1])
    elif (cur := c.find(conds, Cond.SYNCHRONIZED)) is not None and cur.get("reason") in IMAGE_PULL_REASONS:
        conds = c.remove_condition(conds, Cond.SYNCHRONIZED)
    if conds or "conditions" in status:
        status["conditions"] = conds


def _ready_condition(status: dict[str, Any], pod: PodView | None, now: str) -> None:
    conds = status.get("conditions") or []
    paused = c.has(conds, Cond.PAUSED, "True")
    if status.get("phase") == Phase.RUNNING and pod is not None and not pod_is_down(pod) and pod_is_ready(pod) \
            and not paused:
        status["conditions"] = c.set_condition(conds, Cond.READY, "True", now)
    elif status.get("phase") in (Phase.SCHEDULED, Phase.RUNNING, *FINAL_VMI_PHASES) or c.find(conds, Cond.READY):
        reason = "PodNotReady" if status.get("phase") == Phase.RUNNING else "GuestNotRunning"
        status["conditions"] = c.set_condition(conds, Cond.READY, "False", now, reason)


def _mark_scheduled(metadata: dict[str, Any], status: dict[str, Any], pod: PodView, now: str) -> None:
    node = pod.spec.node_name
    _set_phase(status, Phase.SCHEDULED, now)
    status["nodeName"] = node
    status["migrationTransport"] = MigrationTransport.UNIX
    status["activePods"] = {pod.uid: node}
    if pod.status.qos_class:
        status["qosClass"] = pod.status.qos_class
    if status.get("conditions"):
        status["conditions"] = c.remove_condition(status["conditions"], Cond.POD_SCHEDULED)
    metadata["labels"] = {**(metadata.get("labels") or {}), NODE_NAME_LABEL: node}


def _copy(vmi: VirtualMachineInstanceView) -> VMIObject:
    return {**vmi.raw, "metadata": dict(vmi.metadata.raw), "status": dict(vmi.status.raw)}


def compute_vmi(vmi: VirtualMachineInstanceView, pod: PodView | None, pod_expected: bool, now: str) -> VMIObject:
    """The VMI as it should be written: phase, conditions, node, labels. `vmi` is not changed.

    `pod` is the launcher Pod (None when the cache has none); `pod_expected` is true while a
    creation this controller made is not in the cache yet (absence then means nothing).
    """
    new = _copy(vmi)
    status: dict[str, Any] = new["status"]
    phase = vmi.phase
    deleted = vmi.is_deleting

    if phase in UNPROCESSED:
        if deleted and pod is None and not pod_expected:
            _fail(status, "Deleted", now)
        elif pod is not None:
            _set_phase(status, Phase.SCHEDULING, now)
            phase = Phase.SCHEDULING
        elif phase == Phase.UNSET:
            _set_phase(status, Phase.PENDING, now)
    if phase in (Phase.SCHEDULING, Phase.SCHEDULED):
        if pod is None:
            if not pod_expected:
                _fail(status, POD_NOT_EXISTS_REASON, now)
        elif pod_is_down(pod):
            _fail(status, pod_failure_reason(pod), now)
        elif phase == Phase.SCHEDULING:
            _scheduling_conditions(status, pod, now)
            if pod_is_running(pod):
                _mark_scheduled(new["metadata"], status, pod, now)
            elif deleted:
                _fail(status, "Deleted", now)
    elif phase == Phase.RUNNING:
        if pod is None and not pod_expected:
            _fail(status, POD_NOT_EXISTS_REASON, now)
        elif pod is not None and launcher_failed(pod):
            _fail(status, pod_failure_reason(pod), now)
    _ready_condition(status, pod, now)
    return new


def clear_failure(new: VMIObject) -> None:
    """Drop the `Synchronized=False` a failed pass wrote (and a missing PVC's `PodScheduled=False`) once a
    pass succeeds; the handler's own Synchronized reasons are left alone."""
    status = new["status"]
    conds = status.get("conditions")
    sync = c.find(conds, Cond.SYNCHRONIZED)
    if sync is None or sync.get("reason") not in CONTROLLER_FAILURE_REASONS:
        return
    conds = c.remove_condition(conds, Cond.SYNCHRONIZED)
    if sync.get("reason") == Reason.FAILED_PVC_NOT_FOUND and \
            c.has(conds, Cond.POD_SCHEDULED, "False", ConditionReason.UNSCHEDULABLE):
        conds = c.remove_condition(conds, Cond.POD_SCHEDULED)
    status["conditions"] = conds


def failure_vmi(vmi: VirtualMachineInstanceView, error: ReconcileError, now: str) -> VMIObject:
    """The VMI written when a reconcile failed: `Synchronized=False` with the error's reason and message;
    a VMI waiting for a missing PVC also gets upstream's `PodScheduled=False` (Unschedulable)."""
    new = _copy(vmi)
    status: dict[str, Any] = new["status"]
    if vmi.phase == Phase.UNSET:
        _set_phase(status, Phase.PENDING, now)
    conds = c.set_condition(status.get("conditions"), Cond.SYNCHRONIZED, "False", now, error.reason, error.message)
    if error.reason == Reason.FAILED_PVC_NOT_FOUND and vmi.phase in UNPROCESSED:
        conds = c.set_condition(conds, Cond.POD_SCHEDULED, "False", now, ConditionReason.UNSCHEDULABLE,
                                error.message)
    status["conditions"] = conds
    return new
