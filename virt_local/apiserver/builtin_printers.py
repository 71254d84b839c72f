"""Table columns of the built-in kinds whose cells kube-apiserver computes in Go rather than by JSONPath.

`kubectl get nodes` and `kubectl get pods` print what the server's table convertor puts in the cells
(k8s.io/kubernetes `pkg/printers/internalversion/printers.go`, `printNode` and `printPod`):

- Node: STATUS `Ready` / `NotReady` / `Unknown` from the Ready condition, `,SchedulingDisabled` when
  cordoned; ROLES from the `node-role.kubernetes.io/<role>` and `kubernetes.io/role` labels (sorted,
  `<none>`); AGE; VERSION; wide: INTERNAL-IP, EXTERNAL-IP, OS-IMAGE, KERNEL-VERSION, CONTAINER-RUNTIME.
- Pod: READY `<ready>/<containers>`; STATUS the phase, overridden by `status.reason`, an init
  container's state (`Init:1/2`, `Init:ErrImagePull`, `Init:Error`), a container's waiting or
  terminated reason (`ContainerCreating`, `CrashLoopBackOff`, `Completed`, `Error`, `ExitCode:3`,
  `Signal:9`), `Terminating` while a non-final Pod is being deleted; RESTARTS, with `(<age> ago)` of
  the last restart; AGE; wide: IP, NODE, NOMINATED NODE, READINESS GATES.

Invariants: pure (the age formatting is passed in); every cell is a string, as the server sends
them; the wide columns have priority 1, so kubectl shows them only with `-o wide`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Obj = Mapping[str, Any]
Age = Callable[[Any], str]  # creationTimestamp (RFC 3339 text or None) → "5m", "<unknown>"

NAME_COLUMN = {"name": "Name", "type": "string", "format": "name", "priority": 0,
               "description": "Name must be unique within a namespace."}
AGE_DESCRIPTION = "CreationTimestamp is a timestamp representing the server time when this object was created."
ROLE_PREFIX = "node-role.kubernetes.io/"
ROLE_LABEL = "kubernetes.io/role"


def _column(name: str, description: str, priority: int = 0) -> dict[str, Any]:
    return {"name": name, "type": "string", "format": "", "description": description, "priority": priority}


@dataclass(frozen=True)
class Printer:
    """Column definitions (after Name) and the function that fills one row."""

    columns: tuple[dict[str, Any], ...]
    row: Callable[[Obj, Age], tuple[list[Any], list[dict[str, Any]]]]  # (cells after Name, row conditions)


def _items(obj: Obj | None, key: str) -> list[Obj]:
    value = (obj or {}).get(key)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _map(obj: Obj | None, key: str) -> Obj:
    value = (obj or {}).get(key)
    return value if isinstance(value, Mapping) else {}


# -- Node ------------------------------------------------------------------------------------------

def node_status(node: Obj) -> str:
    ready = next((c for c in _items(_map(node, "status"), "conditions") if c.get("type") == "Ready"), None)
    status = ["Unknown"] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    if _map(node, "spec").get("unschedulable"):
        status.append("SchedulingDisabled")
    return ",".join(status)


def node_roles(node: Obj) -> str:
    roles = set()
    for key, value in _map(_map(node, "metadata"), "labels").items():
        if key.startswith(ROLE_PREFIX) and key[len(ROLE_PREFIX):]:
            roles.add(key[len(ROLE_PREFIX):])
        elif key == ROLE_LABEL and value:
            roles.add(str(value))
    return ",".join(sorted(roles)) or "<none>"


def _address(node: Obj, kind: str) -> str:
    return next((str(a.get("address")) for a in _items(_map(node, "status"), "addresses")
                 if a.get("type") == kind), "<none>")


def node_row(node: Obj, age: Age) -> tuple[list[Any], list[dict[str, Any]]]:
    info = _map(_map(node, "status"), "nodeInfo")
    cells = [node_status(node), node_roles(node), age(_map(node, "metadata").get("creationTimestamp")),
             str(info.get("kubeletVersion") or ""), _address(node, "InternalIP"), _address(node, "ExternalIP"),
             str(info.get("osImage") or "<unknown>"), str(info.get("kernelVersion") or "<unknown>"),
             str(info.get("containerRuntimeVersion") or "<unknown>")]
    return cells, []


NODE = Printer(
    columns=(_column("Status", "The status of the node"), _column("Roles", "The roles of the node"),
             _column("Age", AGE_DESCRIPTION), _column("Version", "Kubelet Version reported by the node."),
             _column("Internal-IP", "List of addresses reachable to the node.", 1),
             _column("External-IP", "List of addresses reachable to the node.", 1),
             _column("OS-Image", "OS Image reported by the node from /etc/os-release.", 1),
             _column("Kernel-Version", "Kernel Version reported by the node.", 1),
             _column("Container-Runtime", "ContainerRuntime Version reported by the node.", 1)),
    row=node_row)


# -- Pod -------------------------------------------------------------------------------------------

SUCCEEDED = [{"type": "Completed", "status": "True", "reason": "Succeeded",
              "message": "The pod has completed successfully."}]
FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
TERMINAL = ("Succeeded", "Failed")


def _condition_true(status: Obj, ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True" for c in _items(status, "conditions"))


def _restartable(container: Obj | None) -> bool:
    return (container or {}).get("restartPolicy") == "Always"


def _finished_at(cs: Obj) -> str:
    return str(_map(_map(cs, "lastState"), "terminated").get("finishedAt") or "")


def _terminated_reason(terminated: Obj, prefix: str = "") -> str:
    if terminated.get("reason"):
        return prefix + str(terminated["reason"])
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


@dataclass
class _Tally:
    reason: str
    ready: int = 0
    restarts: int = 0
    last_restart: str = ""  # RFC 3339 texts in UTC compare in time order

    def restarted(self, cs: Obj) -> None:
        self.restarts += int(cs.get("restartCount") or 0)
        self.last_restart = max(self.last_restart, _finished_at(cs))


def _init_containers(spec: Obj, status: Obj, tally: _Tally) -> tuple[bool, _Tally]:
    """Count the init containers: (still initializing, the restarts of the sidecars among them)."""
    declared = {str(c.get("name")): c for c in _items(spec, "initContainers")}
    sidecars = _Tally(tally.reason)
    statuses = _items(status, "initContainerStatuses")
    for i, cs in enumerate(statuses):
        tally.restarted(cs)
        container = declared.get(str(cs.get("name")))
        if _restartable(container):
            sidecars.restarted(cs)
        state = _map(cs, "state")
        terminated, waiting = _map(state, "terminated"), _map(state, "waiting")
        if terminated and int(terminated.get("exitCode") or 0) == 0:
            continue
        if _restartable(container) and cs.get("started"):
            tally.ready += 1 if cs.get("ready") else 0
            continue
        if terminated:
            tally.reason = _terminated_reason(terminated, "Init:")
        elif waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            tally.reason = f"Init:{waiting['reason']}"
        else:
            tally.reason = f"Init:{i}/{len(declared)}"
        return True, sidecars
    return False, sidecars


def pod_row(pod: Obj, age: Age) -> tuple[list[Any], list[dict[str, Any]]]:
    spec, status, md = _map(pod, "spec"), _map(pod, "status"), _map(pod, "metadata")
    phase = str(status.get("phase") or "")
    tally = _Tally(str(status.get("reason") or phase))
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
           for c in _items(status, "conditions")):
        tally.reason = "SchedulingGated"
    total = len(_items(spec, "containers")) + sum(1 for c in _items(spec, "initContainers") if _restartable(c))
    initializing, sidecars = _init_containers(spec, status, tally)
    if not initializing or _condition_true(status, "Initialized"):
        # once initialized, only the sidecars' restarts count, with the app containers'
        tally.restarts, tally.last_restart = sidecars.restarts, sidecars.last_restart
        has_running = False
        for cs in reversed(_items(status, "containerStatuses")):
            tally.restarted(cs)
            state = _map(cs, "state")
            waiting, terminated = _map(state, "waiting"), _map(state, "terminated")
            if waiting.get("reason"):
                tally.reason = str(waiting["reason"])
            elif terminated:
                tally.reason = _terminated_reason(terminated)
            elif cs.get("ready") and "running" in state:
                has_running = True
                tally.ready += 1
        if tally.reason == "Completed" and has_running:
            tally.reason = "Running" if _condition_true(status, "Ready") else "NotReady"
    if md.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        tally.reason = "Unknown"
    elif md.get("deletionTimestamp") and phase not in TERMINAL:
        tally.reason = "Terminating"
    restarts = str(tally.restarts)
    if tally.restarts and tally.last_restart:
        restarts = f"{tally.restarts} ({age(tally.last_restart)} ago)"
    ips = _items(status, "podIPs")
    ip = str(ips[0].get("ip") or "") if ips else str(status.get("podIP") or "")
    cells = [f"{tally.ready}/{total}", tally.reason, restarts, age(md.get("creationTimestamp")),
             ip or "<none>", str(spec.get("nodeName") or "<none>"),
             str(status.get("nominatedNodeName") or "<none>"), _readiness_gates(spec, status)]
    return cells, SUCCEEDED if phase == "Succeeded" else FAILED if phase == "Failed" else []


def _readiness_gates(spec: Obj, status: Obj) -> str:
    gates: Sequence[Obj] = _items(spec, "readinessGates")
    if not gates:
        return "<none>"
    conditions = {str(c.get("type")): c.get("status") for c in _items(status, "conditions")}
    return f"{sum(1 for g in gates if conditions.get(str(g.get('conditionType'))) == 'True')}/{len(gates)}"


POD = Printer(
    columns=(_column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
             _column("Status", "The aggregate status of the containers in this pod."),
             _column("Restarts", "The number of times the containers in this pod have been restarted and when "
                     "the last container in this pod has restarted."),
             _column("Age", AGE_DESCRIPTION),
             _column("IP", "podIP address allocated to the pod. Routable at least within the cluster.", 1),
             _column("Node", "NodeName indicates in which node this pod is scheduled.", 1),
             _column("Nominated Node", "nominatedNodeName is set only when this pod preempts other pods on "
                     "the node.", 1),
             _column("Readiness Gates", "If specified, all readiness gates will be evaluated for pod "
                     "readiness.", 1)),
    row=pod_row)

PRINTERS: dict[tuple[str, str], Printer] = {("", "nodes"): NODE, ("", "pods"): POD}


def printer_for(group: str, plural: str) -> Printer | None:
    return PRINTERS.get((group, plural))
