"""The VM controller's pure plan: every run strategy × VMI state, requests, deletion, backoff."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from virt_controller.vm.plan import CreateVMI, DeleteVMI, PatchVMSpec, SetFinalizers, VMSnapshot, plan
from virt_controller.vm.vmi_build import build_vmi, firmware_uuid

NOW = datetime(2024, 1, 1, tzinfo=UTC)
FIN = "kubevirt.io/virtualMachineControllerFinalize"


def vm(strategy: str | None = None, *, running: bool | None = None, requests: list[dict[str, Any]] | None = None,
       status_strategy: str | None = None, **status: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"template": {"metadata": {"labels": {"app": "a"}},
                                         "spec": {"domain": {"devices": {}}}}}
    if strategy:
        spec["runStrategy"] = strategy
    if running is not None:
        spec["running"] = running
    st: dict[str, Any] = dict(status)
    if requests:
        st["stateChangeRequests"] = requests
    if status_strategy:
        st["runStrategy"] = status_strategy
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
            "metadata": {"name": "vm1", "namespace": "ns", "uid": "vm-uid", "generation": 3, "finalizers": [FIN]},
            "spec": spec, "status": st}


def vmi(phase: str | None, deleting: bool = False) -> dict[str, Any] | None:
    if phase is None:
        return None
    md: dict[str, Any] = {"name": "vm1", "namespace": "ns", "uid": "vmi-uid"}
    if deleting:
        md["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {"metadata": md, "status": {"phase": phase}}


def kinds(vm_obj: dict[str, Any], vmi_obj: dict[str, Any] | None, **kw: Any) -> list[str]:
    return [type(a).__name__ for a in plan(VMSnapshot(vm=vm_obj, vmi=vmi_obj, now=NOW, **kw)).actions]


STOP = [{"action": "Stop", "uid": "vmi-uid"}]
START = [{"action": "Start"}]

# (strategy, VMI phase or None, state-change requests, status.runStrategy) -> expected actions
TABLE: list[tuple[str, str | None, list[dict[str, Any]] | None, str | None, list[str]]] = [
    ("Always", None, None, "Always", ["CreateVMI"]),
    ("Always", "Pending", None, "Always", []),
    ("Always", "Running", None, "Always", []),
    ("Always", "Running", STOP, "Always", ["DeleteVMI"]),
    ("Always", "Succeeded", None, "Always", ["DeleteVMI"]),
    ("Always", "Failed", None, "Always", ["DeleteVMI"]),
    ("RerunOnFailure", None, None, None, ["CreateVMI"]),
    ("RerunOnFailure", None, None, "RerunOnFailure", []),
    ("RerunOnFailure", None, START, "RerunOnFailure", ["CreateVMI"]),
    ("RerunOnFailure", "Running", None, "RerunOnFailure", []),
    ("RerunOnFailure", "Running", STOP, "RerunOnFailure", ["DeleteVMI"]),
    ("RerunOnFailure", "Failed", None, "RerunOnFailure", ["DeleteVMI"]),
    ("RerunOnFailure", "Succeeded", None, "RerunOnFailure", ["DeleteVMI"]),
    ("Manual", None, None, "Manual", []),
    ("Manual", None, START, "Manual", ["CreateVMI"]),
    ("Manual", "Running", None, "Manual", []),
    ("Manual", "Running", STOP, "Manual", ["DeleteVMI"]),
    ("Manual", "Succeeded", None, "Manual", []),
    ("Halted", None, None, "Halted", []),
    ("Halted", None, START, "Halted", ["PatchVMSpec"]),
    ("Halted", "Running", None, "Halted", ["DeleteVMI"]),
    ("Halted", "Succeeded", None, "Halted", ["DeleteVMI"]),
    ("Once", None, None, None, ["CreateVMI"]),
    ("Once", None, None, "Once", []),
    ("Once", "Running", None, "Once", []),
    ("Once", "Running", STOP, "Once", ["DeleteVMI"]),
    ("Once", "Failed", None, "Once", []),
    ("Once", "Succeeded", None, "Once", []),
]


@pytest.mark.parametrize(("strategy", "phase", "requests", "status_strategy", "expected"), TABLE,
                         ids=[f"{t[0]}-{t[1] or 'noVMI'}-{(t[2] or [{}])[0].get('action', 'none')}-{t[3]}"
                              for t in TABLE])
def test_run_strategy_table(strategy: str, phase: str | None, requests: list[dict[str, Any]] | None,
                            status_strategy: str | None, expected: list[str]) -> None:
    assert kinds(vm(strategy, requests=requests, status_strategy=status_strategy), vmi(phase)) == expected


@pytest.mark.parametrize("strategy", ["Always", "RerunOnFailure", "Manual", "Halted", "Once"])
def test_a_vmi_being_deleted_is_waited_for(strategy: str) -> None:
    assert kinds(vm(strategy, requests=START), vmi("Running", deleting=True)) == []


@pytest.mark.parametrize(("running", "expected"), [(True, ["CreateVMI"]), (False, [])])
def test_legacy_running_field(running: bool, expected: list[str]) -> None:
    assert kinds(vm(running=running), None) == expected


def test_both_running_and_run_strategy_is_an_error() -> None:
    result = plan(VMSnapshot(vm=vm("Always", running=True), vmi=None, now=NOW))
    assert result.actions == [] and "mutually exclusive" in result.error


def test_halted_start_request_rewrites_spec() -> None:
    [action] = plan(VMSnapshot(vm=vm("Halted", requests=START), vmi=None, now=NOW)).actions
    assert isinstance(action, PatchVMSpec)
    assert action.patch == [{"op": "add", "path": "/spec/runStrategy", "value": "Always"}]
    [legacy] = plan(VMSnapshot(vm=vm(running=False, requests=START), vmi=None, now=NOW)).actions
    assert isinstance(legacy, PatchVMSpec) and legacy.patch[-1]["value"] is True


def test_rerun_on_failure_queues_start_after_failed_vmi() -> None:
    result = plan(VMSnapshot(vm=vm("RerunOnFailure", status_strategy="RerunOnFailure"), vmi=vmi("Failed"), now=NOW))
    assert result.add_start_request
    result = plan(VMSnapshot(vm=vm("RerunOnFailure", status_strategy="RerunOnFailure"), vmi=vmi("Succeeded"),
                             now=NOW))
    assert not result.add_start_request


def test_stop_request_for_another_vmi_is_ignored() -> None:
    assert kinds(vm("Manual", requests=[{"action": "Stop", "uid": "old"}]), vmi("Running")) == []


def test_no_second_vmi_while_creation_expected() -> None:
    assert kinds(vm("Always"), None, expecting_creation=True) == []
    assert kinds(vm("Always"), vmi("Failed"), expecting_deletion=True) == []


def test_crash_loop_backoff_delays_creation() -> None:
    failure = {"consecutiveFailCount": 2, "retryAfterTimestamp": "2024-01-01T00:00:30Z", "lastFailedVMIUID": "x"}
    result = plan(VMSnapshot(vm=vm("Always", startFailure=failure), vmi=None, now=NOW))
    assert result.actions == [] and result.requeue_after == 30
    assert kinds(vm("Manual", requests=START, startFailure=failure), None) == ["CreateVMI"]


def test_deleted_vm_stops_vmi_then_drops_finalizer() -> None:
    deleted = vm("Always")
    deleted["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert kinds(deleted, vmi("Running")) == ["DeleteVMI"]
    assert kinds(deleted, vmi("Running", deleting=True)) == []
    [action] = plan(VMSnapshot(vm=deleted, vmi=None, now=NOW)).actions
    assert isinstance(action, SetFinalizers) and action.finalizers == []


def test_finalizer_added() -> None:
    fresh = vm("Halted")
    fresh["metadata"]["finalizers"] = None
    [action] = plan(VMSnapshot(vm=fresh, vmi=None, now=NOW)).actions
    assert isinstance(action, SetFinalizers) and action.finalizers == [FIN] and action.previous is None


def test_vmi_built_from_template() -> None:
    result = plan(VMSnapshot(vm=vm("Manual", requests=[{"action": "Start", "data": {"paused": "true"}}]),
                             vmi=None, now=NOW))
    [create] = result.actions
    assert isinstance(create, CreateVMI)
    v = create.vmi
    assert v["metadata"]["name"] == "vm1" and v["metadata"]["namespace"] == "ns"
    assert v["metadata"]["labels"] == {"app": "a"}
    assert v["metadata"]["annotations"]["kubevirt.io/vm-generation"] == "3"
    assert v["metadata"]["ownerReferences"] == [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                                                 "name": "vm1", "uid": "vm-uid", "controller": True,
                                                 "blockOwnerDeletion": True}]
    assert v["spec"]["domain"]["firmware"]["uuid"] == firmware_uuid("vm1")
    assert v["spec"]["startStrategy"] == "Paused"


def test_firmware_uuid_is_upstreams_and_kept_when_given() -> None:
    # uuid5 in upstream's namespace 6a1a24a1-4061-4607-8bf4-a3963d0c5895
    assert firmware_uuid("testvm") == firmware_uuid("testvm") != firmware_uuid("other")
    given = vm("Always")
    given["spec"]["template"]["spec"]["domain"]["firmware"] = {"uuid": "fixed"}
    assert build_vmi(given)["spec"]["domain"]["firmware"]["uuid"] == "fixed"


def test_delete_action_names_the_vmi() -> None:
    [action] = plan(VMSnapshot(vm=vm("Halted"), vmi=vmi("Running"), now=NOW)).actions
    assert action == DeleteVMI("vm1", "vmi-uid", "runStrategy Halted")
