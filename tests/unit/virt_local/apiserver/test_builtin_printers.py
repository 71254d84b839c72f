"""Node and Pod table cells as kube-apiserver prints them (`printNode`, `printPod`)."""

from __future__ import annotations

from typing import Any

import pytest

from virt_local.apiserver.builtin_printers import NODE, POD, node_row, pod_row


def age(value: Any) -> str:
    return f"age({value})" if value else "<unknown>"


def node(*, ready: str | None = "True", unschedulable: bool = False, labels: dict[str, str] | None = None,
         **status: Any) -> dict[str, Any]:
    conditions = [{"type": "MemoryPressure", "status": "False"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready})
    return {"metadata": {"name": "node-1", "creationTimestamp": "T0", "labels": labels or {}},
            "spec": {"unschedulable": unschedulable}, "status": {"conditions": conditions, **status}}


@pytest.mark.parametrize(("obj", "status", "roles"), [
    (node(), "Ready", "<none>"),
    (node(ready="False"), "NotReady", "<none>"),
    (node(ready="Unknown"), "NotReady", "<none>"),
    (node(ready=None), "Unknown", "<none>"),
    (node(unschedulable=True), "Ready,SchedulingDisabled", "<none>"),
    (node(ready="False", unschedulable=True), "NotReady,SchedulingDisabled", "<none>"),
    (node(labels={"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/control-plane": "",
                  "node-role.kubernetes.io/": "x", "kubernetes.io/role": "infra"}), "Ready",
     "control-plane,infra,worker"),
], ids=["ready", "not-ready", "unknown-status", "no-condition", "cordoned", "not-ready-cordoned", "roles"])
def test_node_status_and_roles(obj: dict[str, Any], status: str, roles: str) -> None:
    cells, conditions = node_row(obj, age)
    assert cells[:3] == [status, roles, "age(T0)"] and conditions == []


def test_node_wide_cells() -> None:
    obj = node(addresses=[{"type": "Hostname", "address": "node-1"}, {"type": "InternalIP", "address": "10.0.0.2"}],
               nodeInfo={"kubeletVersion": "v1.31.0", "osImage": "Debian GNU/Linux 12", "kernelVersion": "6.1.0",
                         "containerRuntimeVersion": "virt-local://0.1"})
    assert node_row(obj, age)[0] == ["Ready", "<none>", "age(T0)", "v1.31.0", "10.0.0.2", "<none>",
                                     "Debian GNU/Linux 12", "6.1.0", "virt-local://0.1"]
    assert node_row(node(), age)[0][3:] == ["", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"]
    assert [c["name"] for c in NODE.columns if c["priority"] == 0] == ["Status", "Roles", "Age", "Version"]


def container(state: dict[str, Any], *, ready: bool = False, restarts: int = 0, finished: str = "",
              name: str = "compute") -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "state": state, "ready": ready, "restartCount": restarts}
    if finished:
        out["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": finished}}
    return out


RUNNING = {"running": {"startedAt": "T1"}}


def pod(phase: str, statuses: list[dict[str, Any]] | None = None, *, containers: int = 1, deleting: bool = False,
        reason: str = "", init: list[dict[str, Any]] | None = None, init_statuses: list[dict[str, Any]] | None = None,
        conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": "virt-launcher-vm-abcde", "creationTimestamp": "T0"}
    if deleting:
        md["deletionTimestamp"] = "T9"
    status: dict[str, Any] = {"phase": phase, "containerStatuses": statuses or [], "conditions": conditions or []}
    if reason:
        status["reason"] = reason
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    spec: dict[str, Any] = {"containers": [{"name": f"c{i}"} for i in range(containers)]}
    if init is not None:
        spec["initContainers"] = init
    return {"metadata": md, "spec": spec, "status": status}


@pytest.mark.parametrize(("obj", "ready", "status", "restarts"), [
    (pod("Running", [container(RUNNING, ready=True)]), "1/1", "Running", "0"),
    (pod("Running", [container(RUNNING, ready=False)]), "0/1", "Running", "0"),
    (pod("Pending"), "0/1", "Pending", "0"),
    (pod("Pending", [container({"waiting": {"reason": "ContainerCreating"}})]), "0/1", "ContainerCreating", "0"),
    (pod("Pending", [container({"waiting": {"reason": "ErrImagePull", "message": "not found"}})]), "0/1",
     "ErrImagePull", "0"),
    (pod("Running", [container({"waiting": {"reason": "CrashLoopBackOff"}}, restarts=3, finished="T5")]), "0/1",
     "CrashLoopBackOff", "3 (age(T5) ago)"),
    (pod("Succeeded", [container({"terminated": {"exitCode": 0, "reason": "Completed"}})]), "0/1", "Completed",
     "0"),
    (pod("Failed", [container({"terminated": {"exitCode": 1, "reason": "Error"}})]), "0/1", "Error", "0"),
    (pod("Failed", [container({"terminated": {"exitCode": 3}})]), "0/1", "ExitCode:3", "0"),
    (pod("Failed", [container({"terminated": {"exitCode": 137, "signal": 9}})]), "0/1", "Signal:9", "0"),
    (pod("Running", [container(RUNNING, ready=True)], deleting=True), "1/1", "Terminating", "0"),
    (pod("Succeeded", [container({"terminated": {"exitCode": 0, "reason": "Completed"}})], deleting=True), "0/1",
     "Completed", "0"),
    (pod("Failed", reason="Evicted"), "0/1", "Evicted", "0"),
    (pod("Running", [container(RUNNING, ready=True, name="a"),
                     container({"terminated": {"exitCode": 0, "reason": "Completed"}}, name="b")], containers=2,
         conditions=[{"type": "Ready", "status": "True"}]), "1/2", "Running", "0"),
    (pod("Running", [container(RUNNING, ready=True, name="a"),
                     container({"terminated": {"exitCode": 0, "reason": "Completed"}}, name="b")], containers=2),
     "1/2", "NotReady", "0"),
    (pod("Running", [container(RUNNING, ready=True, restarts=1, finished="T3", name="a"),
                     container(RUNNING, ready=True, restarts=2, finished="T4", name="b")], containers=2), "2/2",
     "Running", "3 (age(T4) ago)"),
    (pod("Pending", init=[{"name": "i1"}, {"name": "i2"}],
         init_statuses=[container({"terminated": {"exitCode": 0}}, name="i1"),
                        container({"running": {}}, name="i2")]), "0/1", "Init:1/2", "0"),
    (pod("Pending", init=[{"name": "i1"}],
         init_statuses=[container({"waiting": {"reason": "ErrImagePull"}}, name="i1")]), "0/1", "Init:ErrImagePull",
     "0"),
    (pod("Pending", init=[{"name": "i1"}],
         init_statuses=[container({"terminated": {"exitCode": 2, "reason": "Error"}}, restarts=1, finished="T2",
                                  name="i1")]), "0/1", "Init:Error", "1 (age(T2) ago)"),
    (pod("Running", [container(RUNNING, ready=True)], init=[{"name": "proxy", "restartPolicy": "Always"}],
         init_statuses=[container(RUNNING, ready=True, name="proxy") | {"started": True}]), "2/2", "Running", "0"),
    (pod("Pending", conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]), "0/1",
     "SchedulingGated", "0"),
], ids=["running", "running-not-ready", "pending", "container-creating", "err-image-pull", "crash-loop",
        "completed", "error", "exit-code", "signal", "terminating", "deleting-finished", "evicted",
        "sidecar-done-ready", "sidecar-done-not-ready", "restarts-summed", "init-progress", "init-waiting",
        "init-failed", "native-sidecar", "scheduling-gated"])
def test_pod_ready_status_restarts(obj: dict[str, Any], ready: str, status: str, restarts: str) -> None:
    cells, _ = pod_row(obj, age)
    assert cells[:4] == [ready, status, restarts, "age(T0)"]


def test_pod_wide_cells_and_row_conditions() -> None:
    obj = pod("Succeeded")
    obj["spec"]["nodeName"] = "node-1"
    obj["spec"]["readinessGates"] = [{"conditionType": "a"}, {"conditionType": "b"}]
    obj["status"].update(podIPs=[{"ip": "10.244.1.5"}], conditions=[{"type": "a", "status": "True"}])
    cells, conditions = pod_row(obj, age)
    assert cells[4:] == ["10.244.1.5", "node-1", "<none>", "1/2"]
    assert conditions == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                           "message": "The pod has completed successfully."}]
    assert pod_row(pod("Pending"), age)[0][4:] == ["<none>", "<none>", "<none>", "<none>"]
    assert pod_row(pod("Failed"), age)[1][0]["reason"] == "Failed"
    assert [c["name"] for c in POD.columns if c["priority"] == 0] == ["Ready", "Status", "Restarts", "Age"]
