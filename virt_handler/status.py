"""What the handler knows about a VMI's launcher and domain → the VMI status it writes. Pure.

`phase_for` is upstream's `calculateVmPhaseForStatusReason` (reference §3.6) as a function of an
`Observation`; `compute_status` builds the whole new status (phase, phaseTransitionTimestamps, reason,
conditions, nodeName, migrationMethod, qosClass, machine, launcherContainerImageVersion) from the old
one. Nothing here does I/O or reads the clock: `now` is an argument.

Invariants: the input VMI is never mutated (the result is a fresh dict); a condition keeps its
lastTransitionTime while its status stays the same; a phase transition appends exactly one
phaseTransitionTimestamps entry; a final phase is never left.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from virt_client.api.conditions import condition_status, remove_condition, set_condition
from virt_client.api.constants import FINAL_VMI_PHASES, LAUNCHER_COMPUTE_CONTAINER, ConditionReason
from virt_client.api.constants import VirtualMachineInstanceConditionType as Cond
from virt_client.api.constants import VirtualMachineInstancePhase as Phase
from virt_client.api.views.core import PodView
from virt_client.api.views.vmi import VirtualMachineInstanceSpecView, VirtualMachineInstanceView
from virt_client.indexer import thaw
from virt_client.launcher_protocol import DomainState
from virt_handler.vmi_spec import live_migratable, migration_method, qos_class

#: a VMI status (or a part of one) as written: plain JSON
VMIStatus = dict[str, Any]


class LauncherState(StrEnum):
    """What the launcher's command socket told us."""

    ABSENT = "Absent"  # no socket yet: the launcher has not initialized
    UNREACHABLE = "Unreachable"  # the socket is gone or refuses connections after the launcher ran
    READY = "Ready"  # answers; no domain
    DOMAIN = "Domain"  # answers; has a domain


class Reason(StrEnum):
    """Reasons the handler writes (status.reason and condition reasons)."""

    LAUNCHER_UNRESPONSIVE = "LauncherUnresponsive"
    DOMAIN_LOST = "DomainLost"
    DOMAIN_CRASHED = "DomainCrashed"
    DOMAIN_DESTROYED = "DomainDestroyedAfterGracePeriod"
    DOMAIN_FAILED = "DomainFailed"
    SYNC_FAILED = "SyncFailed"
    GUEST_NOT_RUNNING = "GuestNotRunning"
    LAUNCHER_EXITED = "LauncherExited"


@dataclass(frozen=True)
class DomainStatus:
    state: DomainState
    reason: str = "Unknown"
    exists: bool = True

    @property
    def final(self) -> bool:
        return self.state in (DomainState.SHUTOFF, DomainState.CRASHED)

    @property
    def alive(self) -> bool:
        """A guest that still needs stopping (defined, not shut off)."""
        return self.exists and not self.final and self.state is not DomainState.NO_STATE


@dataclass(frozen=True)
class Failure:
    reason: str
    message: str


@dataclass(frozen=True)
class Observation:
    """Everything the handler learned about one VMI's launcher in this reconcile."""

    launcher: LauncherState
    domain: DomainStatus | None = None
    launcher_failure: Failure | None = None  # a `Failed` event from the launcher
    sync_error: Failure | None = None  # the last sync/command failed
    killed_after_grace: bool = False  # the handler destroyed the guest after a graceful attempt
    launcher_image: str = ""
    pod_ip: str = ""  # the launcher Pod's IP: what a pod-network (masquerade) interface is reached at


def phase_for(phase: str, obs: Observation) -> tuple[str, Failure | None]:
    """The VMI phase this observation implies, with the failure that explains a Failed phase."""
    current = Phase(phase) if phase in Phase.__members__.values() else Phase.UNSET
    if current in FINAL_VMI_PHASES:
        return current, None
    d = obs.domain
    if d is None or (not d.exists and not d.final):
        return _phase_without_domain(current, obs)
    if d.final:
        if d.state is DomainState.CRASHED or d.reason in ("Crashed", "Panicked"):
            return Phase.FAILED, Failure(Reason.DOMAIN_CRASHED, f"the guest ended {d.state}/{d.reason}")
        if d.reason == "Destroyed":
            if obs.killed_after_grace:
                return Phase.FAILED, Failure(Reason.DOMAIN_DESTROYED,
                                             "the guest did not shut down within its grace period and was destroyed")
            return Phase.SUCCEEDED, None
        if d.reason in ("Shutdown", "Saved", "FromSnapshot"):
            return Phase.SUCCEEDED, None
        if d.reason == "Failed":
            return Phase.FAILED, obs.launcher_failure or Failure(Reason.DOMAIN_FAILED, "the domain failed to start")
        if obs.launcher.value in (LauncherState.UNREACHABLE, LauncherState.READY) and d.reason != "Migrated":
            # The launcher lost or never started the guest and is not going to report more.
            return _phase_without_domain(current, obs)
        return current, None  # Migrated (source side), or the Shutoff/Unknown of a domain being defined
    if d.state is DomainState.PAUSED and d.reason == "PostcopyFailed":
        return Phase.FAILED, Failure(Reason.DOMAIN_FAILED, "post-copy migration failed")
    if d.state in (DomainState.RUNNING, DomainState.BLOCKED, DomainState.PM_SUSPENDED, DomainState.PAUSED):
        return Phase.RUNNING, None
    return current, None


def _phase_without_domain(current: Phase, obs: Observation) -> tuple[str, Failure | None]:
    if obs.launcher is LauncherState.UNREACHABLE and current in (Phase.SCHEDULED, Phase.RUNNING):
        return Phase.FAILED, obs.launcher_failure or Failure(
            Reason.LAUNCHER_UNRESPONSIVE, "the launcher disappeared or stopped answering on its command socket")
    if current is Phase.RUNNING:
        return Phase.FAILED, obs.launcher_failure or Failure(Reason.DOMAIN_LOST, "the running domain disappeared")
    if obs.launcher_failure is not None and current is Phase.SCHEDULED:
        return Phase.FAILED, obs.launcher_failure
    return current, None


def launcher_exit(pod: PodView) -> Failure | None:
    """Why the launcher of this Pod is gone for good: its compute container terminated, or the Pod ended.

    None while the launcher may still run (waiting, running, or no status yet). Launcher Pods never
    restart their containers, so a terminated compute container is final.
    """
    for container in pod.status.container_statuses:
        if container.name == LAUNCHER_COMPUTE_CONTAINER and (ended := container.state.terminated) is not None:
            detail = f": {ended.message}" if ended.message else ""
            return Failure(Reason.LAUNCHER_EXITED, f"the launcher exited ({ended.reason or 'Terminated'}, "
                                                   f"exit code {ended.exit_code}){detail}")
    if pod.phase in ("Failed", "Succeeded"):
        detail = f" ({pod.status.reason})" if pod.status.reason else ""
        return Failure(Reason.LAUNCHER_EXITED, f"the launcher Pod {pod.name} is {pod.phase}{detail}")
    return None


def pod_interfaces(spec: VirtualMachineInstanceSpecView, pod_ip: str) -> list[VMIStatus]:
    """`status.interfaces` for the pod-network interfaces: as upstream without a guest agent, the VMI is
    reported at the Pod's IP (masquerade NATs it to the guest); the MAC when the spec sets one."""
    pod_networks = {n.name for n in spec.networks if n.pod is not None}
    out: list[VMIStatus] = []
    for iface in spec.domain.devices.interfaces:
        if iface.name not in pod_networks:
            continue
        entry: VMIStatus = {"name": iface.name, "ipAddress": pod_ip, "ipAddresses": [pod_ip],
                            "infoSource": "domain", "queueCount": 1}
        if iface.mac_address:
            entry["mac"] = iface.mac_address.replace("-", ":").lower()
        out.append(entry)
    return out


def compute_status(vmi: VirtualMachineInstanceView, obs: Observation, *, node_name: str, now: str) -> VMIStatus:
    """The VMI status after this observation (a fresh dict; equal to the old one when nothing changed)."""
    old: VMIStatus = thaw(vmi.status.raw)
    status = copy.deepcopy(old)
    spec = vmi.spec
    phase, failure = phase_for(str(old.get("phase") or ""), obs)
    if phase != (old.get("phase") or ""):
        status["phase"] = str(phase)
        stamps = status.setdefault("phaseTransitionTimestamps", [])
        stamps.append({"phase": str(phase), "phaseTransitionTimestamp": now})
    if failure is not None and phase == Phase.FAILED and phase != old.get("phase"):
        status["reason"] = str(failure.reason)
    conditions: list[VMIStatus] = status.get("conditions") or []
    if phase in (Phase.SCHEDULED, Phase.RUNNING) and not status.get("nodeName"):
        status["nodeName"] = node_name
    d = obs.domain
    running = phase == Phase.RUNNING and d is not None and d.alive
    if phase == Phase.RUNNING:
        status.setdefault("migrationMethod", str(migration_method(spec)))
        qos = qos_class(spec)
        if not status.get("qosClass"):
            status["qosClass"] = qos
        machine = spec.domain.machine.get("type")
        if machine and not status.get("machine"):
            status["machine"] = {"type": str(machine)}
        if obs.launcher_image and not status.get("launcherContainerImageVersion"):
            status["launcherContainerImageVersion"] = obs.launcher_image
        if obs.pod_ip and not status.get("interfaces"):
            interfaces = pod_interfaces(spec, obs.pod_ip)
            if interfaces:
                status["interfaces"] = interfaces
        ok, reason, message = live_migratable(spec, vmi.annotations)
        conditions = set_condition(conditions, Cond.LIVE_MIGRATABLE, condition_status(ok), now, reason, message)
    paused_by_user = running and d is not None and d.state is DomainState.PAUSED and d.reason == "User"
    if paused_by_user:
        conditions = set_condition(conditions, Cond.PAUSED, "True", now, ConditionReason.PAUSED_BY_USER,
                                   "VMI was paused by user")
    elif phase != Phase.SCHEDULED or d is not None:
        conditions = remove_condition(conditions, Cond.PAUSED)
    if running and not paused_by_user:
        conditions = set_condition(conditions, Cond.READY, "True", now)
    elif phase == Phase.RUNNING or phase in FINAL_VMI_PHASES or paused_by_user:
        message = "the guest is paused" if paused_by_user else "the guest is not running"
        conditions = set_condition(conditions, Cond.READY, "False", now, Reason.GUEST_NOT_RUNNING, message)
    if obs.sync_error is not None and phase not in FINAL_VMI_PHASES:
        conditions = set_condition(conditions, Cond.SYNCHRONIZED, "False", now, obs.sync_error.reason,
                                   obs.sync_error.message)
    else:
        conditions = remove_condition(conditions, Cond.SYNCHRONIZED)
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)
        if "conditions" in old:
            status["conditions"] = []
    return status
