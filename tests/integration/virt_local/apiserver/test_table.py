"""`kubectl get nodes` and `kubectl get pods` against the embedded API server print what they print
against kube-apiserver: STATUS `Ready`/`NotReady,SchedulingDisabled`, READY `1/1`, the container's
reason as STATUS, RESTARTS, and the wide columns."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.apiserver import RunningApiServer


def rows(apiserver: RunningApiServer, *args: str) -> list[list[str]]:
    """kubectl's table, split on runs of two or more spaces (cells such as `3 (5s ago)` hold one)."""
    lines = apiserver.kubectl("get", *args).stdout.splitlines()
    return [re.split(r"\s{2,}", line.strip()) for line in lines]


def create(apiserver: RunningApiServer, obj: dict[str, Any], status: dict[str, Any]) -> None:
    apiserver.kubectl("create", "-f", "-", input=json.dumps(obj))
    kind = obj["kind"].lower()
    apiserver.kubectl("patch", kind, obj["metadata"]["name"], "--subresource=status", "--type=merge",
                      "-p", json.dumps({"status": status}))


def test_nodes_print_ready_roles_and_version(apiserver: RunningApiServer) -> None:
    info = {"kubeletVersion": "v1.31.0", "osImage": "Debian GNU/Linux 12", "kernelVersion": "6.1.0",
            "containerRuntimeVersion": "virt-local://0.1"}
    for name, ready, extra in (("node-1", "True", {}), ("node-2", "False", {"spec": {"unschedulable": True}}),
                               ("node-3", "True", {"spec": {"unschedulable": True}})):
        labels = {"node-role.kubernetes.io/worker": ""} if name == "node-1" else {}
        create(apiserver, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}, **extra},
               {"conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady"}], "nodeInfo": info,
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]})
    table = rows(apiserver, "nodes")
    assert table[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert [r[:3] + r[4:] for r in table[1:]] == [
        ["node-1", "Ready", "worker", "v1.31.0"],
        ["node-2", "NotReady,SchedulingDisabled", "<none>", "v1.31.0"],
        ["node-3", "Ready,SchedulingDisabled", "<none>", "v1.31.0"]]
    wide = rows(apiserver, "nodes", "-o", "wide")
    assert wide[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE",
                       "KERNEL-VERSION", "CONTAINER-RUNTIME"]
    assert wide[1][5:] == ["127.0.0.1", "<none>", "Debian GNU/Linux 12", "6.1.0", "virt-local://0.1"]


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "compute", "image": "quay.io/kubevirt/virt-launcher"}],
                     "nodeName": "node-1"}}


def test_pods_print_ready_status_and_restarts(apiserver: RunningApiServer) -> None:
    now = "2026-01-01T00:00:00Z"
    cases = {
        "running": ("Running", {"state": {"running": {"startedAt": now}}, "ready": True, "restartCount": 0}),
        "creating": ("Pending", {"state": {"waiting": {"reason": "ContainerCreating"}}, "ready": False,
                                 "restartCount": 0}),
        "crashing": ("Running", {"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "ready": False,
                                 "restartCount": 4,
                                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": now}}}),
        "pulling": ("Pending", {"state": {"waiting": {"reason": "ErrImagePull"}}, "ready": False, "restartCount": 0}),
        "done": ("Succeeded", {"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}, "ready": False,
                               "restartCount": 0}),
        "failed": ("Failed", {"state": {"terminated": {"exitCode": 1, "reason": "Error"}}, "ready": False,
                              "restartCount": 0}),
    }
    for name, (phase, cs) in cases.items():
        create(apiserver, pod(name), {"phase": phase, "podIP": "10.244.0.7", "podIPs": [{"ip": "10.244.0.7"}],
                                      "containerStatuses": [{"name": "compute", "image": "x", "imageID": "",
                                                             **cs}]})
    table = {r[0]: r[1:] for r in rows(apiserver, "pods")}
    assert table.pop("NAME") == ["READY", "STATUS", "RESTARTS", "AGE"]
    assert {name: cells[:2] for name, cells in table.items()} == {
        "running": ["1/1", "Running"], "creating": ["0/1", "ContainerCreating"], "crashing": ["0/1", "CrashLoopBackOff"],
        "pulling": ["0/1", "ErrImagePull"], "done": ["0/1", "Completed"], "failed": ["0/1", "Error"]}
    assert table["running"][2] == "0" and table["crashing"][2].startswith("4 (") and table["crashing"][2].endswith(" ago)")
    wide = {r[0]: r[1:] for r in rows(apiserver, "pods", "-o", "wide")}
    assert wide["NAME"] == ["READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
    assert wide["running"][4:] == ["10.244.0.7", "node-1", "<none>", "<none>"]
    # a Pod being deleted (held by a finalizer) is Terminating
    apiserver.kubectl("patch", "pod", "running", "--type=merge", "-p", '{"metadata":{"finalizers":["test/hold"]}}')
    apiserver.kubectl("delete", "pod", "running", "--wait=false")
    assert {r[0]: r[2] for r in rows(apiserver, "pods")}["running"] == "Terminating"
    apiserver.kubectl("patch", "pod", "running", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
