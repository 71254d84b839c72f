"""What the VM controller must do for one VirtualMachine: a pure `plan(snapshot)`.

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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from virt_client.api.constants import VM_FINALIZER, RunStrategy, StateChangeRequestAction
from virt_client.api.objects import is_deleting, is_final
from virt_client.api.vm import RunStrategyConflict, VirtualMachineSpec, effective_run_strategy
from virt_controller.vm.backoff import seconds_until_retry
from virt_controller.vm.vmi_build import build_vmi


@dataclass(frozen=True)
class VMSnapshot:
    vm: Mapping[str, Any]
    vmi: Mapping[str, Any] | None
    now: datetime
    expecting_creation: bool = False
    expecting_deletion: bool = False
    datavolumes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    pvcs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


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


@dataclass(frozen=True)
class Plan:
    actions: list[Action]
    requeue_after: float | None = None
    add_start_request: bool = False
    error: str = ""


def run_strategy(vm: Mapping[str, Any]) -> RunStrategy:
    """The VM's effective run strategy (raises `RunStrategyConflict` when both fields are set)."""
    return effective_run_strategy(VirtualMachineSpec.model_validate(
        {"template": {}, **{k: v for k, v in (vm.get("spec") or {}).items() if k in ("running", "runStrategy")}}))


def first_request(vm: Mapping[str, Any]) -> Mapping[str, Any] | None:
    reqs = (vm.get("status") or {}).get("stateChangeRequests") or []
    return reqs[0] if reqs else None


def has_start_request(vm: Mapping[str, Any]) -> bool:
    req = first_request(vm)
    return req is not None and req.get("action") == StateChangeRequestAction.START


def start_paused_requested(vm: Mapping[str, Any]) -> bool:
    req = first_request(vm)
    return has_start_request(vm) and ((req or {}).get("data") or {}).get("paused") == "true"


def has_stop_request_for(vm: Mapping[str, Any], vmi: Mapping[str, Any]) -> bool:
    req = first_request(vm)
    return (req is not None and req.get("action") == StateChangeRequestAction.STOP
            and req.get("uid") is not None and req.get("uid") == (vmi.get("metadata") or {}).get("uid"))


def _vmi_ref(vmi: Mapping[str, Any]) -> tuple[str, str]:
    md = vmi.get("metadata") or {}
    return str(md.get("name")), str(md.get("uid"))


def _start(s: VMSnapshot, actions: list[Action], *, backoff: bool) -> float | None:
    if s.expecting_creation:
        return None
    if backoff:
        wait = seconds_until_retry((s.vm.get("status") or {}).get("startFailure"), s.now)
        if wait > 0:
            return wait
    actions.append(CreateVMI(build_vmi(s.vm, start_paused=start_paused_requested(s.vm))))
    return None


def _stop(vmi: Mapping[str, Any], actions: list[Action], reason: str) -> None:
    name, uid = _vmi_ref(vmi)
    actions.append(DeleteVMI(name, uid, reason))


def plan(s: VMSnapshot) -> Plan:
    """The actions for one VM."""
    vm, vmi = s.vm, s.vmi
    finalizers = list((vm.get("metadata") or {}).get("finalizers") or [])
    actions: list[Action] = []
    live_vmi = vmi if vmi is not None and not is_deleting(vmi) else None

    if is_deleting(vm):
        if live_vmi is not None and not s.expecting_deletion:
            _stop(live_vmi, actions, "the VirtualMachine is being deleted")
        if vmi is None and VM_FINALIZER in finalizers:
            actions.append(SetFinalizers([f for f in finalizers if f != VM_FINALIZER], finalizers))
        return Plan(actions)

    if VM_FINALIZER not in finalizers:
        actions.append(SetFinalizers([*finalizers, VM_FINALIZER], finalizers if finalizers else None))
    try:
        strategy = run_strategy(vm)
    except RunStrategyConflict as e:
        return Plan(actions, error=str(e))

    requeue: float | None = None
    add_start = False
    if vmi is not None and live_vmi is None:
        return Plan(actions)  # the old VMI is still going away: wait for it
    if s.expecting_deletion:
        return Plan(actions)

    if strategy == RunStrategy.ALWAYS:
        if live_vmi is not None:
            if has_stop_request_for(vm, live_vmi):
                _stop(live_vmi, actions, "a stop request")
            elif is_final(live_vmi):
                _stop(live_vmi, actions, f"the VirtualMachineInstance is {live_vmi['status']['phase']}")
        else:
            requeue = _start(s, actions, backoff=True)
    elif strategy == RunStrategy.RERUN_ON_FAILURE:
        if live_vmi is not None:
            phase = (live_vmi.get("status") or {}).get("phase")
            if has_stop_request_for(vm, live_vmi) or is_final(live_vmi):
                _stop(live_vmi, actions, "a stop request" if not is_final(live_vmi) else f"the VMI is {phase}")
                add_start = phase == "Failed" and not has_stop_request_for(vm, live_vmi)
        else:
            changed = (vm.get("status") or {}).get("runStrategy") != strategy
            if has_start_request(vm) or changed:
                requeue = _start(s, actions, backoff=True)
    elif strategy == RunStrategy.MANUAL:
        if live_vmi is not None:
            if has_stop_request_for(vm, live_vmi):
                _stop(live_vmi, actions, "a stop request")
        elif has_start_request(vm):
            requeue = _start(s, actions, backoff=False)
    elif strategy == RunStrategy.HALTED:
        if live_vmi is not None:
            _stop(live_vmi, actions, "runStrategy Halted")
        elif has_start_request(vm):
            spec = vm.get("spec") or {}
            if "running" in spec and spec.get("running") is not None:
                actions.append(PatchVMSpec([{"op": "test", "path": "/spec/running", "value": spec["running"]},
                                            {"op": "replace", "path": "/spec/running", "value": True}]))
            else:
                actions.append(PatchVMSpec([{"op": "add", "path": "/spec/runStrategy",
                                             "value": RunStrategy.ALWAYS.value}]))
    elif strategy == RunStrategy.ONCE:
        if live_vmi is not None:
            if has_stop_request_for(vm, live_vmi):
                _stop(live_vmi, actions, "a stop request")
        elif (vm.get("status") or {}).get("runStrategy") != strategy or has_start_request(vm):
            requeue = _start(s, actions, backoff=True)
    return Plan(actions, requeue_after=requeue, add_start_request=add_start)
