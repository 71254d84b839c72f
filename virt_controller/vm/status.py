"""Pure status computation of a VirtualMachine (upstream `updateStatus`, `setPrintableStatus`).

`printable_status` applies upstream's rules in upstream's order; the first that matches wins:
Terminating, Stopping, Migrating, Paused, Running, ErrorPvcNotFound, DataVolumeError,
ErrorUnschedulable, Provisioning, WaitingForVolumeBinding, ErrImagePull, ImagePullBackOff,
Starting, CrashLoopBackOff, Stopped, else Unknown.

`compute_status` also sets `created`, `ready`, the conditions Ready/Failure/Paused,
`startFailure`, `runStrategy`, `desiredGeneration`/`observedGeneration`, and trims the first
state-change request once it has been carried out (`isTrimFirstChangeRequestNeeded`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from virt_client.api import conditions as c
from virt_client.api.constants import (
    VM_GENERATION_ANNOTATION,
    ConditionReason,
    DataVolumeConditionType,
    DataVolumePhase,
    RunStrategy,
    StateChangeRequestAction,
)
from virt_client.api.constants import VirtualMachineConditionType as VMCond
from virt_client.api.constants import VirtualMachineInstanceConditionType as Cond
from virt_client.api.constants import VirtualMachinePrintableStatus as PS
from virt_client.api.objects import is_deleting, is_final, phase
from virt_client.api.times import rfc3339
from virt_client.api.views import DataVolumeView, find_condition
from virt_controller.vm.backoff import BACKOFF_STRATEGIES, next_start_failure
from virt_controller.vm.plan import VMSnapshot, has_start_request, run_strategy

DV_NOT_PROVISIONING = frozenset({"Succeeded", "Failed", "WaitForFirstConsumer", "PendingPopulation"})


def _vmi_conds(vmi: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    return (vmi.get("status") or {}).get("conditions") or ()


def referenced_volumes(vm: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(DataVolume names, PVC names) the VM template's volumes use (a DV's PVC has its name)."""
    dvs: list[str] = []
    pvcs: list[str] = []
    tspec = ((vm.get("spec") or {}).get("template") or {}).get("spec") or {}
    for vol in tspec.get("volumes") or ():
        if vol.get("dataVolume"):
            dvs.append(str(vol["dataVolume"].get("name")))
            pvcs.append(str(vol["dataVolume"].get("name")))
        elif vol.get("persistentVolumeClaim"):
            pvcs.append(str(vol["persistentVolumeClaim"].get("claimName")))
    return dvs, pvcs


def _dv_error(dv: Mapping[str, Any]) -> bool:
    status = DataVolumeView(dv).status
    if status.phase is DataVolumePhase.FAILED:
        return True
    running = find_condition(status.conditions, DataVolumeConditionType.RUNNING)
    return running is not None and running.status == "False" and running.reason in ("Error", "ImagePullFailed")


def is_set_to_start(vm: Mapping[str, Any], vmi: Mapping[str, Any] | None, strategy: RunStrategy | None) -> bool:
    if vmi is not None and not is_final(vmi):
        return True
    if strategy in (RunStrategy.ALWAYS, RunStrategy.RERUN_ON_FAILURE):
        return True
    if strategy == RunStrategy.ONCE:
        return vmi is None
    return has_start_request(vm)


def printable_status(s: VMSnapshot, strategy: RunStrategy | None,
                     start_failure: Mapping[str, Any] | None) -> PS:
    vm, vmi = s.vm, s.vmi
    if is_deleting(vm):
        return PS.TERMINATING
    if vmi is not None and not is_final(vmi) and (
            is_deleting(vmi) or s.expecting_deletion):
        return PS.STOPPING
    if vmi is not None:
        ms = (vmi.get("status") or {}).get("migrationState") or {}
        if ms.get("startTimestamp") and not ms.get("endTimestamp") and not ms.get("completed") \
                and not ms.get("failed"):
            return PS.MIGRATING
        if phase(vmi) == "Running":
            return PS.PAUSED if c.has(_vmi_conds(vmi), Cond.PAUSED, "True") else PS.RUNNING
        if c.has(_vmi_conds(vmi), Cond.SYNCHRONIZED, "False", ConditionReason.FAILED_PVC_NOT_FOUND):
            return PS.ERR_PVC_NOT_FOUND
    dv_names, pvc_names = referenced_volumes(vm)
    dvs = [s.datavolumes[n] for n in dv_names if n in s.datavolumes]
    if any(_dv_error(dv) for dv in dvs):
        return PS.DATA_VOLUME_ERROR
    if vmi is not None and c.has(_vmi_conds(vmi), Cond.POD_SCHEDULED, "False", ConditionReason.UNSCHEDULABLE):
        return PS.ERR_UNSCHEDULABLE
    if any(str((dv.get("status") or {}).get("phase") or "") not in DV_NOT_PROVISIONING for dv in dvs):
        return PS.PROVISIONING
    if is_set_to_start(vm, vmi, strategy) and any(
            ((s.pvcs[n].get("status") or {}).get("phase") or "Pending") != "Bound"
            for n in pvc_names if n in s.pvcs):
        return PS.WAITING_FOR_VOLUME_BINDING
    if vmi is not None:
        if c.has(_vmi_conds(vmi), Cond.SYNCHRONIZED, "False", ConditionReason.ERR_IMAGE_PULL):
            return PS.ERR_IMAGE_PULL
        if c.has(_vmi_conds(vmi), Cond.SYNCHRONIZED, "False", ConditionReason.IMAGE_PULL_BACK_OFF):
            return PS.IMAGE_PULL_BACK_OFF
    if s.expecting_creation or (vmi is not None and phase(vmi) in ("", "Pending", "Scheduling", "Scheduled")):
        return PS.STARTING
    if (vmi is None or is_final(vmi)) and start_failure and int(start_failure.get("consecutiveFailCount") or 0) > 0 \
            and strategy in BACKOFF_STRATEGIES:
        return PS.CRASH_LOOP_BACK_OFF
    if (vmi is not None and is_final(vmi)) or (vmi is None and not s.expecting_creation):
        return PS.STOPPED
    return PS.UNKNOWN


def trim_first_request_needed(vm: Mapping[str, Any], vmi: Mapping[str, Any] | None) -> bool:
    reqs = (vm.get("status") or {}).get("stateChangeRequests") or []
    if not reqs:
        return False
    req = reqs[0]
    if req.get("action") == StateChangeRequestAction.STOP:
        return vmi is None or req.get("uid") is None or req.get("uid") != (vmi.get("metadata") or {}).get("uid")
    if req.get("action") == StateChangeRequestAction.START:
        return vmi is not None and not is_deleting(vmi) and not is_final(vmi)
    return False


def _conditions(vm: Mapping[str, Any], vmi: Mapping[str, Any] | None, failure: tuple[str, str] | None,
                now: str) -> list[dict[str, Any]]:
    conds = list((vm.get("status") or {}).get("conditions") or [])
    if vmi is None:
        conds = c.set_condition(conds, VMCond.READY, "False", now, ConditionReason.VMI_NOT_EXISTS,
                                "VMI does not exist")
    else:
        ready = c.find(_vmi_conds(vmi), Cond.READY)
        if ready is None:
            conds = c.set_condition(conds, VMCond.READY, "False", now, ConditionReason.VMI_CONDITION_MISSING,
                                    "VMI is missing the Ready condition")
        else:
            conds = c.set_condition(conds, VMCond.READY, str(ready.get("status")), now,
                                    str(ready.get("reason") or ""), str(ready.get("message") or ""))
    paused = c.find(_vmi_conds(vmi), Cond.PAUSED) if vmi is not None else None
    if paused is not None and paused.get("status") == "True":
        conds = c.set_condition(conds, VMCond.PAUSED, "True", now, str(paused.get("reason") or ""),
                                str(paused.get("message") or ""))
    else:
        conds = c.remove_condition(conds, VMCond.PAUSED)
    if failure is not None:
        conds = c.set_condition(conds, VMCond.FAILURE, "True", now, failure[0], failure[1])
    else:
        conds = c.remove_condition(conds, VMCond.FAILURE)
    return conds


def compute_status(s: VMSnapshot, *, failure: tuple[str, str] | None = None, add_start_request: bool = False,
                   jitter: float = 0.0) -> dict[str, Any]:
    """The VM's new `status` (a fresh dict)."""
    vm, vmi = s.vm, s.vmi
    status: dict[str, Any] = dict(vm.get("status") or {})
    now = rfc3339(s.now)
    try:
        strategy: RunStrategy | None = run_strategy(vm)
    except ValueError:
        strategy = None

    start_failure = next_start_failure(status.get("startFailure"), vmi,
                                       strategy or RunStrategy.HALTED, s.now, jitter)
    if start_failure is None:
        status.pop("startFailure", None)
    else:
        status["startFailure"] = dict(start_failure)

    reqs = [dict(r) for r in status.get("stateChangeRequests") or []]
    if trim_first_request_needed(vm, vmi):
        reqs = reqs[1:]
    if add_start_request:
        reqs.append({"action": StateChangeRequestAction.START.value})
    if reqs:
        status["stateChangeRequests"] = reqs
    else:
        status.pop("stateChangeRequests", None)

    status["created"] = vmi is not None
    status["ready"] = bool(vmi is not None and not is_final(vmi)
                           and not is_deleting(vmi)
                           and c.has(_vmi_conds(vmi), Cond.READY, "True"))
    status["printableStatus"] = printable_status(s, strategy, start_failure).value
    status["conditions"] = _conditions(vm, vmi, failure, now)
    if strategy is not None:
        status["runStrategy"] = strategy.value
    generation = (vm.get("metadata") or {}).get("generation")
    if generation is not None:
        status["desiredGeneration"] = int(generation)
        observed = (((vmi or {}).get("metadata") or {}).get("annotations") or {}).get(VM_GENERATION_ANNOTATION)
        if vmi is not None and observed is not None and str(observed).isdigit():
            status["observedGeneration"] = int(observed)
        elif vmi is None:
            status["observedGeneration"] = int(generation)
    return status
