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
from dataclasses import dataclass

from virt_client.api.constants import (
    RunStrategy,
    StateChangeRequestAction,
    VirtualMachineConditionType,
    VirtualMachineInstancePhase,
)
from virt_client.api.options import RestartOptions, StartOptions, StopOptions
from virt_client.api.views import VirtualMachineInstanceView, VirtualMachineView, find_condition

from .errors import VM_NOT_RUNNING, BadRequestError, ConflictError, InternalError
from .wire import JsonObject, JsonPatch, JsonValue, op_remove, op_set, op_test

VM_KIND = "virtualmachine"
Object = Mapping[str, object]

MANUAL_RECOVERY_MESSAGE = (
    "VM recovery required: Volume migration failed before replacing the source volumes and the VM was shut "
    "down. Restore the original volumes in the VM spec and start the VM, or delete it."
)
UNDERWAY = "unable to complete request: stop/start already underway"


@dataclass(frozen=True)
class Plan:
    """What a lifecycle request writes, in order: VMI grace period, VM spec, VM status, launcher Pods."""

    vmi_patch: JsonPatch | None = None
    vmi_rollback: JsonPatch | None = None
    vm_spec_patch: JsonPatch | None = None
    vm_status_patch: JsonPatch | None = None
    delete_launcher_pods: bool = False
    vmi_uid: str = ""


def run_strategy(vm: Object) -> RunStrategy:
    """The effective run strategy of a VM (wire form); 500 when `running` and `runStrategy` are both set."""
    view = VirtualMachineView(vm)
    running, strategy = view.spec.running, view.spec.run_strategy
    if running is not None and strategy is not None:
        raise InternalError("running and runstrategy are mutually exclusive", VM_KIND, view.name)
    if running is not None:
        return RunStrategy.ALWAYS if running else RunStrategy.HALTED
    if strategy is None:
        return RunStrategy.HALTED
    try:
        return RunStrategy(strategy)
    except ValueError:
        raise InternalError(f"unknown runStrategy {strategy!r}", VM_KIND, view.name) from None


def _has_condition(vm: VirtualMachineView, ctype: str) -> bool:
    cond = find_condition(vm.status.conditions, ctype)
    return cond is not None and cond.is_true


def running_patch(vm: Object, running: bool) -> JsonPatch:
    """Rewrite the spec to Always/Halted, guarded by a test of the value that was read."""
    spec = VirtualMachineView(vm).spec
    strategy = str(RunStrategy.ALWAYS if running else RunStrategy.HALTED)
    if spec.run_strategy is not None:
        return [op_test("/spec/runStrategy", spec.run_strategy), op_set("replace", "/spec/runStrategy", strategy)]
    if spec.running is not None:
        return [op_test("/spec/running", spec.running), op_set("replace", "/spec/running", running)]
    return [op_test("/spec/runStrategy", None), op_test("/spec/running", None),
            op_set("add", "/spec/runStrategy", strategy)]


def change_request_patch(vm: Object, *changes: JsonObject) -> JsonPatch:
    """The status patch that queues `changes` (upstream `getChangeRequestJson`)."""
    view = VirtualMachineView(vm)
    status = view.status
    if not status:
        # No status at all: add it whole. Guard with the resourceVersion, since an absent
        # field cannot be tested.
        rv = view.metadata.resource_version
        ops: JsonPatch = [op_test("/metadata/resourceVersion", rv)] if rv else []
        return ops + [op_set("add", "/status", {"stateChangeRequests": list(changes)})]
    pending = status.state_change_requests
    only_stop = len(changes) == 1 and changes[0].get("action") == StateChangeRequestAction.STOP
    if pending and not only_stop:
        raise ConflictError(VM_KIND, view.name, UNDERWAY)
    written: JsonValue = status.raw.get("stateChangeRequests")  # tested exactly as read: absent, null or a list
    ops = [op_test("/status/stateChangeRequests", written),
           op_set("replace" if pending else "add", "/status/stateChangeRequests", list(changes))]
    if status.start_failure is not None:
        ops.append(op_remove("/status/startFailure"))
    return ops


def _stop_request(vmi: VirtualMachineInstanceView) -> JsonObject:
    if vmi.uid:
        return {"action": str(StateChangeRequestAction.STOP), "uid": vmi.uid}
    return {"action": str(StateChangeRequestAction.STOP)}


def _start_request(paused: bool) -> JsonObject:
    if paused:
        return {"action": str(StateChangeRequestAction.START), "data": {"paused": "true"}}
    return {"action": str(StateChangeRequestAction.START)}


def grace_patch(vmi: Object, seconds: int) -> tuple[JsonPatch, JsonPatch]:
    """Set the VMI's termination grace period (test + replace) and the patch that undoes it."""
    old = VirtualMachineInstanceView(vmi).spec.termination_grace_period_seconds
    path = "/spec/terminationGracePeriodSeconds"
    forward = [op_test(path, old), op_set("add", path, seconds)]
    back = [op_test(path, seconds), op_set("replace", path, old) if old is not None else op_remove(path)]
    return forward, back


def _live(vmi: VirtualMachineInstanceView | None) -> bool:
    return vmi is not None and not vmi.is_final


def _views(vm: Object, vmi: Object | None) -> tuple[VirtualMachineView, VirtualMachineInstanceView | None]:
    return VirtualMachineView(vm), VirtualMachineInstanceView(vmi) if vmi is not None else None


def plan_start(vm: Object, vmi: Object | None, opts: StartOptions) -> Plan:
    """PUT virtualmachines/{name}/start."""
    vm_view, vmi_view = _views(vm, vmi)
    name = vm_view.name
    strategy = run_strategy(vm)
    if _has_condition(vm_view, VirtualMachineConditionType.MANUAL_RECOVERY_REQUIRED):
        raise ConflictError(VM_KIND, name, MANUAL_RECOVERY_MESSAGE)
    phase = vmi_view.phase if vmi_view is not None else VirtualMachineInstancePhase.UNSET
    if _live(vmi_view) and phase not in (VirtualMachineInstancePhase.UNKNOWN, VirtualMachineInstancePhase.UNSET):
        raise ConflictError(VM_KIND, name, "VM is already running")
    paused = bool(opts.paused)
    if strategy == RunStrategy.HALTED:
        if paused:
            return Plan(vm_status_patch=change_request_patch(vm, _start_request(True)))
        return Plan(vm_spec_patch=running_patch(vm, True))
    if strategy in (RunStrategy.MANUAL, RunStrategy.RERUN_ON_FAILURE):
        if strategy == RunStrategy.RERUN_ON_FAILURE and phase == VirtualMachineInstancePhase.FAILED:
            raise ConflictError(VM_KIND, name, f"{strategy} does not support starting VM from failed state")
        restart = vmi_view is not None and (
            (strategy == RunStrategy.RERUN_ON_FAILURE and phase == VirtualMachineInstancePhase.SUCCEEDED)
            or (strategy == RunStrategy.MANUAL and vmi_view.is_final))
        changes = ([_stop_request(vmi_view)] if restart and vmi_view is not None else []) + [_start_request(paused)]
        return Plan(vm_status_patch=change_request_patch(vm, *changes))
    raise ConflictError(VM_KIND, name, f"{strategy} does not support manual start requests")


def plan_stop(vm: Object, vmi: Object | None, opts: StopOptions) -> Plan:
    """PUT virtualmachines/{name}/stop."""
    vm_view, vmi_view = _views(vm, vmi)
    name = vm_view.name
    strategy = run_strategy(vm)
    grace = opts.grace_period
    if grace is not None and grace < 0:
        raise BadRequestError("gracePeriod has to be greater or equal to 0", VM_KIND, name)
    vmi_patch = rollback = None
    if grace is not None and vmi is not None and _live(vmi_view):
        vmi_patch, rollback = grace_patch(vmi, int(grace))
    if strategy == RunStrategy.HALTED:
        if vmi_view is None or not _live(vmi_view):
            raise ConflictError(VM_KIND, name, VM_NOT_RUNNING)
        current = vmi_view.spec.termination_grace_period_seconds
        if grace is None or (current is not None and grace >= current):
            raise ConflictError(VM_KIND, name,
                                f"{strategy} only supports manual stop requests with a shorter graceperiod")
        return Plan(vmi_patch=vmi_patch, vmi_rollback=rollback,
                    vm_status_patch=change_request_patch(vm, _stop_request(vmi_view)))
    if strategy in (RunStrategy.MANUAL, RunStrategy.RERUN_ON_FAILURE):
        if vmi_view is None or not _live(vmi_view):
            raise ConflictError(VM_KIND, name, VM_NOT_RUNNING)
        return Plan(vmi_patch=vmi_patch, vmi_rollback=rollback,
                    vm_status_patch=change_request_patch(vm, _stop_request(vmi_view)))
    if strategy == RunStrategy.WAIT_AS_RECEIVER:
        raise ConflictError(VM_KIND, name, f"{strategy} does not support manual stop requests")
    return Plan(vmi_patch=vmi_patch, vmi_rollback=rollback, vm_spec_patch=running_patch(vm, False))


def plan_restart(vm: Object, vmi: Object | None, opts: RestartOptions) -> Plan:
    """PUT virtualmachines/{name}/restart."""
    vm_view, vmi_view = _views(vm, vmi)
    name = vm_view.name
    grace = opts.grace_period_seconds
    if grace is not None and grace > 0:
        raise BadRequestError("For force restart, only gracePeriod=0 is supported for now", VM_KIND, name)
    if grace is not None and grace < 0:
        raise BadRequestError("gracePeriod has to be greater or equal to 0", VM_KIND, name)
    strategy = run_strategy(vm)
    if _has_condition(vm_view, "VolumesChange"):
        raise ConflictError(VM_KIND, name, "VM has a volume change in progress; restart it once the change completes")
    if strategy in (RunStrategy.HALTED, RunStrategy.ONCE, RunStrategy.WAIT_AS_RECEIVER):
        raise ConflictError(VM_KIND, name, f"{strategy} does not support manual restart requests")
    if vmi is None or vmi_view is None or not vmi_view.uid:
        raise ConflictError(VM_KIND, name, VM_NOT_RUNNING)
    vmi_patch = rollback = None
    if grace == 0:
        vmi_patch, rollback = grace_patch(vmi, 1)
    status_patch = change_request_patch(vm, _stop_request(vmi_view), _start_request(False))
    return Plan(vmi_patch=vmi_patch, vmi_rollback=rollback, vm_status_patch=status_patch,
                delete_launcher_pods=grace == 0, vmi_uid=vmi_view.uid)


def plan_migrate(vm: Object, vmi: Object | None, added_node_selector: Mapping[str, str] | None) -> JsonObject:
    """PUT virtualmachines/{name}/migrate: the VirtualMachineInstanceMigration to create."""
    vm_view, vmi_view = _views(vm, vmi)
    name = vm_view.name
    if vmi_view is None or vmi_view.phase != VirtualMachineInstancePhase.RUNNING:
        raise ConflictError(VM_KIND, name, VM_NOT_RUNNING)
    spec: dict[str, JsonValue] = {"vmiName": name}
    if added_node_selector:
        spec["addedNodeSelector"] = dict(added_node_selector)
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
            "metadata": {"generateName": "kubevirt-migrate-vm-", "namespace": vm_view.namespace}, "spec": spec}
