"""Pure status computation of a VirtualMachineInstance from its launcher Pod.

virt-controller owns the phases `Pending → Scheduling → Scheduled` and the move to `Failed` when
the launcher Pod goes away or fails before the domain runs; virt-handler owns
`Scheduled → Running → Succeeded/Failed`. This module never moves a VMI into `Running` or out of
a final phase.

Conditions kept here: `PodScheduled` (copied from the Pod while it is False), `Synchronized=False`
with `ErrImagePull`/`ImagePullBackOff` while the launcher image cannot be pulled, and `Ready`
(the Pod is ready, the VMI runs and is not paused).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from virt_client.api import conditions as c
from virt_client.api import objects
from virt_client.api.constants import (
    FINAL_VMI_PHASES,
    LAUNCHER_COMPUTE_CONTAINER,
    NODE_NAME_LABEL,
    ConditionReason,
    MigrationTransport,
)
from virt_client.api.constants import VirtualMachineInstanceConditionType as Cond
from virt_client.api.constants import VirtualMachineInstancePhase as Phase
from virt_client.api.views import PodView

UNPROCESSED = frozenset({Phase.UNSET, Phase.PENDING})
IMAGE_PULL_REASONS = frozenset({ConditionReason.ERR_IMAGE_PULL, ConditionReason.IMAGE_PULL_BACK_OFF})
POD_FAILED_REASON = "PodFailed"
POD_NOT_EXISTS_REASON = "PodNotExists"


def pod_is_down(pod: Mapping[str, Any]) -> bool:
    """The Pod ended or is being deleted: the launcher is gone or going."""
    view = PodView(pod)
    return view.phase in ("Succeeded", "Failed") or view.is_deleting


def pod_is_running(pod: Mapping[str, Any]) -> bool:
    """Ready in KubeVirt's sense: bound, phase Running and `compute` running (when reported)."""
    view = PodView(pod)
    if view.phase != "Running" or not view.spec.node_name:
        return False
    for cs in view.status.container_statuses:
        if cs.name == LAUNCHER_COMPUTE_CONTAINER:
            return cs.state.running is not None
    return True


def pod_is_ready(pod: Mapping[str, Any]) -> bool:
    conds = (pod.get("status") or {}).get("conditions")
    ready = c.find(conds, "Ready")
    if ready is not None:
        return ready.get("status") == "True"
    return pod_is_running(pod)


def pod_failure_reason(pod: Mapping[str, Any]) -> str:
    """Why the launcher Pod failed: its reason, its compute container's, or `PodFailed`."""
    status = PodView(pod).status
    if status.reason:
        return status.reason
    for cs in status.container_statuses:
        for state in (cs.state.terminated, cs.state.waiting):
            if state is not None and state.reason:
                return state.reason
    return POD_FAILED_REASON


def image_pull_error(pod: Mapping[str, Any]) -> tuple[str, str] | None:
    """(reason, message) when a container of the Pod waits on an image pull error."""
    status = PodView(pod).status
    for cs in (*status.init_container_statuses, *status.container_statuses):
        waiting = cs.state.waiting
        if waiting is not None and waiting.reason in IMAGE_PULL_REASONS:
            return waiting.reason, waiting.message
    return None


def _set_phase(status: dict[str, Any], phase: str, now: str) -> None:
    if status.get("phase") == phase:
        return
    status["phase"] = phase
    stamps = [dict(t) for t in status.get("phaseTransitionTimestamps") or ()]
    stamps.append({"phase": phase, "phaseTransitionTimestamp": now})
    status["phaseTransitionTimestamps"] = stamps


def _fail(status: dict[str, Any], reason: str, now: str) -> None:
    _set_phase(status, Phase.FAILED, now)
    status["reason"] = reason


def _scheduling_conditions(status: dict[str, Any], pod: Mapping[str, Any], now: str) -> None:
    pod_conds = (pod.get("status") or {}).get("conditions")
    scheduled = c.find(pod_conds, Cond.POD_SCHEDULED)
    conds: list[dict[str, Any]] = list(status.get("conditions") or [])
    if scheduled is not None and scheduled.get("status") == "False":
        conds = c.set_condition(conds, Cond.POD_SCHEDULED, "False", now, str(scheduled.get("reason") or ""),
                                str(scheduled.get("message") or ""))
    else:
        conds = c.remove_condition(conds, Cond.POD_SCHEDULED)
    pull = image_pull_error(pod)
    if pull is not None:
        conds = c.set_condition(conds, Cond.SYNCHRONIZED, "False", now, pull[0], pull[1])
    elif (cur := c.find(conds, Cond.SYNCHRONIZED)) is not None and cur.get("reason") in IMAGE_PULL_REASONS:
        conds = c.remove_condition(conds, Cond.SYNCHRONIZED)
    if conds or "conditions" in status:
        status["conditions"] = conds


def _ready_condition(status: dict[str, Any], pod: Mapping[str, Any] | None, now: str) -> None:
    conds = status.get("conditions") or []
    paused = c.has(conds, Cond.PAUSED, "True")
    if status.get("phase") == Phase.RUNNING and pod is not None and not pod_is_down(pod) and pod_is_ready(pod) \
            and not paused:
        status["conditions"] = c.set_condition(conds, Cond.READY, "True", now)
    elif status.get("phase") in (Phase.SCHEDULED, Phase.RUNNING, *FINAL_VMI_PHASES) or c.find(conds, Cond.READY):
        reason = "PodNotReady" if status.get("phase") == Phase.RUNNING else "GuestNotRunning"
        status["conditions"] = c.set_condition(conds, Cond.READY, "False", now, reason)


def _mark_scheduled(vmi: dict[str, Any], status: dict[str, Any], pod: Mapping[str, Any], now: str) -> None:
    node = str((pod.get("spec") or {}).get("nodeName"))
    _set_phase(status, Phase.SCHEDULED, now)
    status["nodeName"] = node
    status["migrationTransport"] = MigrationTransport.UNIX
    status["activePods"] = {str(pod["metadata"]["uid"]): node}
    if (pod.get("status") or {}).get("qosClass"):
        status["qosClass"] = pod["status"]["qosClass"]
    if status.get("conditions"):
        status["conditions"] = c.remove_condition(status["conditions"], Cond.POD_SCHEDULED)
    labels = dict(vmi["metadata"].get("labels") or {})
    labels[NODE_NAME_LABEL] = node
    vmi["metadata"]["labels"] = labels


def compute_vmi(vmi: Mapping[str, Any], pod: Mapping[str, Any] | None, pod_expected: bool,
                now: str) -> dict[str, Any]:
    """The VMI as it should be written: phase, conditions, node, labels. `vmi` is not changed.

    `pod` is the launcher Pod (None when the cache has none); `pod_expected` is true while a
    creation this controller made is not in the cache yet (absence then means nothing).
    """
    new: dict[str, Any] = {**vmi, "metadata": dict(vmi.get("metadata") or {}),
                           "status": dict(vmi.get("status") or {})}
    status: dict[str, Any] = new["status"]
    phase = objects.phase(vmi)
    deleted = objects.is_deleting(new)

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
                _mark_scheduled(new, status, pod, now)
            elif deleted:
                _fail(status, "Deleted", now)
    elif phase == Phase.RUNNING and pod is None and not pod_expected:
        _fail(status, POD_NOT_EXISTS_REASON, now)
    _ready_condition(status, pod, now)
    return new
