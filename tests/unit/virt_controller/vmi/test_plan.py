"""The VMI controller's pure plan: Pod creation, phases up to Scheduled, failures, finalizer, deletion."""

from __future__ import annotations

from typing import Any

import pytest

from virt_controller.settings import Hypervisor, LauncherConfig
from virt_controller.vmi.plan import CreatePod, DeletePod, UpdateVMI, VMISnapshot, Wait, plan

FIN = "kubevirt.io/foregroundDeleteVirtualMachine"
NOW = "2024-01-01T00:00:00Z"


def vmi(phase: str = "", deleting: bool = False, finalizers: list[str] | None = None, **status: Any) -> dict[str, Any]:
    md: dict[str, Any] = {"name": "vm1", "namespace": "ns", "uid": "u1", "finalizers": finalizers or [FIN]}
    if deleting:
        md["deletionTimestamp"] = NOW
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "metadata": md,
            "spec": {"domain": {"devices": {}}}, "status": {"phase": phase, **status}}


def pod(phase: str = "Pending", node: str = "", deleting: bool = False, **status: Any) -> dict[str, Any]:
    md: dict[str, Any] = {"name": "virt-launcher-vm1-aaaaa", "uid": "p1", "creationTimestamp": NOW}
    if deleting:
        md["deletionTimestamp"] = NOW
    return {"metadata": md, "spec": {"nodeName": node} if node else {}, "status": {"phase": phase, **status}}


def run(v: dict[str, Any], pods: list[dict[str, Any]], satisfied: bool = True) -> tuple[list[str], dict[str, Any]]:
    actions = plan(VMISnapshot(vmi=v, pods=pods, expectations_satisfied=satisfied, now=NOW, pod_suffix="abcde",
                               launcher=LauncherConfig(hypervisor=Hypervisor.TEST)))
    updated = next((a.vmi for a in actions if isinstance(a, UpdateVMI)), v)
    return [type(a).__name__ for a in actions], updated


RUNNING_POD = pod("Running", "node1")

TABLE: list[tuple[str, dict[str, Any], list[dict[str, Any]], bool, list[str], str]] = [
    ("new-vmi-creates-pod", vmi("", finalizers=[]), [], True, ["UpdateVMI", "CreatePod"], "Pending"),
    ("pending-creates-pod", vmi("Pending"), [], True, ["CreatePod"], "Pending"),
    ("creation-expected-waits", vmi("Pending"), [], False, [], "Pending"),
    ("pod-seen-scheduling", vmi("Pending"), [pod()], True, ["UpdateVMI"], "Scheduling"),
    ("scheduling-waits", vmi("Scheduling"), [pod()], True, [], "Scheduling"),
    ("pod-running-scheduled", vmi("Scheduling"), [RUNNING_POD], True, ["UpdateVMI"], "Scheduled"),
    ("pod-failed-fails-vmi", vmi("Scheduling"), [pod("Failed", "n", reason="ErrImagePull")], True,
     ["UpdateVMI", "DeletePod"], "Failed"),
    ("pod-vanished-fails-vmi", vmi("Scheduled"), [], True, ["UpdateVMI"], "Failed"),
    ("running-left-to-handler", vmi("Running"), [RUNNING_POD], True, [], "Running"),
    ("running-pod-gone", vmi("Running"), [], True, ["UpdateVMI"], "Failed"),
    ("final-deletes-pod", vmi("Succeeded"), [RUNNING_POD], True, ["DeletePod"], "Succeeded"),
    ("final-pod-terminating-waits", vmi("Succeeded"), [pod("Running", "n", deleting=True)], True, [], "Succeeded"),
    ("final-no-pods-drops-finalizer", vmi("Failed"), [], True, ["UpdateVMI"], "Failed"),
    ("deleted-unscheduled-fails", vmi("Scheduling", deleting=True), [pod()], True,
     ["UpdateVMI", "DeletePod"], "Failed"),
    ("deleted-pending-no-pod", vmi("Pending", deleting=True), [], True, ["UpdateVMI"], "Failed"),
    ("deleted-scheduled-waits-for-handler", vmi("Scheduled", deleting=True), [RUNNING_POD], True, [], "Scheduled"),
    ("deleted-running-waits-for-handler", vmi("Running", deleting=True), [RUNNING_POD], True, [], "Running"),
]


@pytest.mark.parametrize(("v", "pods", "satisfied", "expected", "phase"), [t[1:] for t in TABLE],
                         ids=[t[0] for t in TABLE])
def test_plan_table(v: dict[str, Any], pods: list[dict[str, Any]], satisfied: bool, expected: list[str],
                    phase: str) -> None:
    if "UpdateVMI" not in expected:
        v = run(v, pods, satisfied)[1]  # start from the settled conditions: only the rest must be idle
    actions, updated = run(v, pods, satisfied)
    assert actions == expected
    assert updated["status"]["phase"] == phase


def test_never_two_pods() -> None:
    actions, _ = run(vmi("Pending"), [pod()])
    assert "CreatePod" not in actions


def test_scheduled_records_node() -> None:
    _, updated = run(vmi("Scheduling"), [RUNNING_POD])
    assert updated["status"]["nodeName"] == "node1"
    assert updated["metadata"]["labels"]["kubevirt.io/nodeName"] == "node1"
    assert updated["status"]["activePods"] == {"p1": "node1"}
    assert [t["phase"] for t in updated["status"]["phaseTransitionTimestamps"]] == ["Scheduled"]


def test_failure_reason_and_finalizer_removal() -> None:
    _, updated = run(vmi("Scheduling"), [pod("Failed", "n", reason="ErrImagePull")])
    assert updated["status"]["reason"] == "ErrImagePull"
    _, updated = run(vmi("Failed"), [])
    assert updated["metadata"]["finalizers"] == []


def test_conditions_copied_from_pod() -> None:
    unschedulable = pod(conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                     "message": "0/1 nodes"}])
    _, updated = run(vmi("Scheduling"), [unschedulable])
    [cond] = updated["status"]["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == ("PodScheduled", "False", "Unschedulable")
    pulling = pod(containerStatuses=[{"name": "compute", "state": {"waiting": {"reason": "ErrImagePull",
                                                                               "message": "not found"}}}])
    _, updated = run(vmi("Scheduling"), [pulling])
    [cond] = updated["status"]["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Synchronized", "False", "ErrImagePull")
    _, cleared = run(updated, [RUNNING_POD])
    assert not [c for c in cleared["status"]["conditions"] if c["type"] == "Synchronized"]


def test_ready_mirrors_pod_while_running() -> None:
    ready_pod = pod("Running", "n", conditions=[{"type": "Ready", "status": "True"}])
    _, updated = run(vmi("Running"), [ready_pod])
    assert {c["type"]: c["status"] for c in updated["status"]["conditions"]}["Ready"] == "True"
    paused = vmi("Running", conditions=[{"type": "Paused", "status": "True"}])
    _, updated = run(paused, [ready_pod])
    assert {c["type"]: c["status"] for c in updated["status"]["conditions"]}["Ready"] == "False"


def test_created_pod_is_the_rendered_one() -> None:
    actions = plan(VMISnapshot(vmi=vmi("Pending"), pods=[], expectations_satisfied=True, now=NOW, pod_suffix="zz",
                               launcher=LauncherConfig(hypervisor=Hypervisor.TEST)))
    [create] = [a for a in actions if isinstance(a, CreatePod)]
    assert create.pod["metadata"]["name"] == "virt-launcher-vm1-zz"
    deletes = plan(VMISnapshot(vmi=run(vmi("Failed"), [RUNNING_POD])[1], pods=[RUNNING_POD], expectations_satisfied=True, now=NOW,
                               pod_suffix="zz", launcher=LauncherConfig()))
    assert deletes == [DeletePod("virt-launcher-vm1-aaaaa", "p1")]


def settle(v: dict[str, Any], pods: list[dict[str, Any]], seconds: float = 0.6) -> list[Any]:
    return plan(VMISnapshot(vmi=v, pods=pods, expectations_satisfied=True, now=NOW, pod_suffix="abcde",
                            launcher=LauncherConfig(hypervisor=Hypervisor.TEST), scheduling_settle=seconds))


def test_scheduling_write_waits_while_the_new_pod_may_still_start() -> None:
    assert settle(vmi("Pending"), [pod()]) == [Wait(0.6)]
    assert settle(vmi("Pending"), [pod("Pending", "node1")]) == [Wait(0.6)]  # bound, not running yet


def test_a_pod_that_runs_within_the_settle_time_goes_straight_to_scheduled() -> None:
    [action] = settle(vmi("Pending"), [RUNNING_POD])
    assert isinstance(action, UpdateVMI)
    assert action.vmi["status"]["phase"] == "Scheduled"
    # both phases are recorded, in one write
    assert [t["phase"] for t in action.vmi["status"]["phaseTransitionTimestamps"]] == ["Scheduling", "Scheduled"]


@pytest.mark.parametrize("p", [
    pod(conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes"}]),
    pod(containerStatuses=[{"name": "compute", "state": {"waiting": {"reason": "ErrImagePull", "message": "x"}}}]),
    pod("Failed", "n", reason="ErrImagePull"),
], ids=["unschedulable", "image-pull", "pod-failed"])
def test_anything_beyond_the_phase_is_written_at_once(p: dict[str, Any]) -> None:
    actions = settle(vmi("Pending"), [p])
    assert actions and isinstance(actions[0], UpdateVMI)


def test_without_settle_time_scheduling_is_written_at_once() -> None:
    [action] = settle(vmi("Pending"), [pod()], seconds=0.0)
    assert isinstance(action, UpdateVMI) and action.vmi["status"]["phase"] == "Scheduling"
