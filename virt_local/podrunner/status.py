"""Container and Pod status, computed from what the worker knows about each container (pure).

`ContainerRecord` is the worker's view of one container (state, reason, exit code, times, restarts).
`pod_status` derives the Pod's phase the way the kubelet does (a container never started → Pending;
any running → Running; all stopped → Succeeded if all exited 0, else Failed under `Never`, Running
under restart policies that will restart them), plus conditions (PodReadyToStartContainers,
Initialized, ContainersReady, Ready, PodScheduled), IPs (the Pod's own loopback address, see
`virt_local.pod_network`; the node's is 127.0.0.1) and startTime. Containers count as
ready while running: virt-local does not run probes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from virt_client.api.times import now_rfc3339

from ..pod_network import NODE_IP, pod_ip


class State(StrEnum):
    WAITING = "waiting"
    RUNNING = "running"
    TERMINATED = "terminated"


class Reason(StrEnum):
    CONTAINER_CREATING = "ContainerCreating"
    ERR_IMAGE_PULL = "ErrImagePull"
    CREATE_CONFIG_ERROR = "CreateContainerConfigError"
    CRASH_LOOP = "CrashLoopBackOff"
    COMPLETED = "Completed"
    ERROR = "Error"
    OOM_KILLED = "OOMKilled"
    START_ERROR = "StartError"
    UNKNOWN = "ContainerStatusUnknown"


@dataclass
class ContainerRecord:
    name: str
    image: str
    state: State = State.WAITING
    reason: str = Reason.CONTAINER_CREATING
    message: str = ""
    exit_code: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    restart_count: int = 0
    pid: int = 0
    last_terminated: dict[str, Any] | None = field(default=None)

    def terminated_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"exitCode": self.exit_code if self.exit_code is not None else 0,
                               "reason": self.reason, "startedAt": self.started_at,
                               "finishedAt": self.finished_at, "containerID": self.container_id}
        if self.message:
            out["message"] = self.message
        return out

    @property
    def container_id(self) -> str:
        return f"virt-local://{self.pid}" if self.pid else ""

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("name", "image", "state", "reason", "message", "exit_code",
                                              "started_at", "finished_at", "restart_count", "pid",
                                              "last_terminated")}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ContainerRecord:
        rec = cls(name=data["name"], image=data["image"])
        for k, v in data.items():
            if hasattr(rec, k):
                setattr(rec, k, State(v) if k == "state" else v)
        return rec


def container_status(rec: ContainerRecord) -> dict[str, Any]:
    state: dict[str, Any]
    if rec.state == State.RUNNING:
        state = {"running": {"startedAt": rec.started_at}}
    elif rec.state == State.TERMINATED:
        state = {"terminated": rec.terminated_dict()}
    else:
        waiting: dict[str, Any] = {"reason": rec.reason}
        if rec.message:
            waiting["message"] = rec.message
        state = {"waiting": waiting}
    out: dict[str, Any] = {
        "name": rec.name, "image": rec.image, "imageID": rec.image if rec.pid else "",
        "ready": rec.state == State.RUNNING, "started": rec.state == State.RUNNING,
        "restartCount": rec.restart_count, "state": state,
        "lastState": {"terminated": rec.last_terminated} if rec.last_terminated else {},
    }
    if rec.pid:
        out["containerID"] = rec.container_id
    return out


def phase(records: Sequence[ContainerRecord], restart_policy: str) -> str:
    running = stopped = succeeded = waiting = 0
    for rec in records:
        if rec.state == State.RUNNING:
            running += 1
        elif rec.state == State.TERMINATED:
            stopped += 1
            succeeded += rec.exit_code == 0
        elif rec.last_terminated is not None:
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _condition(kind: str, ok: bool, transitions: dict[str, str], reason: str = "",
               message: str = "") -> dict[str, Any]:
    status = "True" if ok else "False"
    key = f"{kind}={status}"
    when = transitions.setdefault(key, now_rfc3339())
    cond: dict[str, Any] = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": when}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def pod_status(pod: Mapping[str, Any], records: Sequence[ContainerRecord], *, start_time: str,
               sandbox_ready: bool, transitions: dict[str, str]) -> dict[str, Any]:
    """The Pod's status. `transitions` remembers when each condition took its value (kept by the caller)."""
    spec = pod.get("spec") or {}
    ph = phase(records, str(spec.get("restartPolicy") or "Always"))
    unready = [r.name for r in records if r.state != State.RUNNING]
    terminal = ph in ("Succeeded", "Failed")
    reason = "PodCompleted" if terminal else ("ContainersNotReady" if unready else "")
    message = "" if terminal or not unready else f"containers with unready status: [{' '.join(unready)}]"
    scheduled = next((c for c in (pod.get("status") or {}).get("conditions") or []
                      if c.get("type") == "PodScheduled"), None)
    conditions = [
        _condition("PodReadyToStartContainers", sandbox_ready and not terminal, transitions),
        _condition("Initialized", True, transitions),
        _condition("Ready", not unready and not terminal, transitions, reason, message),
        _condition("ContainersReady", not unready and not terminal, transitions, reason, message),
        dict(scheduled) if scheduled else _condition("PodScheduled", True, transitions),
    ]
    ip = pod_ip(pod)
    status: dict[str, Any] = {
        "phase": ph, "conditions": conditions,
        "hostIP": NODE_IP, "hostIPs": [{"ip": NODE_IP}], "podIP": ip, "podIPs": [{"ip": ip}],
        "startTime": start_time, "qosClass": qos_class(pod),
        "containerStatuses": [container_status(r) for r in records],
    }
    return status


def qos_class(pod: Mapping[str, Any]) -> str:
    containers = (pod.get("spec") or {}).get("containers") or []
    requests_any = limits_all = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            requests_any = True
        for r in ("cpu", "memory"):
            if r not in lim or (r in req and req[r] != lim[r]):
                guaranteed = False
        limits_all = True
    if requests_any and guaranteed and limits_all:
        return "Guaranteed"
    return "Burstable" if requests_any else "BestEffort"
