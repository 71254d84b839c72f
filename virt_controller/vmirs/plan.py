"""What the replica-set controller must do for one VMIRS: a pure `plan(snapshot)` and its status.

Rules (reference §2.7, upstream `replicaset.go`):
- VMIs that ended (Succeeded or Failed) are deleted and replaced;
- live VMIs = owned, not final, not being deleted; missing ones are created from the template
  with `generateName` = template name, else template generateName, else the replica-set name;
- surplus VMIs are deleted, those furthest from running first (Pending, Scheduling, Scheduled,
  then Running; not-ready before ready; youngest first);
- at most `BURST_REPLICAS` (250) creations or deletions per pass; nothing while expectations from
  the previous pass are pending; nothing at all while `spec.paused`.
Status: `replicas` (live VMIs), `readyReplicas` (Ready=True), `labelSelector` (string form of the
selector, for the scale subresource), conditions ReplicaPaused and ReplicaFailure.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from virt_client.api import conditions as c
from virt_client.api.constants import API_VERSION, BURST_REPLICAS, Kind
from virt_client.api.constants import ReplicaSetConditionType as RSCond
from virt_client.api.constants import VirtualMachineInstanceConditionType as Cond
from virt_client.api.meta import LabelSelector
from virt_client.api.objects import is_deleting, is_final, owner_reference
from virt_client.api.replicaset import selector_string

_PHASE_RANK = {"": 0, "Pending": 0, "Scheduling": 1, "Scheduled": 2, "Running": 3}


@dataclass(frozen=True)
class RSSnapshot:
    rs: Mapping[str, Any]
    vmis: Sequence[Mapping[str, Any]]
    expectations_satisfied: bool
    now: str


@dataclass(frozen=True)
class CreateVMIs:
    vmi: dict[str, Any]
    count: int


@dataclass(frozen=True)
class DeleteVMIs:
    refs: list[tuple[str, str]]  # (name, uid)
    reason: str


Action = CreateVMIs | DeleteVMIs


def desired(rs: Mapping[str, Any]) -> int:
    value = (rs.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def live_vmis(vmis: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [v for v in vmis if not is_final(v) and not is_deleting(v)]


def is_ready(vmi: Mapping[str, Any]) -> bool:
    return c.has((vmi.get("status") or {}).get("conditions"), Cond.READY, "True")


def deletion_order(vmis: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The VMIs ordered cheapest-to-lose first: phase rank, not ready before ready, youngest first."""
    youngest_first = sorted(vmis, key=lambda v: str((v.get("metadata") or {}).get("creationTimestamp") or ""),
                            reverse=True)
    return sorted(youngest_first, key=lambda v: (
        _PHASE_RANK.get(str((v.get("status") or {}).get("phase") or ""), 0), 1 if is_ready(v) else 0))


def vmi_from_template(rs: Mapping[str, Any]) -> dict[str, Any]:
    md = rs.get("metadata") or {}
    template = copy.deepcopy(dict((rs.get("spec") or {}).get("template") or {}))
    tmeta = dict(template.get("metadata") or {})
    base = tmeta.get("name") or tmeta.get("generateName") or md.get("name")
    metadata: dict[str, Any] = {"generateName": base, "namespace": md.get("namespace"),
                                "ownerReferences": [owner_reference(rs)]}
    for k in ("labels", "annotations"):
        if tmeta.get(k):
            metadata[k] = dict(tmeta[k])
    return {"apiVersion": API_VERSION, "kind": Kind.VIRTUAL_MACHINE_INSTANCE.value, "metadata": metadata,
            "spec": dict(template.get("spec") or {})}


def plan(s: RSSnapshot) -> list[Action]:
    rs = s.rs
    if is_deleting(rs) or (rs.get("spec") or {}).get("paused"):
        return []
    if not s.expectations_satisfied:
        return []
    actions: list[Action] = []
    finished = [v for v in s.vmis if is_final(v) and not is_deleting(v)]
    if finished:
        actions.append(DeleteVMIs([(str(v["metadata"]["name"]), str(v["metadata"]["uid"]))
                                   for v in finished[:BURST_REPLICAS]], "the VMI finished"))
    live = live_vmis(s.vmis)
    diff = desired(rs) - len(live)
    if diff > 0:
        actions.append(CreateVMIs(vmi_from_template(rs), min(diff, BURST_REPLICAS)))
    elif diff < 0:
        surplus = deletion_order(live)[: min(-diff, BURST_REPLICAS)]
        actions.append(DeleteVMIs([(str(v["metadata"]["name"]), str(v["metadata"]["uid"])) for v in surplus],
                                  "scaling down"))
    return actions


def compute_status(s: RSSnapshot, failure: tuple[str, str] | None = None) -> dict[str, Any]:
    rs = s.rs
    status: dict[str, Any] = dict(rs.get("status") or {})
    live = live_vmis(s.vmis)
    status["replicas"] = len(live)
    status["readyReplicas"] = sum(1 for v in live if is_ready(v))
    selector = LabelSelector.model_validate((rs.get("spec") or {}).get("selector") or {})
    status["labelSelector"] = selector_string(selector)
    conds: list[dict[str, Any]] = list(status.get("conditions") or [])
    if (rs.get("spec") or {}).get("paused"):
        conds = c.set_condition(conds, RSCond.REPLICA_PAUSED, "True", s.now, "Paused", "Controller got paused")
    else:
        conds = c.remove_condition(conds, RSCond.REPLICA_PAUSED)
    if failure is not None:
        conds = c.set_condition(conds, RSCond.REPLICA_FAILURE, "True", s.now, failure[0], failure[1])
    else:
        conds = c.remove_condition(conds, RSCond.REPLICA_FAILURE)
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)
    return status
