"""What to do for one VMI on this node, decided from what was observed. Pure.

`plan(...)` returns the one launcher command to send (sync, ACPI shutdown, kill, or none), whether
a graceful stop starts now, and when to look again. The reconcile shell performs the command,
then computes the status with `status.compute_status`.

Rules (reference §3.6, §3.9):
- A VMI in a final phase is left alone, except that a stray live domain is killed.
- A VMI being deleted (its VM stopped): ACPI shutdown once, re-checked at least every 5 s, kill once
  terminationGracePeriodSeconds have passed (0, or a paused guest: kill at once).
- Otherwise the VMI is synced to its launcher whenever the launcher answers and no final domain
  exists (sync is idempotent, so a restarted handler re-adopts a running domain without restarting it);
  a launcher that has not initialized yet is re-checked after 1 s while the VMI is Scheduled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from virt_client.api.constants import FINAL_VMI_PHASES
from virt_client.api.constants import VirtualMachineInstancePhase as Phase
from virt_client.api.objects import is_deleting
from virt_client.launcher_protocol import Command, DomainState
from virt_handler.status import LauncherState, Observation
from virt_handler.vmi_spec import grace_period

#: how often a graceful stop in progress is re-checked (upstream: at most every 5 s)
SHUTDOWN_RECHECK_SECONDS = 5.0
#: how often a Scheduled VMI whose launcher has not initialized is re-checked
LAUNCHER_WAIT_SECONDS = 1.0


@dataclass(frozen=True)
class ShutdownState:
    """A graceful stop the handler started: when (monotonic seconds) and whether ACPI was tried."""

    started: float
    graceful: bool


@dataclass(frozen=True)
class Plan:
    command: Command | None = None
    start_shutdown: ShutdownState | None = None  # record this graceful stop
    killed_after_grace: bool = False  # the kill ends a graceful attempt: the VMI fails
    requeue_after: float | None = None


NOTHING = Plan()


def plan(vmi: Mapping[str, Any], obs: Observation, shutdown: ShutdownState | None, now: float) -> Plan:
    """The next step for `vmi` given the observation, the graceful stop in progress and the monotonic time."""
    phase = str((vmi.get("status") or {}).get("phase") or "")
    domain = obs.domain
    alive = domain is not None and domain.alive
    if phase in FINAL_VMI_PHASES:
        return Plan(command=Command.KILL) if alive else NOTHING
    if is_deleting(vmi):
        if not alive:
            return NOTHING
        assert domain is not None
        grace = grace_period(vmi.get("spec") or {})
        if shutdown is None:
            if grace == 0 or domain.state is DomainState.PAUSED:
                return Plan(command=Command.KILL, start_shutdown=ShutdownState(now, graceful=False))
            return Plan(command=Command.SHUTDOWN, start_shutdown=ShutdownState(now, graceful=True),
                        requeue_after=min(float(grace), SHUTDOWN_RECHECK_SECONDS))
        remaining = shutdown.started + grace - now
        if remaining <= 0:
            return Plan(command=Command.KILL, killed_after_grace=shutdown.graceful,
                        requeue_after=SHUTDOWN_RECHECK_SECONDS)
        return Plan(requeue_after=min(remaining, SHUTDOWN_RECHECK_SECONDS))
    if obs.launcher is LauncherState.ABSENT:
        return Plan(requeue_after=LAUNCHER_WAIT_SECONDS) if phase in ("", Phase.SCHEDULED) else NOTHING
    if obs.launcher is LauncherState.UNREACHABLE:
        return NOTHING
    if domain is not None and domain.final:
        return NOTHING
    if obs.launcher_failure is not None:
        return NOTHING
    if phase == Phase.SCHEDULED or alive:
        return Plan(command=Command.SYNC)
    return NOTHING
