"""What the handler does per VMI: sync, graceful stop with its grace period, kill, or wait."""

from __future__ import annotations

from typing import Any

import pytest

from virt_client.launcher_protocol import Command
from virt_client.launcher_protocol import DomainState as S
from virt_handler.plan import NOTHING, Plan, ShutdownState, plan
from virt_handler.status import DomainStatus, Failure, LauncherState, Observation

L = LauncherState
NOW = 100.0


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


CASES: list[tuple[str, dict[str, Any], Observation, ShutdownState | None, Plan]] = [
    ("scheduled-launcher-absent-waits", vmi("Scheduled"), obs(L.ABSENT, None), None, Plan(requeue_after=1.0)),
    ("scheduled-launcher-ready-syncs", vmi("Scheduled"), obs(L.READY, None), None, Plan(command=Command.SYNC)),
    ("running-domain-resyncs", vmi("Running"), obs(), None, Plan(command=Command.SYNC)),
    ("paused-domain-resyncs", vmi("Running"), obs(state=S.PAUSED, reason="User"), None, Plan(command=Command.SYNC)),
    ("running-launcher-unreachable", vmi("Running"), obs(L.UNREACHABLE, None), None, NOTHING),
    ("running-launcher-absent", vmi("Running"), obs(L.ABSENT, None), None, NOTHING),
    ("domain-shut-off", vmi("Running"), obs(state=S.SHUTOFF, reason="Shutdown"), None, NOTHING),
    ("launcher-failed", vmi("Scheduled"), obs(L.READY, None, launcher_failure=Failure("DomainTimeout", "")),
     None, NOTHING),
    ("final-vmi-left-alone", vmi("Succeeded"), obs(state=S.SHUTOFF, reason="Shutdown"), None, NOTHING),
    ("final-vmi-stray-domain-killed", vmi("Failed"), obs(), None, Plan(command=Command.KILL)),
    ("delete-starts-acpi-shutdown", vmi(deleting=True), obs(), None,
     Plan(command=Command.SHUTDOWN, start_shutdown=ShutdownState(NOW, graceful=True), requeue_after=5.0)),
    ("delete-short-grace-rechecks-at-grace", vmi(deleting=True, grace=2), obs(), None,
     Plan(command=Command.SHUTDOWN, start_shutdown=ShutdownState(NOW, graceful=True), requeue_after=2.0)),
    ("delete-default-grace", vmi(deleting=True, grace=None), obs(), None,
     Plan(command=Command.SHUTDOWN, start_shutdown=ShutdownState(NOW, graceful=True), requeue_after=5.0)),
    ("delete-grace-zero-kills", vmi(deleting=True, grace=0), obs(), None,
     Plan(command=Command.KILL, start_shutdown=ShutdownState(NOW, graceful=False))),
    ("delete-paused-kills", vmi(deleting=True), obs(state=S.PAUSED, reason="User"), None,
     Plan(command=Command.KILL, start_shutdown=ShutdownState(NOW, graceful=False))),
    ("delete-within-grace-waits", vmi(deleting=True), obs(), ShutdownState(NOW - 10, graceful=True),
     Plan(requeue_after=5.0)),
    ("delete-near-grace-end-waits-remaining", vmi(deleting=True), obs(), ShutdownState(NOW - 28, graceful=True),
     Plan(requeue_after=2.0)),
    ("delete-grace-expired-kills-and-fails", vmi(deleting=True), obs(), ShutdownState(NOW - 30, graceful=True),
     Plan(command=Command.KILL, killed_after_grace=True, requeue_after=5.0)),
    ("delete-kill-retried-not-graceful", vmi(deleting=True, grace=0), obs(), ShutdownState(NOW - 1, graceful=False),
     Plan(command=Command.KILL, killed_after_grace=False, requeue_after=5.0)),
    ("delete-domain-gone", vmi(deleting=True), obs(state=S.SHUTOFF, reason="Shutdown"),
     ShutdownState(NOW - 1, graceful=True), NOTHING),
    ("delete-before-start", vmi("Scheduled", deleting=True), obs(L.ABSENT, None), None, NOTHING),
]


@pytest.mark.parametrize(("the_vmi", "observation", "shutdown", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_plan(the_vmi: dict[str, Any], observation: Observation, shutdown: ShutdownState | None,
              expected: Plan) -> None:
    assert plan(the_vmi, observation, shutdown, NOW) == expected
