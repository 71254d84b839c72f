"""How the VMI status computation reads its launcher Pod: down, running, failure reason, image pull errors."""

from __future__ import annotations

from typing import Any

import pytest

from virt_client.api.views import PodView, VirtualMachineInstanceView
from virt_client.indexer import freeze
from virt_client.reconcile import ReconcileError
from virt_controller.vmi.status import (
    clear_failure,
    failure_vmi,
    image_pull_error,
    launcher_failed,
    pod_failure_message,
    pod_failure_reason,
    pod_has_ended,
    pod_is_down,
    pod_is_running,
)


def _pod(phase: str = "Running", node: str = "n", deleting: bool = False, **status: Any) -> dict[str, Any]:
    md: dict[str, Any] = {"name": "virt-launcher-x", "namespace": "ns"}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": md, "spec": {"nodeName": node} if node else {}, "status": {"phase": phase, **status}}


def _compute(**state: Any) -> dict[str, Any]:
    return {"name": "compute", "state": state}


@pytest.mark.parametrize(("pod", "down", "running"), [
    (_pod(), False, True),
    (_pod(deleting=True), True, True),
    (_pod("Succeeded"), True, False),
    (_pod("Failed"), True, False),
    (_pod("Pending", node=""), False, False),
    (_pod("Running", node=""), False, False),
    (_pod(containerStatuses=[_compute(running={"startedAt": "t"})]), False, True),
    (_pod(containerStatuses=[_compute(waiting={"reason": "ContainerCreating"})]), False, False),
    (_pod(containerStatuses=[{"name": "other", "state": {}}]), False, True),
    (_pod(containerStatuses=[_compute(terminated={"exitCode": 137})]), True, False),
], ids=["running", "deleting", "succeeded", "failed", "pending-unbound", "running-unbound",
        "compute-running", "compute-waiting", "no-compute-status", "compute-terminated"])
def test_pod_down_and_running(pod: dict[str, Any], down: bool, running: bool) -> None:
    for obj in (pod, freeze(pod)):
        assert (pod_is_down(PodView(obj)), pod_is_running(PodView(obj))) == (down, running)


@pytest.mark.parametrize(("pod", "reason"), [
    (_pod("Failed", reason="Evicted"), "Evicted"),
    (_pod("Failed", containerStatuses=[_compute(terminated={"exitCode": 137, "reason": "OOMKilled"})]), "OOMKilled"),
    (_pod("Failed", containerStatuses=[_compute(waiting={"reason": "CrashLoopBackOff"})]), "CrashLoopBackOff"),
    (_pod("Failed", containerStatuses=[_compute(terminated={"exitCode": 1})]), "PodFailed"),
    (_pod("Failed"), "PodFailed"),
], ids=["pod-reason", "terminated-reason", "waiting-reason", "terminated-without-reason", "nothing-said"])
def test_pod_failure_reason(pod: dict[str, Any], reason: str) -> None:
    assert pod_failure_reason(PodView(freeze(pod))) == reason


@pytest.mark.parametrize(("pod", "expected"), [
    (_pod("Pending", initContainerStatuses=[{"name": "init", "state": {"waiting": {
        "reason": "ImagePullBackOff", "message": "back-off"}}}]), ("ImagePullBackOff", "back-off")),
    (_pod("Pending", containerStatuses=[_compute(waiting={"reason": "ErrImagePull"})]), ("ErrImagePull", "")),
    (_pod("Pending", containerStatuses=[_compute(waiting={"reason": "ContainerCreating"})]), None),
    (_pod("Pending"), None),
], ids=["init-container-back-off", "compute-pull-error-no-message", "other-wait", "no-statuses"])
def test_image_pull_error(pod: dict[str, Any], expected: tuple[str, str] | None) -> None:
    assert image_pull_error(PodView(freeze(pod))) == expected


@pytest.mark.parametrize(("pod", "ended", "failed"), [
    (_pod(), False, False),
    (_pod(deleting=True), False, False),
    (_pod("Failed"), True, True),
    (_pod("Succeeded"), True, False),
    (_pod(containerStatuses=[_compute(terminated={"exitCode": 137, "reason": "Error"})]), False, True),
    (_pod(containerStatuses=[_compute(terminated={"exitCode": 0, "reason": "Completed"})]), False, False),
], ids=["running", "deleting", "failed", "succeeded", "compute-killed", "compute-exited-cleanly"])
def test_launcher_ended_and_failed(pod: dict[str, Any], ended: bool, failed: bool) -> None:
    view = PodView(freeze(pod))
    assert (pod_has_ended(view), launcher_failed(view)) == (ended, failed)


@pytest.mark.parametrize(("pod", "message"), [
    (_pod("Failed", containerStatuses=[_compute(terminated={"exitCode": 137, "reason": "Error"})]),
     "the launcher Pod virt-launcher-x failed: container compute exited with code 137 (Error)"),
    (_pod("Failed", containerStatuses=[_compute(terminated={"exitCode": 1, "message": "oops"})]),
     "the launcher Pod virt-launcher-x failed: container compute exited with code 1 (no reason given): oops"),
    (_pod("Failed", reason="Evicted", message="The node was low on memory."),
     "the launcher Pod virt-launcher-x failed: The node was low on memory."),
    (_pod("Succeeded"), "the launcher Pod virt-launcher-x is Succeeded"),
], ids=["killed", "exit-message", "pod-message", "nothing-said"])
def test_pod_failure_message(pod: dict[str, Any], message: str) -> None:
    assert pod_failure_message(PodView(freeze(pod))) == message


def _vmi(phase: str, *conditions: dict[str, Any]) -> VirtualMachineInstanceView:
    return VirtualMachineInstanceView(freeze({"metadata": {"name": "v", "namespace": "ns"},
                                              "status": {"phase": phase, "conditions": list(conditions)}}))


NOW = "2026-01-01T00:00:00Z"
PVC_MISSING = ReconcileError("FailedPvcNotFound", "PVC ns/p does not exist, waiting for it to appear")


@pytest.mark.parametrize(("phase", "error", "expected"), [
    ("Pending", PVC_MISSING, {("Synchronized", "False", "FailedPvcNotFound"),
                              ("PodScheduled", "False", "Unschedulable")}),
    ("", PVC_MISSING, {("Synchronized", "False", "FailedPvcNotFound"), ("PodScheduled", "False", "Unschedulable")}),
    ("Scheduled", ReconcileError("FailedDelete", "refused"), {("Synchronized", "False", "FailedDelete")}),
], ids=["pending-pvc", "unset-pvc", "scheduled-delete"])
def test_failure_vmi(phase: str, error: ReconcileError, expected: set[tuple[str, str, str]]) -> None:
    new = failure_vmi(_vmi(phase), error, NOW)
    assert {(c["type"], c["status"], c["reason"]) for c in new["status"]["conditions"]} == expected
    assert all(c["message"] == error.message for c in new["status"]["conditions"])
    assert new["status"]["phase"] == (phase or "Pending")


@pytest.mark.parametrize(("conditions", "left"), [
    ([{"type": "Synchronized", "status": "False", "reason": "FailedPvcNotFound"},
      {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}], []),
    ([{"type": "Synchronized", "status": "False", "reason": "FailedCreate"}], []),
    ([{"type": "Synchronized", "status": "False", "reason": "HandlerReason"}], ["Synchronized"]),
    ([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}], ["PodScheduled"]),
], ids=["pvc-found", "created", "handlers-reason-kept", "real-unschedulable-kept"])
def test_clear_failure(conditions: list[dict[str, Any]], left: list[str]) -> None:
    new = {"status": {"conditions": conditions}}
    clear_failure(new)
    assert [c["type"] for c in new["status"]["conditions"]] == left
