"""How the VMI status computation reads its launcher Pod: down, running, failure reason, image pull errors."""

from __future__ import annotations

from typing import Any

import pytest

from virt_client.indexer import freeze
from virt_controller.vmi.status import image_pull_error, pod_failure_reason, pod_is_down, pod_is_running


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
], ids=["running", "deleting", "succeeded", "failed", "pending-unbound", "running-unbound",
        "compute-running", "compute-waiting", "no-compute-status"])
def test_pod_down_and_running(pod: dict[str, Any], down: bool, running: bool) -> None:
    for obj in (pod, freeze(pod)):
        assert (pod_is_down(obj), pod_is_running(obj)) == (down, running)


@pytest.mark.parametrize(("pod", "reason"), [
    (_pod("Failed", reason="Evicted"), "Evicted"),
    (_pod("Failed", containerStatuses=[_compute(terminated={"exitCode": 137, "reason": "OOMKilled"})]), "OOMKilled"),
    (_pod("Failed", containerStatuses=[_compute(waiting={"reason": "CrashLoopBackOff"})]), "CrashLoopBackOff"),
    (_pod("Failed", containerStatuses=[_compute(terminated={"exitCode": 1})]), "PodFailed"),
    (_pod("Failed"), "PodFailed"),
], ids=["pod-reason", "terminated-reason", "waiting-reason", "terminated-without-reason", "nothing-said"])
def test_pod_failure_reason(pod: dict[str, Any], reason: str) -> None:
    assert pod_failure_reason(freeze(pod)) == reason


@pytest.mark.parametrize(("pod", "expected"), [
    (_pod("Pending", initContainerStatuses=[{"name": "init", "state": {"waiting": {
        "reason": "ImagePullBackOff", "message": "back-off"}}}]), ("ImagePullBackOff", "back-off")),
    (_pod("Pending", containerStatuses=[_compute(waiting={"reason": "ErrImagePull"})]), ("ErrImagePull", "")),
    (_pod("Pending", containerStatuses=[_compute(waiting={"reason": "ContainerCreating"})]), None),
    (_pod("Pending"), None),
], ids=["init-container-back-off", "compute-pull-error-no-message", "other-wait", "no-statuses"])
def test_image_pull_error(pod: dict[str, Any], expected: tuple[str, str] | None) -> None:
    assert image_pull_error(freeze(pod)) == expected
