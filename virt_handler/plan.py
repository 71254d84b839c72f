"""What to do for one VMI on this node, decided from what was observed. Pure.

`plan(snapshot, now) -> Plan(actions, status, requeue_after)` is the controller contract
(`virt_client.reconcile`): the actions are the launcher command to send (sync, ACPI shutdown, kill)
and the bookkeeping of a graceful stop; the status is the VMI status the observation implies (None
when it is unchanged, or when the VMI is gone from the API); `requeue_after` is when to look again.
The reconcile shell performs the actions in order and writes the status.

A command answers with the launcher's view of the domain after it, so the shell plans once more on
that answer and writes that plan's status: a sync that starts the guest reports Running in the same
reconcile. The second plan's actions are not performed (the next reconcile sees them again).

Rules (reference §3.6, §3.9):
- A VMI in a final phase is left alone, except that a stray live domain is killed.
- A VMI being deleted (its VM stopped), or gone from the API while its domain lives: ACPI shutdown
  once, re-checked at least every 5 s, kill once terminationGracePeriodSeconds have passed since the
  stop started (0, or a paused guest: kill at once).
- Otherwise the VMI is synced to its launcher whenever the launcher answers and no final domain
  exists (sync is idempotent, so a restarted handler re-adopts a running domain without restarting it);
  a launcher that has not initialized yet is re-checked after 1 s while the VMI is Scheduled.

Time is the `now` the shell takes from its injected clock; the grace period runs from the `now` at
which the stop started (`StopStarted.at`, kept in the VMI's record).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from virt_client.api.constants import VirtualMachineInstancePhase as Phase
from virt_client.api.times import rfc3339
from virt_client.api.views.vmi import VirtualMachineInstanceView
from virt_client.indexer import FrozenDict, thaw
from virt_client.launcher_protocol import Command, DomainState
from virt_client.reconcile import Plan
from virt_handler.status import Failure, LauncherState, Observation, VMIStatus, compute_status, phase_for

#: how often a graceful stop in progress is re-checked (upstream: at most every 5 s)
SHUTDOWN_RECHECK_SECONDS = 5.0
#: how often a Scheduled VMI whose launcher has not initialized is re-checked
LAUNCHER_WAIT_SECONDS = 1.0


@dataclass(frozen=True)
class StopStarted:
    """Action: a stop of the guest starts now; `graceful` when it begins with an ACPI shutdown."""

    at: datetime
    graceful: bool


@dataclass(frozen=True)
class Send:
    """Action: send one command to the launcher.

    `after_grace`: this kill ends a graceful stop that ran out of time, so the VMI fails.
    """

    command: Command
    after_grace: bool = False


Action = StopStarted | Send
HandlerPlan = Plan[Action, VMIStatus]


@dataclass(frozen=True)
class VMIRecord:
    """What the handler remembers about one VMI it runs, between reconciles (one record per uid).

    `key` and `grace` outlive the VMI: a VMI deleted from the API with its domain still alive gets its
    graceful stop from them. `launcher_image` and `pod_ip` come from the launcher Pod, looked up until
    `pod_known`. `written` is for the shell alone: the resourceVersion its last status write replaced
    and the object that write returned, read instead of the cache until the cache catches up.
    """

    uid: str
    key: str
    grace: int
    stop: StopStarted | None = None
    killed_after_grace: bool = False
    launcher_image: str = ""
    pod_ip: str = ""
    pod_known: bool = False
    written: tuple[str, FrozenDict] | None = None

    def after(self, actions: tuple[Action, ...]) -> VMIRecord:
        """The record once `actions` are performed."""
        record = self
        for action in actions:
            if isinstance(action, StopStarted):
                record = replace(record, stop=action)
            elif action.after_grace:
                record = replace(record, killed_after_grace=True)
        return record


@dataclass(frozen=True)
class Snapshot:
    """What the shell read for one VMI: the object (None once it left the API), its record, the launcher."""

    vmi: VirtualMachineInstanceView | None
    record: VMIRecord
    observation: Observation
    node_name: str


def plan(snapshot: Snapshot, now: datetime) -> HandlerPlan:
    """The next steps for one VMI, and its status as observed."""
    actions, requeue_after = _steps(snapshot, now)
    return Plan(actions, _status(snapshot, now), requeue_after)


def _observed(snapshot: Snapshot) -> Observation:
    record = snapshot.record
    return replace(snapshot.observation, killed_after_grace=record.killed_after_grace,
                   launcher_image=record.launcher_image, pod_ip=record.pod_ip)


def failure(snapshot: Snapshot) -> Failure | None:
    """Why the VMI fails now, when this observation fails it (None otherwise, and once it is final)."""
    if snapshot.vmi is None or snapshot.vmi.is_final:
        return None
    phase, why = phase_for(snapshot.vmi.phase, _observed(snapshot))
    return why if phase == Phase.FAILED else None


def _status(snapshot: Snapshot, now: datetime) -> VMIStatus | None:
    vmi = snapshot.vmi
    if vmi is None:
        return None
    status = compute_status(vmi, _observed(snapshot), node_name=snapshot.node_name, now=rfc3339(now))
    if status == thaw(vmi.status.raw) or (not vmi.status.raw and not status):
        return None
    return status


def _steps(snapshot: Snapshot, now: datetime) -> tuple[tuple[Action, ...], float | None]:
    vmi, record, obs = snapshot.vmi, snapshot.record, snapshot.observation
    phase = vmi.phase if vmi is not None else Phase.RUNNING
    domain = obs.domain
    alive = domain is not None and domain.alive
    if vmi is not None and vmi.is_final:
        return ((Send(Command.KILL),) if alive else ()), None
    if vmi is None or vmi.is_deleting:
        if not alive:
            return (), None
        assert domain is not None
        grace = record.grace
        stop = record.stop
        if stop is None:
            if grace == 0 or domain.state is DomainState.PAUSED:
                return (StopStarted(now, graceful=False), Send(Command.KILL)), None
            return (StopStarted(now, graceful=True), Send(Command.SHUTDOWN)), \
                min(float(grace), SHUTDOWN_RECHECK_SECONDS)
        remaining = grace - (now - stop.at).total_seconds()
        if remaining <= 0:
            return (Send(Command.KILL, after_grace=stop.graceful),), SHUTDOWN_RECHECK_SECONDS
        return (), min(remaining, SHUTDOWN_RECHECK_SECONDS)
    if obs.launcher is LauncherState.ABSENT:
        return (), (LAUNCHER_WAIT_SECONDS if phase in (Phase.UNSET, Phase.SCHEDULED) else None)
    if obs.launcher is LauncherState.UNREACHABLE:
        return (), None
    if domain is not None and domain.final:
        return (), None
    if obs.launcher_failure is not None:
        return (), None
    if phase is Phase.SCHEDULED or alive:
        return (Send(Command.SYNC),), None
    return (), None
