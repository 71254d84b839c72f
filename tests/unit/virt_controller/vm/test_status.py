"""VM status: printableStatus in upstream's rule order, conditions, request trimming, backoff."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from virt_client.api.constants import RunStrategy
from virt_client.api.views import (
    DataVolumeView,
    PersistentVolumeClaimView,
    StartFailureView,
    VirtualMachineInstanceView,
    VirtualMachineView,
)
from virt_client.indexer import freeze
from virt_client.reconcile import ReconcileError
from virt_controller.vm.backoff import backoff_seconds, next_start_failure, seconds_until_retry
from virt_controller.vm.snapshot import VMSnapshot, VMStatus
from virt_controller.vm.status import compute_status, failure_status, trim_first_request_needed

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


def snap(vm_obj: dict[str, Any], vmi_obj: dict[str, Any] | None, **extra: Any) -> VMSnapshot:
    """A snapshot over the objects as the cache holds them (frozen)."""
    dvs = {n: DataVolumeView(freeze(o)) for n, o in extra.pop("datavolumes", {}).items()}
    pvcs = {n: PersistentVolumeClaimView(freeze(o)) for n, o in extra.pop("pvcs", {}).items()}
    return VMSnapshot(vm=VirtualMachineView(freeze(vm_obj)),
                      vmi=VirtualMachineInstanceView(freeze(vmi_obj)) if vmi_obj is not None else None,
                      datavolumes=dvs, pvcs=pvcs, **extra)


def status_of(vm_obj: dict[str, Any], vmi_obj: dict[str, Any] | None, **kw: Any) -> VMStatus:
    extra = {k: kw.pop(k) for k in ("expecting_creation", "expecting_deletion", "datavolumes", "pvcs") if k in kw}
    return compute_status(snap(vm_obj, vmi_obj, **extra), NOW, **kw)


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
    assert status_of(vm_obj, vmi_obj, **extra)["printableStatus"] == expected


@pytest.mark.parametrize("strategy", ["Always", "RerunOnFailure", "Manual", "Halted", "Once"])
@pytest.mark.parametrize("phase", [None, "Pending", "Scheduling", "Scheduled", "Running", "Succeeded", "Failed"])
def test_every_strategy_and_vmi_state_has_a_status(strategy: str, phase: str | None) -> None:
    status = status_of(vm(strategy), None if phase is None else vmi(phase))
    expected = {None: "Stopped", "Pending": "Starting", "Scheduling": "Starting", "Scheduled": "Starting",
                "Running": "Running", "Succeeded": "Stopped", "Failed": "Stopped"}[phase]
    if phase in ("Failed", "Succeeded") and strategy in ("Always", "RerunOnFailure", "Once"):
        expected = "CrashLoopBackOff"  # a VMI that ended without ever running is a start failure
    assert status["printableStatus"] == expected
    assert status["created"] is (phase is not None)
    assert status["runStrategy"] == strategy


def test_conditions_and_ready() -> None:
    ready = vmi(conds=[cond("Ready", "True"), cond("Paused", "True", "PausedByUser")])
    status = status_of(vm(), ready)
    by_type = {c["type"]: c for c in status["conditions"]}
    assert by_type["Ready"]["status"] == "True" and status["ready"] is True
    assert by_type["Paused"]["reason"] == "PausedByUser"
    none = failure_status(snap(vm(), None), NOW, ReconcileError("FailedCreate", "quota"))
    by_type = {c["type"]: c for c in none["conditions"]}
    assert by_type["Ready"]["reason"] == "VMINotExists" and none["ready"] is False
    assert by_type["Failure"]["reason"] == "FailedCreate" and "Paused" not in by_type
    missing = status_of(vm(), vmi())
    assert {c["type"]: c for c in missing["conditions"]}["Ready"]["reason"] == "VMIConditionMissing"


def test_generations() -> None:
    status = status_of(vm(), vmi())
    assert (status["desiredGeneration"], status["observedGeneration"]) == (2, 1)
    status = status_of(vm(), None)
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
    vmi_view = VirtualMachineInstanceView(vmi_obj) if vmi_obj is not None else None
    assert trim_first_request_needed(VirtualMachineView(vm(stateChangeRequests=requests)), vmi_view) is trim


def test_only_first_request_trimmed_and_start_appended() -> None:
    v = vm(stateChangeRequests=[{"action": "Stop", "uid": "vmi-uid"}, {"action": "Start"}])
    status = status_of(v, None)
    assert status["stateChangeRequests"] == [{"action": "Start"}]
    status = status_of(vm("RerunOnFailure"), vmi("Failed"), add_start_request=True)
    assert status["stateChangeRequests"] == [{"action": "Start"}]


@pytest.mark.parametrize(("count", "jitter", "seconds"), [
    (1, 0.0, 10), (1, 0.99, 14), (2, 0.0, 40), (3, 0.5, 112), (5, 0.0, 250), (6, 0.0, 300), (10, 0.9, 300)])
def test_backoff_formula(count: int, jitter: float, seconds: int) -> None:
    assert backoff_seconds(count, jitter) == seconds


def test_start_failure_counting() -> None:
    failed = VirtualMachineInstanceView(vmi("Failed"))
    first = next_start_failure(None, failed, RunStrategy.ALWAYS, NOW, 0.0)
    assert first is not None and dict(first.raw) == {"consecutiveFailCount": 1, "lastFailedVMIUID": "vmi-uid",
                                                      "retryAfterTimestamp": "2024-01-01T00:00:10Z"}
    assert next_start_failure(first, failed, RunStrategy.ALWAYS, NOW, 0.0) == first
    again = next_start_failure(StartFailureView({**first.raw, "lastFailedVMIUID": "older"}), failed,
                               RunStrategy.ALWAYS, NOW, 0.0)
    assert again is not None and again.consecutive_fail_count == 2
    ran = VirtualMachineInstanceView(vmi("Failed", phaseTransitionTimestamps=[{"phase": "Running"}]))
    assert next_start_failure(first, ran, RunStrategy.ALWAYS, NOW, 0.0) is None
    assert next_start_failure(first, None, RunStrategy.MANUAL, NOW, 0.0) is None
    assert seconds_until_retry(first, NOW) == 10 and seconds_until_retry(None, NOW) == 0
