"""`virt-local up --no-kubevirt` as a real process, driven with kubectl: scheduling (fit and
Unschedulable), running Pods with their environment and volumes, `kubectl logs`, unknown images,
graceful deletion, PVCs from the local provisioner, images imported while it runs, and a clean stop."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.virtlocal import VirtLocal, virt_local_up
from tests.support.wait import wait_for


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtLocal]:
    data_dir = tmp_path_factory.mktemp("virt-local") / "data"
    with virt_local_up(data_dir, "test", "--no-kubevirt", "--image-map", "test/sleeper=sleep infinity",
                         "--node-cpu", "3", "--node-memory", "6Gi", "--max-pods", "50", stop_seconds=60) as s:
        yield s


def apply(stack: VirtLocal, manifest: str) -> None:
    stack.kubectl("apply", "-f", "-", input=manifest)


def phase(stack: VirtLocal, name: str) -> str:
    pod = stack.get("pod", name)
    return str(((pod or {}).get("status") or {}).get("phase") or "")


def test_node_is_registered_ready_with_capacity(stack: VirtLocal) -> None:
    node = wait_for(lambda: stack.get("node", "node-1"), message="node-1")
    status = node["status"]
    assert (status["capacity"]["cpu"], status["capacity"]["memory"], status["capacity"]["pods"]) == (
        "3", f"{6 * 1024 * 1024}Ki", "50")
    assert {"type": "InternalIP", "address": "127.0.0.1"} in status["addresses"]
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in status["conditions"])
    lease = json.loads(stack.kubectl("get", "lease", "-n", "kube-node-lease", "node-1", "-o", "json").stdout)
    assert lease["spec"]["holderIdentity"] == "node-1"


def test_pod_that_fits_is_scheduled_and_runs_with_its_environment(stack: VirtLocal) -> None:
    apply(stack, """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hello}
---
apiVersion: v1
kind: Pod
metadata: {name: fits, labels: {app: demo}}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: test/sleeper:v1
    command: [sh, -c]
    args: ["echo name=$(POD_NAME) node=$NODE ip=$IP app=$APP; cat /cfg/greeting; echo; touch /scratch/ok && echo scratch-ok"]
    env:
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: APP, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}}
    resources: {requests: {cpu: 100m, memory: 16Mi}}
    volumeMounts:
    - {name: cfg, mountPath: /cfg}
    - {name: scratch, mountPath: /scratch}
  volumes:
  - {name: cfg, configMap: {name: settings}}
  - {name: scratch, emptyDir: {}}
""")
    wait_for(lambda: phase(stack, "fits") == "Succeeded", message="fits to succeed")
    pod = stack.get("pod", "fits")
    assert pod is not None
    assert pod["spec"]["nodeName"] == "node-1"
    ip = pod["status"]["podIP"]
    assert ip.startswith("127.") and ip != "127.0.0.1", "each Pod has its own loopback address"
    assert pod["status"]["hostIP"] == "127.0.0.1"
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (0, "Completed")
    logs = stack.kubectl("logs", "fits").stdout
    assert f"name=fits node=node-1 ip={ip} app=demo" in logs
    assert "hello" in logs and "scratch-ok" in logs


def test_pod_that_does_not_fit_is_unschedulable_with_a_message(stack: VirtLocal) -> None:
    apply(stack, """
apiVersion: v1
kind: Pod
metadata: {name: too-big}
spec:
  containers: [{name: main, image: test/sleeper, resources: {requests: {memory: 7Gi}}}]
""")

    def condition() -> dict[str, Any] | None:
        pod = stack.get("pod", "too-big") or {}
        return next((c for c in (pod.get("status") or {}).get("conditions") or []
                     if c["type"] == "PodScheduled" and c["status"] == "False"), None)
    cond = wait_for(condition, message="PodScheduled=False")
    assert cond["reason"] == "Unschedulable"
    assert cond["message"] == "0/1 nodes are available: 1 Insufficient memory."
    assert not (stack.get("pod", "too-big") or {})["spec"].get("nodeName")
    stack.kubectl("delete", "pod", "too-big", "--wait=false")


def test_unknown_image_fails_with_err_image_pull(stack: VirtLocal) -> None:
    apply(stack, """
apiVersion: v1
kind: Pod
metadata: {name: unknown-image}
spec:
  containers: [{name: main, image: quay.io/nobody/nothing:1}]
""")

    def waiting() -> dict[str, Any] | None:
        pod = stack.get("pod", "unknown-image") or {}
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        return statuses[0]["state"].get("waiting") if statuses else None
    state = wait_for(lambda: (w := waiting()) and w.get("reason") == "ErrImagePull" and w, message="a waiting container")
    assert "quay.io/nobody/nothing:1" in state["message"]
    assert phase(stack, "unknown-image") == "Pending"
    stack.kubectl("delete", "pod", "unknown-image", "--wait=false")


def test_graceful_deletion_sigterm_then_sigkill_then_removal(stack: VirtLocal) -> None:
    apply(stack, """
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 20
  containers:
  - name: main
    image: test/sleeper
    command: [sh, -c, "trap 'echo got-TERM' TERM; echo started; while true; do sleep 0.2; done"]
""")
    wait_for(lambda: phase(stack, "stubborn") == "Running", message="stubborn running")
    wait_for(lambda: "started" in stack.kubectl("logs", "stubborn", check=False).stdout, message="first log line")
    pod = stack.get("pod", "stubborn")
    assert pod is not None
    pid = int(pod["status"]["containerStatuses"][0]["containerID"].rsplit("/", 1)[1])
    stack.kubectl("delete", "pod", "stubborn", "--wait=false")
    # SIGTERM first: the container says so while the Pod still exists, marked for deletion (the grace
    # period is long enough for the next kubectl to see it even on a loaded machine).
    wait_for(lambda: "got-TERM" in stack.kubectl("logs", "stubborn", check=False).stdout, message="got-TERM in the log")
    terminating = stack.get("pod", "stubborn")
    assert terminating is not None and terminating["metadata"].get("deletionTimestamp")
    # Then SIGKILL after the grace period, then the Pod object goes away.
    wait_for(lambda: stack.get("pod", "stubborn") is None, timeout=90, message="the Pod to be gone")
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_pvc_is_bound_and_usable(stack: VirtLocal) -> None:
    apply(stack, """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: uses-pvc}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: test/sleeper
    command: [sh, -c, "ls -l /pvc/disk.img && echo written > /pvc/hello"]
    volumeMounts: [{name: data, mountPath: /pvc}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
""")
    pvc = wait_for(lambda: (p := stack.get("pvc", "data")) and
                   p["status"].get("phase") == "Bound" and p, message="the claim to bind")
    pv = stack.get("pv", pvc["spec"]["volumeName"])
    assert pv is not None and pv["status"]["phase"] == "Bound"
    assert pv["spec"]["claimRef"]["name"] == "data"
    assert pvc["status"]["capacity"]["storage"] == "64Mi"
    directory = Path(pv["spec"]["local"]["path"])
    assert directory.parent == stack.data_dir / "volumes"
    assert (directory / "disk.img").stat().st_size == 64 * 2**20
    wait_for(lambda: phase(stack, "uses-pvc") == "Succeeded", message="uses-pvc to succeed")
    assert (directory / "hello").read_text() == "written\n"
    assert str(64 * 2**20) in stack.kubectl("logs", "uses-pvc").stdout


def test_imported_container_disk_is_mounted_read_only(stack: VirtLocal, tmp_path: Path) -> None:
    disk = tmp_path / "tiny.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    res = stack.virt_local("images", "import", "example/tiny-disk:v1", str(disk), "--data-dir", str(stack.data_dir))
    assert res.returncode == 0, res.stderr
    listed = stack.virt_local("images", "list", "--data-dir", str(stack.data_dir)).stdout
    assert "example/tiny-disk:v1" in listed
    apply(stack, """
apiVersion: v1
kind: Pod
metadata: {name: uses-image}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: test/sleeper
    command: [sh, -c, "ls /var/run/kubevirt/container-disks/disk0/disk; touch /var/run/kubevirt/container-disks/disk0/x 2>/dev/null || echo read-only"]
    volumeMounts: [{name: disk0, mountPath: /var/run/kubevirt/container-disks/disk0, readOnly: true}]
  volumes: [{name: disk0, image: {reference: "example/tiny-disk:v1", pullPolicy: IfNotPresent}}]
""")
    wait_for(lambda: phase(stack, "uses-image") == "Succeeded", message="uses-image to succeed")
    logs = stack.kubectl("logs", "uses-image").stdout
    assert "tiny.qcow2" in logs and "read-only" in logs
    unpacked = list((stack.data_dir / "images" / "unpacked").iterdir())
    assert any((d / "disk" / "tiny.qcow2").is_file() for d in unpacked)
    # The node root's /var/run/kubevirt on the host is untouched: the mount lived in the container only.
    assert not (stack.data_dir / "nodes" / "node-1" / "root" / "var" / "run" / "kubevirt" / "container-disks" /
                "disk0" / "x").exists()


def test_stop_leaves_no_process_behind(stack: VirtLocal) -> None:
    apply(stack, """
apiVersion: v1
kind: Pod
metadata: {name: long-running}
spec:
  containers: [{name: main, image: test/sleeper}]
""")
    wait_for(lambda: phase(stack, "long-running") == "Running", message="long-running")
    pod = stack.get("pod", "long-running")
    assert pod is not None
    pid = int(pod["status"]["containerStatuses"][0]["containerID"].rsplit("/", 1)[1])
    children = subprocess.run(["pgrep", "-P", str(stack.pid)], capture_output=True, text=True).stdout.split()
    assert stack.process.stop(signal.SIGINT, grace=60) == 0
    for p in [pid, *map(int, children)]:
        assert not Path(f"/proc/{p}").exists(), f"process {p} outlived virt-local up"
