"""Pure decisions of the VM lifecycle subresources: start, stop, restart (upstream `rest/lifecycle.go`).

Each function takes the VM, its VMI (or None) and the decoded options and returns a `Plan`: the
JSON patches virt-api must send, in order, or raises `SubresourceError` with upstream's status and
message. Every patch starts with a `test` operation on the value it read, so two concurrent
requests cannot both win: the loser's patch fails and is answered 409.

Rules (reference §2.2): Halted VMs are started by rewriting the spec (`runStrategy: Always` or
`running: true`); Always/Once VMs are stopped by rewriting it to Halted; Manual and RerunOnFailure
VMs only get `status.stateChangeRequests`. A single Stop request replaces pending requests; any
other request while requests are pending is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from virt_client.api.constants import (
    RunStrategy,
    StateChangeRequestAction,
    VirtualMachineConditionType,
    VirtualMachineInstancePhase,
)
from virt_client.api.objects import is_final, phase
from virt_client.api.options import RestartOptions, StartOptions, StopOptions

from .errors import VM_NOT_RUNNING, bad_request, conflict, internal

JsonPatch = list[dict[str, Any]]
VM_KIND = "virtualmachine"

MANUAL_RECOVERY_MESSAGE = (
    "VM recovery required: Volume migration failed before replacing the source volumes and the VM was shut "
    "down. Restore the original volumes in the VM spec and start the VM, or delete it."
)
UNDERWAY = "unable to complete request: stop/start already underway"


@dataclass(frozen=True)
class Plan:
    """What a lifecycle request writes, in order: VMI grace period, VM spec, VM status."""

    vmi_patch: JsonPatch | None = None
    vmi_rollback: JsonPatch | None = None
    vm_spec_patch: JsonPatch | None = None
    vm_status_patch: JsonPatch | None = None
    delete_launcher_pods: bool = False
    vmi_uid: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def run_strategy(vm: Mapping[str, Any]) -> RunStrategy:
    """The effective run strategy of a VM (wire form); 500 when `running` and `runStrategy` are both set."""
    spec = vm.get("spec") or {}
    running, strategy = spec.get("running"), spec.get("runStrategy")
    if running is not None and strategy is not None:
        raise internal("running and runstrategy are mutually exclusive", VM_KIND, _name(vm))
    if running is not None:
        return RunStrategy.ALWAYS if running else RunStrategy.HALTED
    if strategy is None:
        return RunStrategy.HALTED
    try:
        return RunStrategy(strategy)
    except ValueError:
        raise internal(f"unknown runStrategy {strategy!r}", VM_KIND, _name(vm)) from None


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _has_condition(obj: Mapping[str, Any], ctype: str) -> bool:
    conds = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == ctype and c.get("status") == "True" for c in conds if isinstance(c, Mapping))


def running_patch(vm: Mapping[str, Any], running: bool) -> JsonPatch:
    """Rewrite the spec to Always/Halted, guarded by a test of the value that was read."""
    spec = vm.get("spec") or {}
    if "runStrategy" in spec and spec["runStrategy"] is not None:
        strategy = RunStrategy.ALWAYS if running else RunStrategy.HALTED
        return [{"op": "test", "path": "/spec/runStrategy", "value": spec["runStrategy"]},
                {"op": "replace", "path": "/spec/runStrategy", "value": str(strategy)}]
    if "running" in spec and spec["running"] is not None:
        return [{"op": "test", "path": "/spec/running", "value": spec["running"]},
                {"op": "replace", "path": "/spec/running", "value": running}]
    strategy = RunStrategy.ALWAYS if running else RunStrategy.HALTED
    return [{"op": "test", "path": "/spec/runStrategy", "value": None},
            {"op": "test", "path": "/spec/running", "value": None},
            {"op": "add", "path": "/spec/runStrategy", "value": str(strategy)}]


def change_request_patch(vm: Mapping[str, Any], *changes: dict[str, Any]) -> JsonPatch:
    """The status patch that queues `changes` (upstream `getChangeRequestJson`)."""
    status = vm.get("status") or {}
    if not status:
        # No status at all: add it whole. Guard with the resourceVersion, since an absent
        # field cannot be tested.
        rv = (vm.get("metadata") or {}).get("resourceVersion")
        ops: JsonPatch = [{"op": "test", "path": "/metadata/resourceVersion", "value": rv}] if rv else []
        return ops + [{"op": "add", "path": "/status", "value": {"stateChangeRequests": list(changes)}}]
    pending = status.get("stateChangeRequests") or []
    only_stop = len(changes) == 1 and changes[0].get("action") == StateChangeRequestAction.STOP
    if pending and not only_stop:
        raise conflict(VM_KIND, _name(vm), UNDERWAY)
    ops = [{"op": "test", "path": "/status/stateChangeRequests", "value": status.get("stateChangeRequests")},
           {"op": "replace" if pending else "add", "path": "/status/stateChangeRequests", "value": list(changes)}]
    if status.get("startFailure") is not None:
        ops.append({"op": "remove", "path": "/status/startFailure"})
    return ops


def _stop_request(vmi: Mapping[str, Any]) -> dict[str, Any]:
    uid = (vmi.get("metadata") or {}).get("uid")
    req: dict[str, Any] = {"action": str(StateChangeRequestAction.STOP)}
    if uid:
        req["uid"] = uid
    return req


def _start_request(paused: bool) -> dict[str, Any]:
    req: dict[str, Any] = {"action": str(StateChangeRequestAction.START)}
    if paused:
        req["data"] = {"paused": "true"}
    return req


def grace_patch(vmi: Mapping[str, Any], seconds: int) -> tuple[JsonPatch, JsonPatch]:
    """Set the VMI's termination grace period (test + replace) and the patch that undoes it."""
    old = (vmi.get("spec") or {}).get("terminationGracePeriodSeconds")
    path = "/spec/terminationGracePeriodSeconds"
    forward = [{"op": "test", "path": path, "value": old}, {"op": "add", "path": path, "value": seconds}]
    back: JsonPatch = [{"op": "test", "path": path, "value": seconds}]
    back.append({"op": "replace", "path": path, "value": old} if old is not None else {"op": "remove", "path": path})
    return forward, back


def _live(vmi: Mapping[str, Any] | None) -> bool:
    return vmi is not None and not is_final(vmi)


def plan_start(vm: Mapping[str, Any], vmi: Mapping[str, Any] | None, opts: StartOptions) -> Plan:
    """PUT virtualmachines/{name}/start."""
    name = _name(vm)
    strategy = run_strategy(vm)
    if _has_condition(vm, VirtualMachineConditionType.MANUAL_RECOVERY_REQUIRED):
        raise conflict(VM_KIND, name, MANUAL_RECOVERY_MESSAGE)
    if vmi is not None and not is_final(vmi) and phase(vmi) not in (VirtualMachineInstancePhase.UNKNOWN, ""):
        raise conflict(VM_KIND, name, "VM is already running")
    paused = bool(opts.paused)
    if strategy == RunStrategy.HALTED:
        if paused:
            return Plan(vm_status_patch=change_request_patch(vm, _start_request(True)))
        return Plan(vm_spec_patch=running_patch(vm, True))
    if strategy in (RunStrategy.MANUAL, RunStrategy.RERUN_ON_FAILURE):
        if strategy == RunStrategy.RERUN_ON_FAILURE and phase(vmi) == VirtualMachineInstancePhase.FAILED:
            raise conflict(VM_KIND, name, f"{strategy} does not support starting VM from failed state")
        restart = vmi is not None and (
            (strategy == RunStrategy.RERUN_ON_FAILURE and phase(vmi) == VirtualMachineInstancePhase.SUCCEEDED)
            or (strategy == RunStrategy.MANUAL and is_final(vmi)))
        changes = ([_stop_request(vmi)] if restart and vmi is not None else []) + [_start_request(paused)]
        return Plan(vm_status_patch=change_request_patch(vm, *changes))
    raise conflict(VM_KIND, name, f"{strategy} does not support manual start requests")


def plan_stop(vm: Mapping[str, Any], vmi: Mapping[str, Any] | None, opts: StopOptions) -> Plan:
    """PUT virtualmachines/{name}/stop."""
    name = _name(vm)
    strategy = run_strategy(vm)
    grace = opts.grace_period
    if grace is not None and grace < 0:
        raise bad_request("gracePeriod has to be greater or equal to 0", VM_KIND, name)
    vmi_patch = rollback = None
    if grace is not None and _live(vmi) and vmi is not None:
        vmi_patch, rollback = grace_patch(vmi, int(grace))
    if strategy == RunStrategy.HALTED:
        if not _live(vmi) or vmi is None:
            raise conflict(VM_KIND, name, VM_NOT_RUNNING)
        current = (vmi.get("spec") or {}).get("terminationGracePeriodSeconds")
        if grace is None or (current is not None and grace >= current):
            raise conflict(VM_KIND, name, f"{strategy} only supports manual stop requests with a shorter graceperiod")
        return Plan(vmi_patch=vmi_patch, vmi_rollback=rollback,
                    vm_status_patch=change_request_patch(vm, _stop_request(vmi)))
    if strategy in (RunStrategy.MANUAL, RunStrategy.RERUN_ON_FAILURE):
        if not _live(vmi) or vmi is None:
            raise conflict(VM_KIND, name, VM_NOT_RUNNING)
        return Plan(vmi_patch=vmi_patch, vmi_rollback=rollback,
                    vm_status_patch=change_request_patch(vm, _stop_request(vmi)))
    if strategy == RunStrategy.WAIT_AS_RECEIVER:
        raise conflict(VM_KIND, name, f"{strategy} does not support manual stop requests")
    return Plan(vmi_patch=vmi_patch, vmi_rollback=rollback, vm_spec_patch=running_patch(vm, False))


def plan_restart(vm: Mapping[str, Any], vmi: Mapping[str, Any] | None, opts: RestartOptions) -> Plan:
    """PUT virtualmachines/{name}/restart."""
    name = _name(vm)
    grace = opts.grace_period_seconds
    if grace is not None and grace > 0:
        raise bad_request("For force restart, only gracePeriod=0 is supported for now", VM_KIND, name)
    if grace is not None and grace < 0:
        raise bad_request("gracePeriod has to be greater or equal to 0", VM_KIND, name)
    strategy = run_strategy(vm)
    if _has_condition(vm, "VolumesChange"):
        raise conflict(VM_KIND, name, "VM has a volume change in progress; restart it once the change completes")
    if strategy in (RunStrategy.HALTED, RunStrategy.ONCE, RunStrategy.WAIT_AS_RECEIVER):
        raise conflict(VM_KIND, name, f"{strategy} does not support manual restart requests")
    if vmi is None or not (vmi.get("metadata") or {}).get("uid"):
        raise conflict(VM_KIND, name, VM_NOT_RUNNING)
    vmi_patch = rollback = None
    if grace == 0:
        vmi_patch, rollback = grace_patch(vmi, 1)
    status_patch = change_request_patch(vm, _stop_request(vmi), _start_request(False))
    return Plan(vmi_patch=vmi_patch, vmi_rollback=rollback, vm_status_patch=status_patch,
                delete_launcher_pods=grace == 0, vmi_uid=str(vmi["metadata"]["uid"]))


def plan_migrate(vm: Mapping[str, Any], vmi: Mapping[str, Any] | None,
                 added_node_selector: Mapping[str, str] | None) -> dict[str, Any]:
    """PUT virtualmachines/{name}/migrate: the VirtualMachineInstanceMigration to create."""
    name = _name(vm)
    if vmi is None or phase(vmi) != VirtualMachineInstancePhase.RUNNING:
        raise conflict(VM_KIND, name, VM_NOT_RUNNING)
    namespace = (vm.get("metadata") or {}).get("namespace") or ""
    spec: dict[str, Any] = {"vmiName": name}
    if added_node_selector:
        spec["addedNodeSelector"] = dict(added_node_selector)
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
            "metadata": {"generateName": "kubevirt-migrate-vm-", "namespace": namespace}, "spec": spec}
