"""The VMI controller's pure plan: Pod creation, phases up to Scheduled, failures, finalizer, deletion."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from virt_client.api.views import PersistentVolumeClaimView, PodView, VirtualMachineInstanceView
from virt_client.indexer import freeze
from virt_client.reconcile import ReconcileError
from virt_controller.settings import Hypervisor, LauncherConfig
from virt_controller.vmi.plan import AddFinalizer, CreatePod, DeletePod, VMIPlan, VMISnapshot, plan

FIN = "kubevirt.io/foregroundDeleteVirtualMachine"
NOW = "2024-01-01T00:00:00Z"
AT = datetime(2024, 1, 1, tzinfo=UTC)


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


def snap(v: dict[str, Any], pods: list[dict[str, Any]], satisfied: bool = True, **kw: Any) -> VMISnapshot:
    """A snapshot over the objects as the cache holds them (frozen)."""
    return VMISnapshot(vmi=VirtualMachineInstanceView(freeze(v)), pods=[PodView(freeze(p)) for p in pods],
                       expectations_satisfied=satisfied, pod_suffix=kw.pop("pod_suffix", "abcde"),
                       launcher=kw.pop("launcher", LauncherConfig(hypervisor=Hypervisor.TEST)), **kw)


def names(result: VMIPlan) -> list[str]:
    """The plan's writes in order: its actions, then "WriteVMI" when it has a VMI to write."""
    return [type(a).__name__ for a in result.actions] + (["WriteVMI"] if result.status is not None else [])


def run(v: dict[str, Any], pods: list[dict[str, Any]], satisfied: bool = True) -> tuple[list[str], dict[str, Any]]:
    result = plan(snap(v, pods, satisfied), AT)
    return names(result), result.status if result.status is not None else v


RUNNING_POD = pod("Running", "node1")

TABLE: list[tuple[str, dict[str, Any], list[dict[str, Any]], bool, list[str], str]] = [
    ("new-vmi-creates-pod", vmi(""), [], True, ["CreatePod", "WriteVMI"], "Pending"),
    ("pending-creates-pod", vmi("Pending"), [], True, ["CreatePod"], "Pending"),
    ("creation-expected-waits", vmi("Pending"), [], False, [], "Pending"),
    ("pod-seen-scheduling", vmi("Pending"), [pod()], True, ["WriteVMI"], "Scheduling"),
    ("scheduling-waits", vmi("Scheduling"), [pod()], True, [], "Scheduling"),
    ("pod-running-scheduled", vmi("Scheduling"), [RUNNING_POD], True, ["WriteVMI"], "Scheduled"),
    ("pod-failed-fails-vmi", vmi("Scheduling"), [pod("Failed", "n", reason="ErrImagePull")], True,
     ["DeletePod", "WriteVMI"], "Failed"),
    ("pod-vanished-fails-vmi", vmi("Scheduled"), [], True, ["WriteVMI"], "Failed"),
    ("running-left-to-handler", vmi("Running"), [RUNNING_POD], True, [], "Running"),
    ("running-pod-gone", vmi("Running"), [], True, ["WriteVMI"], "Failed"),
    ("final-deletes-pod", vmi("Succeeded"), [RUNNING_POD], True, ["DeletePod"], "Succeeded"),
    ("final-pod-terminating-waits", vmi("Succeeded"), [pod("Running", "n", deleting=True)], True, [], "Succeeded"),
    ("final-no-pods-drops-finalizer", vmi("Failed"), [], True, ["WriteVMI"], "Failed"),
    ("deleted-unscheduled-fails", vmi("Scheduling", deleting=True), [pod()], True,
     ["DeletePod", "WriteVMI"], "Failed"),
    ("deleted-pending-no-pod", vmi("Pending", deleting=True), [], True, ["WriteVMI"], "Failed"),
    ("deleted-scheduled-waits-for-handler", vmi("Scheduled", deleting=True), [RUNNING_POD], True, [], "Scheduled"),
    ("deleted-running-waits-for-handler", vmi("Running", deleting=True), [RUNNING_POD], True, [], "Running"),
]


@pytest.mark.parametrize(("v", "pods", "satisfied", "expected", "phase"), [t[1:] for t in TABLE],
                         ids=[t[0] for t in TABLE])
def test_plan_table(v: dict[str, Any], pods: list[dict[str, Any]], satisfied: bool, expected: list[str],
                    phase: str) -> None:
    if "WriteVMI" not in expected:
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
    result = plan(snap(vmi("Pending"), [], pod_suffix="zz"), AT)
    [create] = [a for a in result.actions if isinstance(a, CreatePod)]
    assert create.pod["metadata"]["name"] == "virt-launcher-vm1-zz"
    failed = run(vmi("Failed"), [RUNNING_POD])[1]
    deletes = plan(snap(failed, [RUNNING_POD], launcher=LauncherConfig()), AT)
    assert deletes.actions == (DeletePod("virt-launcher-vm1-aaaaa", "p1"),) and deletes.status is None


def test_the_finalizer_is_written_before_the_pod() -> None:
    v = vmi("")
    del v["metadata"]["finalizers"]
    result = plan(snap(v, []), AT)
    assert [type(a).__name__ for a in result.actions] == ["AddFinalizer", "CreatePod"]
    assert isinstance(result.actions[0], AddFinalizer) and result.actions[0].vmi["metadata"]["finalizers"] == [FIN]
    assert result.actions[0].vmi["status"]["phase"] == "Pending"
    assert result.status is result.actions[0].vmi  # written once, before the Pod


def settle(v: dict[str, Any], pods: list[dict[str, Any]], seconds: float = 0.6) -> VMIPlan:
    return plan(snap(v, pods, scheduling_settle=seconds), AT)


def test_scheduling_write_waits_while_the_new_pod_may_still_start() -> None:
    for pods in ([pod()], [pod("Pending", "node1")]):  # unbound; bound, not running yet
        result = settle(vmi("Pending"), pods)
        assert (result.actions, result.status, result.requeue_after) == ((), None, 0.6)


def test_a_pod_that_runs_within_the_settle_time_goes_straight_to_scheduled() -> None:
    result = settle(vmi("Pending"), [RUNNING_POD])
    assert result.actions == () and result.status is not None
    assert result.status["status"]["phase"] == "Scheduled"
    # both phases are recorded, in one write
    assert [t["phase"] for t in result.status["status"]["phaseTransitionTimestamps"]] == ["Scheduling", "Scheduled"]


@pytest.mark.parametrize("p", [
    pod(conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes"}]),
    pod(containerStatuses=[{"name": "compute", "state": {"waiting": {"reason": "ErrImagePull", "message": "x"}}}]),
    pod("Failed", "n", reason="ErrImagePull"),
], ids=["unschedulable", "image-pull", "pod-failed"])
def test_anything_beyond_the_phase_is_written_at_once(p: dict[str, Any]) -> None:
    result = settle(vmi("Pending"), [p])
    assert result.status is not None and result.requeue_after is None


def test_without_settle_time_scheduling_is_written_at_once() -> None:
    result = settle(vmi("Pending"), [pod()], seconds=0.0)
    assert result.status is not None and result.status["status"]["phase"] == "Scheduling"


def pvc_volumes(*volumes: dict[str, Any]) -> dict[str, Any]:
    v = vmi("Pending")
    v["spec"]["volumes"] = list(volumes)
    return v


PVC_VOLUME = {"name": "data", "persistentVolumeClaim": {"claimName": "pvc1"}}
DV_VOLUME = {"name": "dv", "dataVolume": {"name": "dv1"}}
BOUND = {"metadata": {"name": "pvc1", "namespace": "ns"}, "status": {"phase": "Bound"}}


@pytest.mark.parametrize(("volumes", "pvcs", "missing"), [
    ([PVC_VOLUME], {}, "pvc1"),
    ([DV_VOLUME], {}, "dv1"),
    ([PVC_VOLUME, DV_VOLUME], {"pvc1": BOUND}, "dv1"),
], ids=["pvc", "datavolume-pvc", "second-volume"])
def test_a_missing_pvc_fails_the_pass_before_any_pod(volumes: list[dict[str, Any]], pvcs: dict[str, Any],
                                                      missing: str) -> None:
    views = {n: PersistentVolumeClaimView(freeze(o)) for n, o in pvcs.items()}
    with pytest.raises(ReconcileError) as e:
        plan(snap(pvc_volumes(*volumes), [], pvcs=views), AT)
    assert e.value.reason == "FailedPvcNotFound"
    assert e.value.message == f"PVC ns/{missing} does not exist, waiting for it to appear"


def test_with_its_pvcs_present_the_pod_is_created_and_the_failure_cleared() -> None:
    v = pvc_volumes(PVC_VOLUME)
    v["status"]["conditions"] = [
        {"type": "Synchronized", "status": "False", "reason": "FailedPvcNotFound", "message": "m"},
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "m"}]
    result = plan(snap(v, [], pvcs={"pvc1": PersistentVolumeClaimView(freeze(BOUND))}), AT)
    assert [type(a).__name__ for a in result.actions] == ["CreatePod"]
    assert result.status is not None and result.status["status"]["conditions"] == []


def test_unwatched_pvcs_are_not_checked() -> None:
    result = plan(snap(pvc_volumes(PVC_VOLUME), [], pvcs=None), AT)
    assert [type(a).__name__ for a in result.actions] == ["CreatePod"]


def test_no_pod_while_an_earlier_vmis_launcher_still_runs() -> None:
    earlier = PodView(freeze(pod("Running", "node1", deleting=True)))
    result = plan(snap(vmi("Pending"), [], predecessors=[earlier]), AT)
    assert result.actions == ()


def compute(**state: Any) -> dict[str, Any]:
    return {"name": "compute", "state": state}


@pytest.mark.parametrize(("p", "phase", "reason"), [
    (pod("Failed", "n", containerStatuses=[compute(terminated={"exitCode": 137, "reason": "Error"})]),
     "Failed", "Error"),
    (pod("Running", "n", containerStatuses=[compute(terminated={"exitCode": 137, "reason": "Error"})]),
     "Failed", "Error"),
    (pod("Failed", "n", reason="Evicted"), "Failed", "Evicted"),
    (pod("Running", "n", containerStatuses=[compute(terminated={"exitCode": 0, "reason": "Completed"})]),
     "Running", None),
    (pod("Succeeded", "n"), "Running", None),
    (pod("Running", "n", deleting=True), "Running", None),
], ids=["pod-failed", "compute-died", "evicted", "clean-exit-left-to-handler", "succeeded-left-to-handler",
        "deleting-left-to-handler"])
def test_a_running_vmi_fails_when_its_launcher_dies(p: dict[str, Any], phase: str, reason: str | None) -> None:
    actions, updated = run(vmi("Running"), [p])
    assert updated["status"]["phase"] == phase
    assert updated["status"].get("reason") == reason
    if phase == "Failed":
        assert actions == ["DeletePod", "WriteVMI"]  # the dead launcher's Pod goes, then the VMI is written
