"""What the handler does per VMI: sync, graceful stop with its grace period, kill, or wait; and the status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from virt_client.api.views.vmi import VirtualMachineInstanceView
from virt_client.launcher_protocol import Command
from virt_client.launcher_protocol import DomainState as S
from virt_handler.plan import Action, Send, Snapshot, StopStarted, VMIRecord, plan
from virt_handler.status import DomainStatus, Failure, LauncherState, Observation

L = LauncherState
NOW = datetime(2024, 1, 1, 0, 10, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def vmi(phase: str = "Running", *, deleting: bool = False, grace: int | None = 30) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "v", "namespace": "ns", "uid": "u"}
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    spec: dict[str, Any] = {"domain": {}}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"metadata": meta, "spec": spec, "status": {"phase": phase}}


def obs(launcher: LauncherState = L.DOMAIN, state: S | None = S.RUNNING, reason: str = "Booted",
        **kw: Any) -> Observation:
    return Observation(launcher, DomainStatus(state, reason) if state is not None else None, **kw)


def record(grace: int = 30, stop: StopStarted | None = None) -> VMIRecord:
    return VMIRecord("u", "ns/v", grace, stop=stop)


SHUTDOWN = (StopStarted(NOW, graceful=True), Send(Command.SHUTDOWN))
KILL_AT_ONCE = (StopStarted(NOW, graceful=False), Send(Command.KILL))

CASES: list[tuple[str, dict[str, Any] | None, VMIRecord, Observation, tuple[Action, ...], float | None]] = [
    ("scheduled-launcher-absent-waits", vmi("Scheduled"), record(), obs(L.ABSENT, None), (), 1.0),
    ("scheduled-launcher-ready-syncs", vmi("Scheduled"), record(), obs(L.READY, None), (Send(Command.SYNC),), None),
    ("running-domain-resyncs", vmi("Running"), record(), obs(), (Send(Command.SYNC),), None),
    ("paused-domain-resyncs", vmi("Running"), record(), obs(state=S.PAUSED, reason="User"),
     (Send(Command.SYNC),), None),
    ("running-launcher-unreachable", vmi("Running"), record(), obs(L.UNREACHABLE, None), (), None),
    ("running-launcher-absent", vmi("Running"), record(), obs(L.ABSENT, None), (), None),
    ("domain-shut-off", vmi("Running"), record(), obs(state=S.SHUTOFF, reason="Shutdown"), (), None),
    ("launcher-failed", vmi("Scheduled"), record(),
     obs(L.READY, None, launcher_failure=Failure("DomainTimeout", "")), (), None),
    ("final-vmi-left-alone", vmi("Succeeded"), record(), obs(state=S.SHUTOFF, reason="Shutdown"), (), None),
    ("final-vmi-stray-domain-killed", vmi("Failed"), record(), obs(), (Send(Command.KILL),), None),
    ("delete-starts-acpi-shutdown", vmi(deleting=True), record(), obs(), SHUTDOWN, 5.0),
    ("delete-short-grace-rechecks-at-grace", vmi(deleting=True, grace=2), record(grace=2), obs(), SHUTDOWN, 2.0),
    ("delete-grace-zero-kills", vmi(deleting=True, grace=0), record(grace=0), obs(), KILL_AT_ONCE, None),
    ("delete-paused-kills", vmi(deleting=True), record(), obs(state=S.PAUSED, reason="User"), KILL_AT_ONCE, None),
    ("delete-within-grace-waits", vmi(deleting=True), record(stop=StopStarted(ago(10), graceful=True)), obs(),
     (), 5.0),
    ("delete-near-grace-end-waits-remaining", vmi(deleting=True), record(stop=StopStarted(ago(28), graceful=True)),
     obs(), (), 2.0),
    ("delete-grace-expired-kills-and-fails", vmi(deleting=True), record(stop=StopStarted(ago(30), graceful=True)),
     obs(), (Send(Command.KILL, after_grace=True),), 5.0),
    ("delete-kill-retried-not-graceful", vmi(deleting=True, grace=0),
     record(grace=0, stop=StopStarted(ago(1), graceful=False)), obs(), (Send(Command.KILL),), 5.0),
    ("delete-domain-gone", vmi(deleting=True), record(stop=StopStarted(ago(1), graceful=True)),
     obs(state=S.SHUTOFF, reason="Shutdown"), (), None),
    ("delete-before-start", vmi("Scheduled", deleting=True), record(), obs(L.ABSENT, None), (), None),
    ("gone-with-live-domain-starts-shutdown", None, record(grace=10), obs(), SHUTDOWN, 5.0),
    ("gone-grace-expired-kills", None, record(grace=10, stop=StopStarted(ago(11), graceful=True)), obs(),
     (Send(Command.KILL, after_grace=True),), 5.0),
    ("gone-domain-ended-nothing-left", None, record(), obs(state=S.SHUTOFF, reason="Shutdown"), (), None),
    ("gone-launcher-unreachable-nothing-left", None, record(), obs(L.UNREACHABLE, None), (), None),
]


@pytest.mark.parametrize(("the_vmi", "the_record", "observation", "actions", "requeue_after"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan_actions(the_vmi: dict[str, Any] | None, the_record: VMIRecord, observation: Observation,
                      actions: tuple[Action, ...], requeue_after: float | None) -> None:
    view = VirtualMachineInstanceView(the_vmi) if the_vmi is not None else None
    result = plan(Snapshot(view, the_record, observation, "n1"), NOW)
    assert (result.actions, result.requeue_after) == (actions, requeue_after)
    if view is None:
        assert result.status is None, "a VMI gone from the API gets no status"


STATUS_CASES: list[tuple[str, dict[str, Any], VMIRecord, Observation, str | None, str | None]] = [
    # (id, vmi, record, observation, expected phase (None: no status write), expected reason)
    ("scheduled-domain-running", vmi("Scheduled"), record(), obs(), "Running", None),
    ("launcher-exited-before-domain", vmi("Scheduled"), record(),
     obs(L.UNREACHABLE, None, launcher_failure=Failure("LauncherExited", "the launcher exited")),
     "Failed", "LauncherExited"),
    ("killed-after-grace-fails", vmi("Running", deleting=True),
     VMIRecord("u", "ns/v", 30, killed_after_grace=True), obs(state=S.SHUTOFF, reason="Destroyed"),
     "Failed", "DomainDestroyedAfterGracePeriod"),
    ("destroyed-without-grace-succeeds", vmi("Running", deleting=True), record(),
     obs(state=S.SHUTOFF, reason="Destroyed"), "Succeeded", None),
    ("final-unchanged-no-write", {**vmi("Succeeded"), "status": {"phase": "Succeeded", "conditions": [
        {"type": "Ready", "status": "False", "reason": "GuestNotRunning", "message": "the guest is not running",
         "lastTransitionTime": "2024-01-01T00:00:00Z", "lastProbeTime": None}]}},
     record(), obs(state=S.SHUTOFF, reason="Shutdown"), None, None),
]


@pytest.mark.parametrize(("the_vmi", "the_record", "observation", "phase", "reason"),
                         [c[1:] for c in STATUS_CASES], ids=[c[0] for c in STATUS_CASES])
def test_plan_status(the_vmi: dict[str, Any], the_record: VMIRecord, observation: Observation,
                     phase: str | None, reason: str | None) -> None:
    status = plan(Snapshot(VirtualMachineInstanceView(the_vmi), the_record, observation, "n1"), NOW).status
    if phase is None:
        assert status is None
        return
    assert status is not None
    assert (status["phase"], status.get("reason")) == (phase, reason)
    assert status["phaseTransitionTimestamps"][-1] == {"phase": phase, "phaseTransitionTimestamp": "2024-01-01T00:10:00Z"}


def test_record_after_actions_keeps_the_stop_and_the_kill_after_grace() -> None:
    start = StopStarted(ago(3), graceful=True)
    after = record().after((start, Send(Command.SHUTDOWN)))
    assert (after.stop, after.killed_after_grace) == (start, False)
    assert after.after((Send(Command.KILL, after_grace=True),)).killed_after_grace
