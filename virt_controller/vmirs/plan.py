"""What the replica-set controller must do for one VMIRS: a pure `plan(snapshot)` and its status.

Rules (reference §2.7, upstream `replicaset.go`):
- VMIs that ended (Succeeded or Failed) are deleted and replaced;
- live VMIs = owned, not final, not being deleted; missing ones are created from the template
  with `generateName` = template name, else template generateName, else the replica-set name;
- surplus VMIs are deleted, those furthest from running first (Pending, Scheduling, Scheduled,
  then Running; not-ready before ready; youngest first);
- at most `BURST_REPLICAS` (250) creations or deletions per pass; nothing while expectations from
  the previous pass are pending; nothing at all while `spec.paused`.
`plan(snapshot, now)` returns the actions and the status to write after them (None when unchanged);
a refused write in the shell is written by `compute_status(..., failure=...)`.
Status: `replicas` (live VMIs), `readyReplicas` (Ready=True), `labelSelector` (string form of the
selector, for the scale subresource), conditions ReplicaPaused and ReplicaFailure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from virt_client.api import conditions as c
from virt_client.api.constants import API_VERSION, BURST_REPLICAS, Kind
from virt_client.api.constants import ReplicaSetConditionType as RSCond
from virt_client.api.constants import VirtualMachineInstanceConditionType as Cond
from virt_client.api.constants import VirtualMachineInstancePhase as Phase
from virt_client.api.meta import LabelSelector
from virt_client.api.objects import owner_reference
from virt_client.api.replicaset import selector_string
from virt_client.api.times import rfc3339
from virt_client.api.views import (
    VirtualMachineInstanceReplicaSetView,
    VirtualMachineInstanceView,
    find_condition,
)
from virt_client.indexer import thaw
from virt_client.reconcile import Plan, ReconcileError

_PHASE_RANK = {Phase.UNSET: 0, Phase.PENDING: 0, Phase.SCHEDULING: 1, Phase.SCHEDULED: 2, Phase.RUNNING: 3}

#: the `status` body of a VMIRS, as written
RSStatus = dict[str, Any]


@dataclass(frozen=True)
class RSSnapshot:
    rs: VirtualMachineInstanceReplicaSetView
    vmis: Sequence[VirtualMachineInstanceView]
    expectations_satisfied: bool


@dataclass(frozen=True)
class CreateVMIs:
    vmi: dict[str, Any]
    count: int


@dataclass(frozen=True)
class DeleteVMIs:
    refs: list[tuple[str, str]]  # (name, uid)
    reason: str


Action = CreateVMIs | DeleteVMIs
RSPlan = Plan[Action, RSStatus]


def live_vmis(vmis: Sequence[VirtualMachineInstanceView]) -> list[VirtualMachineInstanceView]:
    return [v for v in vmis if not v.is_final and not v.is_deleting]


def is_ready(vmi: VirtualMachineInstanceView) -> bool:
    ready = find_condition(vmi.status.conditions, Cond.READY)
    return ready is not None and ready.is_true


def deletion_order(vmis: Sequence[VirtualMachineInstanceView]) -> list[VirtualMachineInstanceView]:
    """The VMIs ordered cheapest-to-lose first: phase rank, not ready before ready, youngest first."""
    youngest_first = sorted(vmis, key=lambda v: v.metadata.creation_timestamp or "", reverse=True)
    return sorted(youngest_first, key=lambda v: (_PHASE_RANK.get(v.phase, 0), 1 if is_ready(v) else 0))


def vmi_from_template(rs: VirtualMachineInstanceReplicaSetView) -> dict[str, Any]:
    template = rs.spec.template
    tmeta = template.metadata
    base = tmeta.name or tmeta.generate_name or rs.name
    metadata: dict[str, Any] = {"generateName": base, "namespace": rs.namespace,
                                "ownerReferences": [owner_reference(rs.raw)]}
    if tmeta.labels:
        metadata["labels"] = dict(tmeta.labels)
    if tmeta.annotations:
        metadata["annotations"] = dict(tmeta.annotations)
    return {"apiVersion": API_VERSION, "kind": Kind.VIRTUAL_MACHINE_INSTANCE.value, "metadata": metadata,
            "spec": thaw(template.spec.raw)}


def _refs(vmis: Sequence[VirtualMachineInstanceView]) -> list[tuple[str, str]]:
    return [(v.name, v.uid) for v in vmis]


def _actions(s: RSSnapshot) -> list[Action]:
    rs = s.rs
    if rs.is_deleting or rs.spec.paused or not s.expectations_satisfied:
        return []
    actions: list[Action] = []
    finished = [v for v in s.vmis if v.is_final and not v.is_deleting]
    if finished:
        actions.append(DeleteVMIs(_refs(finished[:BURST_REPLICAS]), "the VMI finished"))
    live = live_vmis(s.vmis)
    diff = rs.replicas - len(live)
    if diff > 0:
        actions.append(CreateVMIs(vmi_from_template(rs), min(diff, BURST_REPLICAS)))
    elif diff < 0:
        actions.append(DeleteVMIs(_refs(deletion_order(live)[: min(-diff, BURST_REPLICAS)]), "scaling down"))
    return actions


def plan(s: RSSnapshot, now: datetime) -> RSPlan:
    """The creations and deletions for one VMIRS, and its status (None when unchanged)."""
    status = compute_status(s, now)
    return Plan.of(_actions(s), None if status == s.rs.status.raw else status)


def compute_status(s: RSSnapshot, now: datetime, failure: ReconcileError | None = None) -> RSStatus:
    rs = s.rs
    stamp = rfc3339(now)
    status: RSStatus = dict(rs.status.raw)
    live = live_vmis(s.vmis)
    status["replicas"] = len(live)
    status["readyReplicas"] = sum(1 for v in live if is_ready(v))
    selector = LabelSelector.model_validate(thaw(rs.spec.selector.raw))
    status["labelSelector"] = selector_string(selector)
    conds: list[dict[str, Any]] = [dict(x.raw) for x in rs.status.conditions]
    if rs.spec.paused:
        conds = c.set_condition(conds, RSCond.REPLICA_PAUSED, "True", stamp, "Paused", "Controller got paused")
    else:
        conds = c.remove_condition(conds, RSCond.REPLICA_PAUSED)
    if failure is not None:
        conds = c.set_condition(conds, RSCond.REPLICA_FAILURE, "True", stamp, failure.reason, failure.message)
    else:
        conds = c.remove_condition(conds, RSCond.REPLICA_FAILURE)
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)
    return status
