"""VM status: printableStatus in upstream's rule order, conditions, request trimming, backoff."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from virt_controller.vm.backoff import backoff_seconds, next_start_failure, seconds_until_retry
from virt_controller.vm.plan import VMSnapshot
from virt_controller.vm.status import compute_status, trim_first_request_needed

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def vm(strategy: str = "Always", deleting: bool = False, volumes: list[dict[str, Any]] | None = None,
       **status: Any) -> dict[str, Any]:
    md: dict[str, Any] = {"name": "vm1", "namespace": "ns", "uid": "vm-uid", "generation": 2}
    if deleting:
        md["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {"metadata": md, "spec": {"runStrategy": strategy, "template": {"spec": {
        "domain": {"devices": {}}, "volumes": volumes or []}}}, "status": status}


def vmi(phase: str = "Running", deleting: bool = False, conds: list[dict[str, Any]] | None = None,
        **status: Any) -> dict[str, Any]:
    md: dict[str, Any] = {"name": "vm1", "uid": "vmi-uid", "annotations": {"kubevirt.io/vm-generation": "1"}}
    if deleting:
        md["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {"metadata": md, "status": {"phase": phase, "conditions": conds or [], **status}}


def cond(type_: str, status: str, reason: str = "") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason}


FAIL = {"consecutiveFailCount": 1, "lastFailedVMIUID": "old", "retryAfterTimestamp": "2024-01-01T00:00:10Z"}
DV_VOL = [{"name": "d", "dataVolume": {"name": "dv1"}}]
PVC_VOL = [{"name": "p", "persistentVolumeClaim": {"claimName": "pvc1"}}]

CASES: list[tuple[str, dict[str, Any], dict[str, Any] | None, dict[str, Any], str]] = [
    ("terminating", vm(deleting=True), vmi(), {}, "Terminating"),
    ("stopping-vmi-deleting", vm(), vmi(deleting=True), {}, "Stopping"),
    ("stopping-deletion-expected", vm(), vmi(), {"expecting_deletion": True}, "Stopping"),
    ("migrating", vm(), vmi(migrationState={"startTimestamp": "t"}), {}, "Migrating"),
    ("paused", vm(), vmi(conds=[cond("Paused", "True")]), {}, "Paused"),
    ("running", vm(), vmi(), {}, "Running"),
    ("pvc-not-found", vm(), vmi("Scheduling", conds=[cond("Synchronized", "False", "FailedPvcNotFound")]), {},
     "ErrorPvcNotFound"),
    ("dv-error", vm(volumes=DV_VOL), None, {"datavolumes": {"dv1": {"status": {"phase": "Failed"}}}},
     "DataVolumeError"),
    ("unschedulable", vm(), vmi("Scheduling", conds=[cond("PodScheduled", "False", "Unschedulable")]), {},
     "ErrorUnschedulable"),
    ("provisioning", vm(volumes=DV_VOL), None, {"datavolumes": {"dv1": {"status": {"phase": "ImportInProgress"}}}},
     "Provisioning"),
    ("waiting-for-volume-binding", vm(volumes=PVC_VOL), None, {"pvcs": {"pvc1": {"status": {"phase": "Pending"}}}},
     "WaitingForVolumeBinding"),
    ("halted-unbound-pvc-is-stopped", vm("Halted", volumes=PVC_VOL), None,
     {"pvcs": {"pvc1": {"status": {"phase": "Pending"}}}}, "Stopped"),
    ("err-image-pull", vm(), vmi("Scheduling", conds=[cond("Synchronized", "False", "ErrImagePull")]), {},
     "ErrImagePull"),
    ("image-pull-backoff", vm(), vmi("Scheduling", conds=[cond("Synchronized", "False", "ImagePullBackOff")]), {},
     "ImagePullBackOff"),
    ("starting-expected", vm(), None, {"expecting_creation": True}, "Starting"),
    ("starting-pending", vm(), vmi("Pending"), {}, "Starting"),
    ("starting-unset", vm(), vmi(""), {}, "Starting"),
    ("starting-scheduling", vm(), vmi("Scheduling"), {}, "Starting"),
    ("starting-scheduled", vm(), vmi("Scheduled"), {}, "Starting"),
    ("crash-loop-no-vmi", vm(startFailure=FAIL), None, {}, "CrashLoopBackOff"),
    ("crash-loop-final-vmi", vm("RerunOnFailure", startFailure=FAIL), vmi("Failed"), {}, "CrashLoopBackOff"),
    ("manual-failure-is-stopped", vm("Manual", startFailure=FAIL), None, {}, "Stopped"),
    ("stopped-no-vmi", vm("Halted"), None, {}, "Stopped"),
    ("stopped-succeeded", vm("Manual"), vmi("Succeeded"), {}, "Stopped"),
    ("stopped-failed", vm("Manual"), vmi("Failed"), {}, "Stopped"),
    ("unknown", vm(), vmi("Unknown"), {}, "Unknown"),
]


@pytest.mark.parametrize(("vm_obj", "vmi_obj", "extra", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_printable_status(vm_obj: dict[str, Any], vmi_obj: dict[str, Any] | None, extra: dict[str, Any],
                          expected: str) -> None:
    status = compute_status(VMSnapshot(vm=vm_obj, vmi=vmi_obj, now=NOW, **extra))
    assert status["printableStatus"] == expected


@pytest.mark.parametrize("strategy", ["Always", "RerunOnFailure", "Manual", "Halted", "Once"])
@pytest.mark.parametrize("phase", [None, "Pending", "Scheduling", "Scheduled", "Running", "Succeeded", "Failed"])
def test_every_strategy_and_vmi_state_has_a_status(strategy: str, phase: str | None) -> None:
    status = compute_status(VMSnapshot(vm=vm(strategy), vmi=None if phase is None else vmi(phase), now=NOW))
    expected = {None: "Stopped", "Pending": "Starting", "Scheduling": "Starting", "Scheduled": "Starting",
                "Running": "Running", "Succeeded": "Stopped", "Failed": "Stopped"}[phase]
    if phase in ("Failed", "Succeeded") and strategy in ("Always", "RerunOnFailure", "Once"):
        expected = "CrashLoopBackOff"  # a VMI that ended without ever running is a start failure
    assert status["printableStatus"] == expected
    assert status["created"] is (phase is not None)
    assert status["runStrategy"] == strategy


def test_conditions_and_ready() -> None:
    ready = vmi(conds=[cond("Ready", "True"), cond("Paused", "True", "PausedByUser")])
    status = compute_status(VMSnapshot(vm=vm(), vmi=ready, now=NOW))
    by_type = {c["type"]: c for c in status["conditions"]}
    assert by_type["Ready"]["status"] == "True" and status["ready"] is True
    assert by_type["Paused"]["reason"] == "PausedByUser"
    none = compute_status(VMSnapshot(vm=vm(), vmi=None, now=NOW), failure=("FailedCreate", "quota"))
    by_type = {c["type"]: c for c in none["conditions"]}
    assert by_type["Ready"]["reason"] == "VMINotExists" and none["ready"] is False
    assert by_type["Failure"]["reason"] == "FailedCreate" and "Paused" not in by_type
    missing = compute_status(VMSnapshot(vm=vm(), vmi=vmi(), now=NOW))
    assert {c["type"]: c for c in missing["conditions"]}["Ready"]["reason"] == "VMIConditionMissing"


def test_generations() -> None:
    status = compute_status(VMSnapshot(vm=vm(), vmi=vmi(), now=NOW))
    assert (status["desiredGeneration"], status["observedGeneration"]) == (2, 1)
    status = compute_status(VMSnapshot(vm=vm(), vmi=None, now=NOW))
    assert status["observedGeneration"] == 2


@pytest.mark.parametrize(("requests", "vmi_obj", "trim"), [
    ([], None, False),
    ([{"action": "Stop", "uid": "vmi-uid"}], None, True),
    ([{"action": "Stop", "uid": "vmi-uid"}], vmi(), False),
    ([{"action": "Stop", "uid": "other"}], vmi(), True),
    ([{"action": "Stop"}], vmi(), True),
    ([{"action": "Start"}], None, False),
    ([{"action": "Start"}], vmi(), True),
    ([{"action": "Start"}], vmi(deleting=True), False),
    ([{"action": "Start"}], vmi("Failed"), False),
], ids=["none", "stop-no-vmi", "stop-pending", "stop-other-uid", "stop-no-uid", "start-pending", "start-done",
        "start-old-vmi-deleting", "start-old-vmi-final"])
def test_trim_first_request(requests: list[dict[str, Any]], vmi_obj: dict[str, Any] | None, trim: bool) -> None:
    assert trim_first_request_needed(vm(stateChangeRequests=requests), vmi_obj) is trim


def test_only_first_request_trimmed_and_start_appended() -> None:
    v = vm(stateChangeRequests=[{"action": "Stop", "uid": "vmi-uid"}, {"action": "Start"}])
    status = compute_status(VMSnapshot(vm=v, vmi=None, now=NOW))
    assert status["stateChangeRequests"] == [{"action": "Start"}]
    status = compute_status(VMSnapshot(vm=vm("RerunOnFailure"), vmi=vmi("Failed"), now=NOW), add_start_request=True)
    assert status["stateChangeRequests"] == [{"action": "Start"}]


@pytest.mark.parametrize(("count", "jitter", "seconds"), [
    (1, 0.0, 10), (1, 0.99, 14), (2, 0.0, 40), (3, 0.5, 112), (5, 0.0, 250), (6, 0.0, 300), (10, 0.9, 300)])
def test_backoff_formula(count: int, jitter: float, seconds: int) -> None:
    assert backoff_seconds(count, jitter) == seconds


def test_start_failure_counting() -> None:
    failed = vmi("Failed")
    first = next_start_failure(None, failed, "Always", NOW, 0.0)  # type: ignore[arg-type]
    assert first == {"consecutiveFailCount": 1, "lastFailedVMIUID": "vmi-uid",
                     "retryAfterTimestamp": "2024-01-01T00:00:10Z"}
    assert next_start_failure(first, failed, "Always", NOW, 0.0) == first  # type: ignore[arg-type]
    ran = vmi("Failed", phaseTransitionTimestamps=[{"phase": "Running"}])
    assert next_start_failure(first, ran, "Always", NOW, 0.0) is None  # type: ignore[arg-type]
    assert next_start_failure(first, None, "Manual", NOW, 0.0) is None  # type: ignore[arg-type]
    assert seconds_until_retry(first, NOW) == 10 and seconds_until_retry(None, NOW) == 0
