"""What the VM controller must do for one VirtualMachine: a pure `plan(snapshot, now)`.

Run strategies (reference §2.2, upstream `syncRunStrategy`), acting on the first state-change
request only:

| strategy | no VMI | VMI exists |
|---|---|---|
| Always | create (after the crash-loop backoff) | delete if final or a Stop request names its UID |
| RerunOnFailure | create on a Start request or when the strategy just changed | delete if final or stop-requested; a Failed VMI queues a Start request |
| Manual | create on a Start request | delete on a matching Stop request |
| Halted | a Start request turns the spec into Always (`running: true` for legacy VMs) | delete |
| Once | create when the strategy just changed (or on a Start request) | delete on a matching Stop request; never restarted |

A VMI being deleted is waited for, never replaced early. A VM being deleted stops its VMI, and
its finalizer `kubevirt.io/virtualMachineControllerFinalize` is removed once the VMI is gone.

The plan's status is `status.compute_status` of the snapshot as it will be once the actions are
done (a created VMI is expected, a deleted one is going); None when it would not change, and for a
spec patch (the VM comes back with its update event). A VM with both `running` and `runStrategy`
raises `ReconcileError(InvalidRunStrategy)`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from virt_client.api.constants import VM_FINALIZER, RunStrategy
from virt_client.api.views import VirtualMachineInstanceView
from virt_client.api.vm import RunStrategyConflict
from virt_client.reconcile import Plan, ReconcileError
from virt_controller.errors import Reason
from virt_controller.vm.backoff import seconds_until_retry
from virt_controller.vm.snapshot import (
    VMSnapshot,
    VMStatus,
    has_start_request,
    has_stop_request_for,
    run_strategy,
    start_paused_requested,
)
from virt_controller.vm.status import compute_status
from virt_controller.vm.vmi_build import build_vmi

__all__ = ["Action", "CreateVMI", "DeleteVMI", "PatchVMSpec", "SetFinalizers", "VMPlan", "VMSnapshot", "plan"]


@dataclass(frozen=True)
class CreateVMI:
    vmi: dict[str, Any]


@dataclass(frozen=True)
class DeleteVMI:
    name: str
    uid: str
    reason: str


@dataclass(frozen=True)
class PatchVMSpec:
    """A JSON patch on the VM (used to turn Halted into Always on a Start request)."""

    patch: list[dict[str, Any]]


@dataclass(frozen=True)
class SetFinalizers:
    finalizers: list[str]
    previous: list[str] | None


Action = CreateVMI | DeleteVMI | PatchVMSpec | SetFinalizers
VMPlan = Plan[Action, VMStatus]


def _start(s: VMSnapshot, now: datetime, actions: list[Action], *, backoff: bool) -> float | None:
    if s.expecting_creation:
        return None
    if backoff:
        wait = seconds_until_retry(s.vm.status.start_failure, now)
        if wait > 0:
            return wait
    actions.append(CreateVMI(build_vmi(s.vm, start_paused=start_paused_requested(s.vm))))
    return None


def _stop(vmi: VirtualMachineInstanceView, actions: list[Action], reason: str) -> None:
    actions.append(DeleteVMI(vmi.name, vmi.uid, reason))


def _actions(s: VMSnapshot, now: datetime) -> tuple[list[Action], float | None, bool]:
    """(actions, requeue_after, add a Start request) for one VM."""
    vm, vmi = s.vm, s.vmi
    finalizers = list(vm.finalizers)
    actions: list[Action] = []
    live_vmi = vmi if vmi is not None and not vmi.is_deleting else None

    if vm.is_deleting:
        if live_vmi is not None and not s.expecting_deletion:
            _stop(live_vmi, actions, "the VirtualMachine is being deleted")
        if vmi is None and VM_FINALIZER in finalizers:
            actions.append(SetFinalizers([f for f in finalizers if f != VM_FINALIZER], finalizers))
        return actions, None, False

    try:
        strategy = run_strategy(vm)
    except RunStrategyConflict as e:
        raise ReconcileError(Reason.INVALID_RUN_STRATEGY, str(e)) from e
    if VM_FINALIZER not in finalizers:
        actions.append(SetFinalizers([*finalizers, VM_FINALIZER], finalizers if finalizers else None))

    requeue: float | None = None
    add_start = False
    if vmi is not None and live_vmi is None:
        return actions, None, False  # the old VMI is still going away: wait for it
    if s.expecting_deletion:
        return actions, None, False

    if strategy == RunStrategy.ALWAYS:
        if live_vmi is not None:
            if has_stop_request_for(vm, live_vmi):
                _stop(live_vmi, actions, "a stop request")
            elif live_vmi.is_final:
                _stop(live_vmi, actions, f"the VirtualMachineInstance is {live_vmi.phase}")
        else:
            requeue = _start(s, now, actions, backoff=True)
    elif strategy == RunStrategy.RERUN_ON_FAILURE:
        if live_vmi is not None:
            stop_requested = has_stop_request_for(vm, live_vmi)
            if stop_requested or live_vmi.is_final:
                _stop(live_vmi, actions, f"the VMI is {live_vmi.phase}" if live_vmi.is_final else "a stop request")
                add_start = live_vmi.phase == "Failed" and not stop_requested
        else:
            changed = vm.status.run_strategy != strategy
            if has_start_request(vm) or changed:
                requeue = _start(s, now, actions, backoff=True)
    elif strategy == RunStrategy.MANUAL:
        if live_vmi is not None:
            if has_stop_request_for(vm, live_vmi):
                _stop(live_vmi, actions, "a stop request")
        elif has_start_request(vm):
            requeue = _start(s, now, actions, backoff=False)
    elif strategy == RunStrategy.HALTED:
        if live_vmi is not None:
            _stop(live_vmi, actions, "runStrategy Halted")
        elif has_start_request(vm):
            running = vm.spec.running
            if running is not None:
                actions.append(PatchVMSpec([{"op": "test", "path": "/spec/running", "value": running},
                                            {"op": "replace", "path": "/spec/running", "value": True}]))
            else:
                actions.append(PatchVMSpec([{"op": "add", "path": "/spec/runStrategy",
                                             "value": RunStrategy.ALWAYS.value}]))
    elif strategy == RunStrategy.ONCE:
        if live_vmi is not None:
            if has_stop_request_for(vm, live_vmi):
                _stop(live_vmi, actions, "a stop request")
        elif vm.status.run_strategy != strategy or has_start_request(vm):
            requeue = _start(s, now, actions, backoff=True)
    return actions, requeue, add_start


def plan(s: VMSnapshot, now: datetime) -> VMPlan:
    """The writes for one VM and the status to write after them."""
    actions, requeue, add_start = _actions(s, now)
    if any(isinstance(a, PatchVMSpec) for a in actions):
        return Plan.of(actions)
    after = dataclasses.replace(
        s, expecting_creation=s.expecting_creation or any(isinstance(a, CreateVMI) for a in actions),
        expecting_deletion=s.expecting_deletion or any(isinstance(a, DeleteVMI) for a in actions))
    status = compute_status(after, now, add_start_request=add_start)
    return Plan.of(actions, None if status == s.vm.status.raw else status, requeue)
