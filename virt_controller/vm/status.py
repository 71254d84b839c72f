"""Pure status computation of a VirtualMachine (upstream `updateStatus`, `setPrintableStatus`).

`printable_status` applies upstream's rules in upstream's order; the first that matches wins:
Terminating, Stopping, Migrating, Paused, Running, ErrorPvcNotFound, DataVolumeError,
ErrorUnschedulable, Provisioning, WaitingForVolumeBinding, ErrImagePull, ImagePullBackOff,
Starting, CrashLoopBackOff, Stopped, else Unknown.

`compute_status` also sets `created`, `ready`, the conditions Ready/Failure/Paused,
`startFailure`, `runStrategy`, `desiredGeneration`/`observedGeneration`, and trims the first
state-change request once it has been carried out (`isTrimFirstChangeRequestNeeded`). A failed
reconcile (`ReconcileError`) is written by `failure_status`: the same status with the Failure
condition carrying its reason and message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

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
from virt_client.api.constants import VirtualMachineInstancePhase as Phase
from virt_client.api.constants import VirtualMachinePrintableStatus as PS
from virt_client.api.times import rfc3339
from virt_client.api.views import (
    DataVolumeView,
    StartFailureView,
    VirtualMachineInstanceView,
    VirtualMachineView,
    find_condition,
)
from virt_client.reconcile import ReconcileError
from virt_controller.vm.backoff import BACKOFF_STRATEGIES, next_start_failure
from virt_controller.vm.snapshot import VMSnapshot, VMStatus, has_start_request, run_strategy

DV_NOT_PROVISIONING = frozenset({"Succeeded", "Failed", "WaitForFirstConsumer", "PendingPopulation"})
STARTING_PHASES = frozenset({Phase.UNSET, Phase.PENDING, Phase.SCHEDULING, Phase.SCHEDULED})


def _has(vmi: VirtualMachineInstanceView, type_: str, status: str, reason: str | None = None) -> bool:
    cond = find_condition(vmi.status.conditions, type_)
    return cond is not None and cond.status == status and (reason is None or cond.reason == reason)


def referenced_volumes(vm: VirtualMachineView) -> tuple[list[str], list[str]]:
    """(DataVolume names, PVC names) the VM template's volumes use (a DV's PVC has its name)."""
    dvs: list[str] = []
    pvcs: list[str] = []
    for vol in vm.spec.template.spec.volumes:
        if vol.data_volume:
            dvs.append(vol.data_volume.name)
            pvcs.append(vol.data_volume.name)
        elif vol.persistent_volume_claim:
            pvcs.append(vol.persistent_volume_claim.claim_name)
    return dvs, pvcs


def _dv_error(dv: DataVolumeView) -> bool:
    status = dv.status
    if status.phase is DataVolumePhase.FAILED:
        return True
    running = find_condition(status.conditions, DataVolumeConditionType.RUNNING)
    return running is not None and running.status == "False" and running.reason in ("Error", "ImagePullFailed")


def is_set_to_start(vm: VirtualMachineView, vmi: VirtualMachineInstanceView | None,
                    strategy: RunStrategy | None) -> bool:
    if vmi is not None and not vmi.is_final:
        return True
    if strategy in (RunStrategy.ALWAYS, RunStrategy.RERUN_ON_FAILURE):
        return True
    if strategy == RunStrategy.ONCE:
        return vmi is None
    return has_start_request(vm)


def printable_status(s: VMSnapshot, strategy: RunStrategy | None, start_failure: StartFailureView | None) -> PS:
    vm, vmi = s.vm, s.vmi
    if vm.is_deleting:
        return PS.TERMINATING
    if vmi is not None and not vmi.is_final and (vmi.is_deleting or s.expecting_deletion):
        return PS.STOPPING
    if vmi is not None:
        ms = vmi.status.migration_state
        if ms is not None and ms.start_timestamp and not ms.end_timestamp and not ms.completed and not ms.failed:
            return PS.MIGRATING
        if vmi.phase is Phase.RUNNING:
            return PS.PAUSED if _has(vmi, Cond.PAUSED, "True") else PS.RUNNING
        if _has(vmi, Cond.SYNCHRONIZED, "False", ConditionReason.FAILED_PVC_NOT_FOUND):
            return PS.ERR_PVC_NOT_FOUND
    dv_names, pvc_names = referenced_volumes(vm)
    dvs = [s.datavolumes[n] for n in dv_names if n in s.datavolumes]
    if any(_dv_error(dv) for dv in dvs):
        return PS.DATA_VOLUME_ERROR
    if vmi is not None and _has(vmi, Cond.POD_SCHEDULED, "False", ConditionReason.UNSCHEDULABLE):
        return PS.ERR_UNSCHEDULABLE
    if any(dv.phase.value not in DV_NOT_PROVISIONING for dv in dvs):
        return PS.PROVISIONING
    if is_set_to_start(vm, vmi, strategy) and any(
            (s.pvcs[n].status.phase or "Pending") != "Bound" for n in pvc_names if n in s.pvcs):
        return PS.WAITING_FOR_VOLUME_BINDING
    if vmi is not None:
        if _has(vmi, Cond.SYNCHRONIZED, "False", ConditionReason.ERR_IMAGE_PULL):
            return PS.ERR_IMAGE_PULL
        if _has(vmi, Cond.SYNCHRONIZED, "False", ConditionReason.IMAGE_PULL_BACK_OFF):
            return PS.IMAGE_PULL_BACK_OFF
    if s.expecting_creation or (vmi is not None and vmi.phase in STARTING_PHASES):
        return PS.STARTING
    if (vmi is None or vmi.is_final) and start_failure is not None and start_failure.consecutive_fail_count > 0 \
            and strategy in BACKOFF_STRATEGIES:
        return PS.CRASH_LOOP_BACK_OFF
    if (vmi is not None and vmi.is_final) or (vmi is None and not s.expecting_creation):
        return PS.STOPPED
    return PS.UNKNOWN


def trim_first_request_needed(vm: VirtualMachineView, vmi: VirtualMachineInstanceView | None) -> bool:
    reqs = vm.status.state_change_requests
    if not reqs:
        return False
    req = reqs[0]
    if req.action == StateChangeRequestAction.STOP:
        return vmi is None or req.uid is None or req.uid != vmi.uid
    if req.action == StateChangeRequestAction.START:
        return vmi is not None and not vmi.is_deleting and not vmi.is_final
    return False


def _conditions(vm: VirtualMachineView, vmi: VirtualMachineInstanceView | None,
                failure: ReconcileError | None, now: str) -> Sequence[Mapping[str, object]]:
    conds: Sequence[Mapping[str, object]] = [x.raw for x in vm.status.conditions]
    if vmi is None:
        conds = c.set_condition(conds, VMCond.READY, "False", now, ConditionReason.VMI_NOT_EXISTS,
                                "VMI does not exist")
    else:
        ready = find_condition(vmi.status.conditions, Cond.READY)
        if ready is None:
            conds = c.set_condition(conds, VMCond.READY, "False", now, ConditionReason.VMI_CONDITION_MISSING,
                                    "VMI is missing the Ready condition")
        else:
            conds = c.set_condition(conds, VMCond.READY, ready.status, now, ready.reason, ready.message)
    paused = find_condition(vmi.status.conditions, Cond.PAUSED) if vmi is not None else None
    if paused is not None and paused.is_true:
        conds = c.set_condition(conds, VMCond.PAUSED, "True", now, paused.reason, paused.message)
    else:
        conds = c.remove_condition(conds, VMCond.PAUSED)
    if failure is not None:
        conds = c.set_condition(conds, VMCond.FAILURE, "True", now, failure.reason, failure.message)
    else:
        conds = c.remove_condition(conds, VMCond.FAILURE)
    return conds


def compute_status(s: VMSnapshot, now: datetime, *, failure: ReconcileError | None = None,
                   add_start_request: bool = False) -> VMStatus:
    """The VM's new `status` (a fresh dict; `failure` sets the Failure condition)."""
    vm, vmi = s.vm, s.vmi
    status: VMStatus = dict(vm.status.raw)
    stamp = rfc3339(now)
    try:
        strategy: RunStrategy | None = run_strategy(vm)
    except ValueError:
        strategy = None

    start_failure = next_start_failure(vm.status.start_failure, vmi, strategy or RunStrategy.HALTED, now,
                                       s.jitter)
    if start_failure is None:
        status.pop("startFailure", None)
    else:
        status["startFailure"] = dict(start_failure.raw)

    reqs = [dict(r.raw) for r in vm.status.state_change_requests]
    if trim_first_request_needed(vm, vmi):
        reqs = reqs[1:]
    if add_start_request:
        reqs.append({"action": StateChangeRequestAction.START.value})
    if reqs:
        status["stateChangeRequests"] = reqs
    else:
        status.pop("stateChangeRequests", None)

    status["created"] = vmi is not None
    status["ready"] = bool(vmi is not None and not vmi.is_final and not vmi.is_deleting
                           and _has(vmi, Cond.READY, "True"))
    status["printableStatus"] = printable_status(s, strategy, start_failure).value
    status["conditions"] = _conditions(vm, vmi, failure, stamp)
    if strategy is not None:
        status["runStrategy"] = strategy.value
    generation = vm.metadata.generation
    if generation:
        status["desiredGeneration"] = generation
        observed = vmi.annotations.get(VM_GENERATION_ANNOTATION) if vmi is not None else None
        if vmi is not None and observed is not None and str(observed).isdigit():
            status["observedGeneration"] = int(observed)
        elif vmi is None:
            status["observedGeneration"] = generation
    return status


def failure_status(s: VMSnapshot, now: datetime, error: ReconcileError) -> VMStatus:
    """The status written when a reconcile failed: nothing done, the Failure condition says why."""
    return compute_status(s, now, failure=error)
