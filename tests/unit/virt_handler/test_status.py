"""Domain state → VMI phase (reference §3.6) and the status the handler writes from it."""

from __future__ import annotations

from typing import Any

import pytest

from virt_client.api.views.core import PodView
from virt_client.api.views.vmi import VirtualMachineInstanceView
from virt_client.launcher_protocol import DomainState as S
from virt_handler.status import (
    DomainStatus,
    Failure,
    LauncherState,
    Observation,
    VMIStatus,
    compute_status,
    launcher_exit,
    phase_for,
)

L = LauncherState
NOW = "2024-01-01T00:00:10Z"


def status_of(the_vmi: dict[str, Any], observation: Observation, *, node_name: str, now: str) -> VMIStatus:
    return compute_status(VirtualMachineInstanceView(the_vmi), observation, node_name=node_name, now=now)


def obs(launcher: LauncherState = L.DOMAIN, state: S | None = None, reason: str = "Unknown", *,
        exists: bool = True, **kw: Any) -> Observation:
    domain = DomainStatus(state, reason, exists) if state is not None else None
    return Observation(launcher, domain, **kw)


PHASE_CASES = [
    # (vmi phase, observation, expected phase, expected failure reason)
    ("Scheduled", obs(L.ABSENT), "Scheduled", None),
    ("Scheduled", obs(L.READY), "Scheduled", None),
    ("Scheduled", obs(L.UNREACHABLE), "Failed", "LauncherUnresponsive"),
    ("Running", obs(L.UNREACHABLE), "Failed", "LauncherUnresponsive"),
    ("Running", obs(L.READY), "Failed", "DomainLost"),
    ("Running", obs(L.ABSENT), "Failed", "DomainLost"),
    ("Scheduled", obs(L.READY, launcher_failure=Failure("DomainTimeout", "x")), "Failed", "DomainTimeout"),
    ("Running", obs(L.UNREACHABLE, launcher_failure=Failure("DaemonFailed", "x")), "Failed", "DaemonFailed"),
    ("Scheduled", obs(L.DOMAIN, S.SHUTOFF, "Unknown"), "Scheduled", None),
    ("Scheduled", obs(L.DOMAIN, S.RUNNING, "Booted"), "Running", None),
    ("Running", obs(L.DOMAIN, S.BLOCKED), "Running", None),
    ("Running", obs(L.DOMAIN, S.PM_SUSPENDED), "Running", None),
    ("Running", obs(L.DOMAIN, S.PAUSED, "User"), "Running", None),
    ("Running", obs(L.DOMAIN, S.PAUSED, "IOError"), "Running", None),
    ("Running", obs(L.DOMAIN, S.PAUSED, "PostcopyFailed"), "Failed", "DomainFailed"),
    ("Running", obs(L.DOMAIN, S.SHUTOFF, "Shutdown"), "Succeeded", None),
    ("Running", obs(L.DOMAIN, S.SHUTOFF, "Saved"), "Succeeded", None),
    ("Running", obs(L.DOMAIN, S.SHUTOFF, "FromSnapshot"), "Succeeded", None),
    ("Running", obs(L.DOMAIN, S.SHUTOFF, "Destroyed"), "Succeeded", None),
    ("Running", obs(L.DOMAIN, S.SHUTOFF, "Destroyed", killed_after_grace=True), "Failed",
     "DomainDestroyedAfterGracePeriod"),
    ("Running", obs(L.DOMAIN, S.SHUTOFF, "Crashed"), "Failed", "DomainCrashed"),
    ("Running", obs(L.DOMAIN, S.CRASHED, "Panicked"), "Failed", "DomainCrashed"),
    ("Running", obs(L.DOMAIN, S.SHUTOFF, "Failed"), "Failed", "DomainFailed"),
    ("Running", obs(L.DOMAIN, S.SHUTOFF, "Migrated"), "Running", None),
    ("Running", obs(L.UNREACHABLE, S.SHUTOFF, "Shutdown", exists=False), "Succeeded", None),
    ("Running", obs(L.DOMAIN, S.SHUTOFF, "Shutdown", exists=False), "Succeeded", None),
    ("Running", obs(L.UNREACHABLE, S.SHUTOFF, "Unknown"), "Failed", "LauncherUnresponsive"),
    ("Succeeded", obs(L.DOMAIN, S.RUNNING), "Succeeded", None),
    ("Failed", obs(L.UNREACHABLE), "Failed", None),
]


@pytest.mark.parametrize(("phase", "observation", "expected", "reason"), PHASE_CASES,
                         ids=[f"{p}-{o.launcher}-{o.domain.state if o.domain else 'none'}-"
                              f"{o.domain.reason if o.domain else ''}-{i}" for i, (p, o, _, _) in enumerate(PHASE_CASES)])
def test_phase_for(phase: str, observation: Observation, expected: str, reason: str | None) -> None:
    got, failure = phase_for(phase, observation)
    assert got == expected
    assert (failure.reason if failure else None) == reason


def vmi(phase: str = "Scheduled", **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "v", "namespace": "ns", "uid": "u"},
            "spec": {"domain": {"resources": {"requests": {"memory": "64Mi"}}, "machine": {"type": "q35"}},
                     "volumes": [{"name": "root", "containerDisk": {"image": "x"}}]},
            "status": {"phase": phase, **status}}


def cond(status: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions") or () if c["type"] == ctype), None)


@pytest.mark.parametrize(("spec", "expected"), [
    ({"networks": [{"name": "default", "pod": {}}],
      "domain": {"devices": {"interfaces": [{"name": "default", "masquerade": {}}]}}},
     [{"name": "default", "ipAddress": "10.0.0.7", "ipAddresses": ["10.0.0.7"], "infoSource": "domain",
       "queueCount": 1}]),
    ({"networks": [{"name": "n", "pod": {}}],
      "domain": {"devices": {"interfaces": [{"name": "n", "masquerade": {}, "macAddress": "02-00-00-AB-00-01"}]}}},
     [{"name": "n", "ipAddress": "10.0.0.7", "ipAddresses": ["10.0.0.7"], "infoSource": "domain", "queueCount": 1,
       "mac": "02:00:00:ab:00:01"}]),
    ({"domain": {"devices": {"autoattachPodInterface": False}}}, None),
], ids=["default-masquerade", "with-mac", "no-network"])
def test_running_vmi_reports_its_pod_interfaces_at_the_pod_ip(spec: dict[str, Any], expected: Any) -> None:
    before = vmi("Scheduled")
    before["spec"] = {**before["spec"], **spec, "domain": {**before["spec"].get("domain", {}), **spec["domain"]}}
    status = status_of(before, obs(L.DOMAIN, S.RUNNING, "Booted", pod_ip="10.0.0.7"), node_name="n1", now=NOW)
    assert status.get("interfaces") == expected


def test_scheduled_to_running_sets_the_running_fields() -> None:
    before = vmi("Scheduled")
    status = status_of(before, obs(L.DOMAIN, S.RUNNING, "Booted", launcher_image="img:v1"), node_name="n1", now=NOW)
    assert status["phase"] == "Running"
    assert status["phaseTransitionTimestamps"] == [{"phase": "Running", "phaseTransitionTimestamp": NOW}]
    assert status["nodeName"] == "n1"
    assert status["migrationMethod"] == "BlockMigration"
    assert status["qosClass"] == "Burstable"
    assert status["machine"] == {"type": "q35"}
    assert status["launcherContainerImageVersion"] == "img:v1"
    assert cond(status, "Ready")["status"] == "True"  # type: ignore[index]
    assert cond(status, "LiveMigratable")["status"] == "True"  # type: ignore[index]
    assert cond(status, "Paused") is None
    assert before["status"] == {"phase": "Scheduled"}, "the input is not mutated"


def test_status_is_stable_when_nothing_changes() -> None:
    first = status_of(vmi("Scheduled"), obs(L.DOMAIN, S.RUNNING, "Booted"), node_name="n1", now=NOW)
    again = status_of({**vmi(), "status": first}, obs(L.DOMAIN, S.RUNNING, "Booted"), node_name="n1",
                           now="2024-01-01T00:09:00Z")
    assert again == first


@pytest.mark.parametrize(("reason", "paused"), [("User", True), ("IOError", False), ("Migration", False)],
                         ids=["user", "io-error", "migration"])
def test_paused_condition(reason: str, paused: bool) -> None:
    status = status_of(vmi("Running"), obs(L.DOMAIN, S.PAUSED, reason), node_name="n1", now=NOW)
    c = cond(status, "Paused")
    assert (c is not None) == paused
    if c is not None:
        assert (c["status"], c["reason"]) == ("True", "PausedByUser")
        assert cond(status, "Ready")["status"] == "False"  # type: ignore[index]
    unpaused = status_of({**vmi(), "status": status}, obs(L.DOMAIN, S.RUNNING, "Unpaused"), node_name="n1", now=NOW)
    assert cond(unpaused, "Paused") is None
    assert cond(unpaused, "Ready")["status"] == "True"  # type: ignore[index]


def test_sync_failure_sets_synchronized_false_and_success_clears_it() -> None:
    failed = status_of(vmi("Scheduled"), obs(L.READY, sync_error=Failure("InvalidVMI", "bad disk")),
                            node_name="n1", now=NOW)
    c = cond(failed, "Synchronized")
    assert c is not None and (c["status"], c["reason"], c["message"]) == ("False", "InvalidVMI", "bad disk")
    assert failed["phase"] == "Scheduled"
    ok = status_of({**vmi(), "status": failed}, obs(L.DOMAIN, S.RUNNING, "Booted"), node_name="n1", now=NOW)
    assert cond(ok, "Synchronized") is None


def test_failed_phase_records_reason_and_is_final() -> None:
    failed = status_of(vmi("Running"), obs(L.UNREACHABLE), node_name="n1", now=NOW)
    assert (failed["phase"], failed["reason"]) == ("Failed", "LauncherUnresponsive")
    assert cond(failed, "Ready")["status"] == "False"  # type: ignore[index]
    later = status_of({**vmi(), "status": failed}, obs(L.DOMAIN, S.RUNNING), node_name="n1", now=NOW)
    assert later["phase"] == "Failed"




def pod(phase: str = "Running", compute: dict[str, Any] | None = None, reason: str = "") -> dict[str, Any]:
    statuses = [{"name": "compute", "state": compute}] if compute is not None else []
    return {"metadata": {"name": "virt-launcher-v-abcde", "namespace": "ns"},
            "status": {"phase": phase, "reason": reason, "containerStatuses": statuses}}


@pytest.mark.parametrize(("the_pod", "message"), [
    (pod("Pending"), None),
    (pod("Running", {"running": {"startedAt": NOW}}), None),
    (pod("Running", {"waiting": {"reason": "ContainerCreating"}}), None),
    (pod("Running", {"terminated": {"exitCode": 137, "reason": "Error"}}), "the launcher exited (Error, exit code 137)"),
    (pod("Failed", {"terminated": {"exitCode": 1, "reason": "Error", "message": "libvirtd did not start"}}),
     "the launcher exited (Error, exit code 1): libvirtd did not start"),
    (pod("Succeeded", {"terminated": {"exitCode": 0}}), "the launcher exited (Terminated, exit code 0)"),
    (pod("Failed", reason="Evicted"), "the launcher Pod virt-launcher-v-abcde is Failed (Evicted)"),
], ids=["pending", "running", "waiting", "killed", "failed-with-message", "exited-zero", "evicted"])
def test_launcher_exit_reads_the_compute_container(the_pod: dict[str, Any], message: str | None) -> None:
    failure = launcher_exit(PodView(the_pod))
    assert (failure.message if failure is not None else None) == message
    if failure is not None:
        assert failure.reason == "LauncherExited"
