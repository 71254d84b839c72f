"""Table tests of the pure lifecycle decisions and VMI action preconditions."""

from __future__ import annotations

from typing import Any

import pytest

from virt_api import lifecycle
from virt_api.errors import PlainTextError, SubresourceError
from virt_api.vmi_actions import Action, check, connectable
from virt_client.api.options import RestartOptions, StartOptions, StopOptions


def vm(strategy: str | None = "Manual", status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    s: dict[str, Any] = {"template": {}, **spec}
    if strategy is not None:
        s["runStrategy"] = strategy
    out: dict[str, Any] = {"metadata": {"name": "vm1", "resourceVersion": "7"}, "spec": s}
    if status is not None:
        out["status"] = status
    return out


def vmi(phase: str = "Running", *conds: str, grace: int | None = None, **spec: Any) -> dict[str, Any]:
    s: dict[str, Any] = dict(spec)
    if grace is not None:
        s["terminationGracePeriodSeconds"] = grace
    return {"metadata": {"name": "vm1", "uid": "u-1"}, "spec": s,
            "status": {"phase": phase, "nodeName": "n1",
                       "conditions": [{"type": c, "status": "True"} for c in conds]}}


START_CASES = [
    (vm("Halted"), None, StartOptions(), "spec", [{"op": "test", "path": "/spec/runStrategy", "value": "Halted"},
                                                   {"op": "replace", "path": "/spec/runStrategy", "value": "Always"}]),
    (vm(None, running=False), None, StartOptions(), "spec",
     [{"op": "test", "path": "/spec/running", "value": False}, {"op": "replace", "path": "/spec/running",
                                                                 "value": True}]),
    (vm("Manual"), None, StartOptions(), "status",
     [{"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
      {"op": "add", "path": "/status", "value": {"stateChangeRequests": [{"action": "Start"}]}}]),
    (vm("Manual", {"printableStatus": "Stopped"}), None, StartOptions(paused=True), "status",
     [{"op": "test", "path": "/status/stateChangeRequests", "value": None},
      {"op": "add", "path": "/status/stateChangeRequests", "value": [{"action": "Start", "data": {"paused": "true"}}]}]),
    (vm("Manual", {"printableStatus": "Stopped"}), vmi("Succeeded"), StartOptions(), "status",
     [{"op": "test", "path": "/status/stateChangeRequests", "value": None},
      {"op": "add", "path": "/status/stateChangeRequests", "value": [{"action": "Stop", "uid": "u-1"},
                                                                     {"action": "Start"}]}]),
]


@pytest.mark.parametrize(("v", "i", "opts", "target", "patch"), START_CASES,
                         ids=["halted", "running-false", "manual-empty-status", "manual-paused", "manual-after-final"])
def test_start_plans(v: dict[str, Any], i: dict[str, Any] | None, opts: StartOptions, target: str,
                     patch: list[dict[str, Any]]) -> None:
    plan = lifecycle.plan_start(v, i, opts)
    assert (plan.vm_spec_patch if target == "spec" else plan.vm_status_patch) == patch


@pytest.mark.parametrize(("v", "i", "message"), [
    (vm("Manual"), vmi("Running"), "VM is already running"),
    (vm("Always"), None, "Always does not support manual start requests"),
    (vm("Once"), None, "Once does not support manual start requests"),
    (vm("RerunOnFailure"), vmi("Failed"), "RerunOnFailure does not support starting VM from failed state"),
    (vm("Manual", {"stateChangeRequests": [{"action": "Stop"}]}), None, "stop/start already underway"),
    (vm("Manual", {"conditions": [{"type": "ManualRecoveryRequired", "status": "True"}]}), None, "recovery"),
], ids=["already-running", "always", "once", "rerun-failed", "underway", "manual-recovery"])
def test_start_conflicts(v: dict[str, Any], i: dict[str, Any] | None, message: str) -> None:
    with pytest.raises(SubresourceError) as err:
        lifecycle.plan_start(v, i, StartOptions())
    assert err.value.code == 409 and message in err.value.message
    status = err.value.status()
    assert status["reason"] == "Conflict" and status["details"]["kind"] == "virtualmachine"
    assert status["message"].startswith('Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": ')


def test_stop_always_flips_spec_and_patches_grace_period_first() -> None:
    plan = lifecycle.plan_stop(vm("Always"), vmi(grace=30), StopOptions(grace_period=0))
    assert plan.vm_spec_patch == [{"op": "test", "path": "/spec/runStrategy", "value": "Always"},
                                  {"op": "replace", "path": "/spec/runStrategy", "value": "Halted"}]
    assert plan.vmi_patch == [{"op": "test", "path": "/spec/terminationGracePeriodSeconds", "value": 30},
                              {"op": "add", "path": "/spec/terminationGracePeriodSeconds", "value": 0}]


def test_single_stop_replaces_pending_requests() -> None:
    plan = lifecycle.plan_stop(vm("Manual", {"stateChangeRequests": [{"action": "Start"}]}), vmi(), StopOptions())
    assert plan.vm_status_patch == [
        {"op": "test", "path": "/status/stateChangeRequests", "value": [{"action": "Start"}]},
        {"op": "replace", "path": "/status/stateChangeRequests", "value": [{"action": "Stop", "uid": "u-1"}]}]


@pytest.mark.parametrize(("v", "i", "opts", "code", "message"), [
    (vm("Manual"), None, StopOptions(), 409, "VM is not running"),
    (vm("Manual"), vmi("Failed"), StopOptions(), 409, "VM is not running"),
    (vm("Halted"), None, StopOptions(), 409, "VM is not running"),
    (vm("Halted"), vmi(grace=30), StopOptions(), 409, "shorter graceperiod"),
    (vm("Halted"), vmi(grace=30), StopOptions(grace_period=30), 409, "shorter graceperiod"),
    (vm("Manual"), vmi(), StopOptions(grace_period=-1), 400, "greater or equal to 0"),
], ids=["manual-no-vmi", "manual-final", "halted-no-vmi", "halted-no-grace", "halted-same-grace", "negative"])
def test_stop_errors(v: dict[str, Any], i: dict[str, Any] | None, opts: StopOptions, code: int, message: str) -> None:
    with pytest.raises(SubresourceError) as err:
        lifecycle.plan_stop(v, i, opts)
    assert err.value.code == code and message in err.value.message


def test_halted_force_stop_with_shorter_grace_is_a_stop_request() -> None:
    plan = lifecycle.plan_stop(vm("Halted", {"ready": True}), vmi(grace=30), StopOptions(grace_period=0))
    assert plan.vm_status_patch is not None and plan.vm_status_patch[-1]["value"] == [{"action": "Stop", "uid": "u-1"}]


@pytest.mark.parametrize(("v", "i", "opts", "code", "message"), [
    (vm("Always"), vmi(), RestartOptions(grace_period_seconds=5), 400, "only gracePeriod=0"),
    (vm("Halted"), vmi(), RestartOptions(), 409, "Halted does not support manual restart requests"),
    (vm("Once"), vmi(), RestartOptions(), 409, "Once does not support manual restart requests"),
    (vm("Always"), None, RestartOptions(), 409, "VM is not running"),
], ids=["positive-grace", "halted", "once", "no-vmi"])
def test_restart_errors(v: dict[str, Any], i: dict[str, Any] | None, opts: RestartOptions, code: int,
                        message: str) -> None:
    with pytest.raises(SubresourceError) as err:
        lifecycle.plan_restart(v, i, opts)
    assert err.value.code == code and message in err.value.message


def test_force_restart_sets_grace_one_with_rollback_and_deletes_pods() -> None:
    plan = lifecycle.plan_restart(vm("Always", {"ready": True}), vmi(grace=30), RestartOptions(grace_period_seconds=0))
    assert plan.vmi_patch is not None and plan.vmi_patch[-1]["value"] == 1
    assert plan.vmi_rollback == [{"op": "test", "path": "/spec/terminationGracePeriodSeconds", "value": 1},
                                 {"op": "replace", "path": "/spec/terminationGracePeriodSeconds", "value": 30}]
    assert plan.delete_launcher_pods and plan.vmi_uid == "u-1"


def test_migrate_needs_running_vmi_and_builds_vmim() -> None:
    with pytest.raises(SubresourceError):
        lifecycle.plan_migrate(vm(), vmi("Scheduled"), None)
    vmim = lifecycle.plan_migrate(vm(), vmi(), {"zone": "a"})
    assert vmim["metadata"]["generateName"] == "kubevirt-migrate-vm-"
    assert vmim["spec"] == {"vmiName": "vm1", "addedNodeSelector": {"zone": "a"}}


ACTION_CASES = [
    (Action.PAUSE, vmi(), None),
    (Action.PAUSE, vmi("Scheduled"), (409, "VM is not running")),
    (Action.PAUSE, vmi("Running", "Paused"), (409, "VMI is already paused")),
    (Action.PAUSE, vmi(livenessProbe={"httpGet": {}}), (403, "LivenessProbe")),
    (Action.UNPAUSE, vmi(), (409, "VMI is not paused")),
    (Action.UNPAUSE, vmi("Running", "Paused"), None),
    (Action.SOFTREBOOT, vmi("Running", "Paused"), (409, "VMI is paused")),
    (Action.SOFTREBOOT, vmi(domain={"features": {"acpi": {"enabled": False}}}), (409, "ACPI")),
    (Action.RESET, vmi("Pending"), (409, "Failed to reset non-running VMI with phase Pending")),
    (Action.CONSOLE, vmi(domain={"devices": {"autoattachSerialConsole": False}}), (400, "No serial consoles")),
    (Action.CONSOLE, vmi("Scheduled"), (400, "VMI is not running")),
    (Action.VNC, vmi(domain={"devices": {"autoattachGraphicsDevice": False}}), (400, "No graphics devices")),
]


@pytest.mark.parametrize(("action", "target", "error"), ACTION_CASES, ids=[
    "pause", "pause-not-running", "pause-paused", "pause-probe", "unpause-not-paused", "unpause", "reboot-paused",
    "reboot-no-acpi", "reset-not-running", "console-none", "console-not-running", "vnc-none"])
def test_vmi_action_preconditions(action: Action, target: dict[str, Any], error: tuple[int, str] | None) -> None:
    if error is None:
        check(action, target)
        return
    with pytest.raises(SubresourceError) as err:
        check(action, target)
    assert err.value.code == error[0] and error[1] in err.value.message


def test_guest_agent_gets_fail_as_plain_500() -> None:
    with pytest.raises(PlainTextError) as err:
        check(Action.GUESTOSINFO, vmi())
    assert err.value.code == 500 and "guest agent" in err.value.message


def test_connectable_needs_a_node() -> None:
    assert connectable(vmi()) == "n1"
    with pytest.raises(SubresourceError) as err:
        connectable(vmi("Pending"))
    assert err.value.code == 400
