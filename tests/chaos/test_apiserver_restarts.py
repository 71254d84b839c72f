"""Twenty restarts of the API server under one `virt-local up` (test hypervisor) while Pods and VMIs
are being created: every Pod must start and every VMI must run.

Each round creates two Pods and, every other round, a VMI, then stops the API server with writes in
flight (SIGKILL and SIGTERM in turn) and waits until `up` has it answering again. The nodes, the
scheduler and the KubeVirt components resume their watches across each restart; a node that misses
the binding of a Pod to it (its watch resumed from a revision the server had told it but lost)
would leave the Pod Pending, and a VMI on it would never run.
"""

from __future__ import annotations

import functools
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.conftest import ChaosLedger
from tests.support.process import processes_mentioning
from tests.support.virtlocal import VirtLocal, start_virt_local
from tests.support.wait import wait_for

RESTARTS = 20
IMAGE = "kubevirt-py/tiny-guest-kernel:latest"
POD = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: main, image: test/sleeper:v1, resources: {{requests: {{cpu: 10m, memory: 8Mi}}}}}}
"""
VMI = """
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 1
  domain:
    firmware:
      kernelBoot:
        container: {{image: kubevirt-py/tiny-guest-kernel:latest, kernelPath: /boot/vmlinuz, initrdPath: /boot/initrd.gz}}
    resources: {{requests: {{memory: 64Mi}}}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, chaos_ledger: ChaosLedger) -> Iterator[VirtLocal]:
    root = tmp_path_factory.mktemp("restarts")
    image = root / "kernel-boot"
    (image / "boot").mkdir(parents=True)
    (image / "boot" / "vmlinuz").write_bytes(b"not a kernel: the test driver boots nothing\n")
    (image / "boot" / "initrd.gz").write_bytes(b"")
    vl = start_virt_local(root / "d", "test", "--image-map", "test/sleeper=sleep infinity", "--node-cpu", "32",
                          "--node-memory", "64Gi", "--restart-backoff-max", "1")
    try:
        vl.images_import(IMAGE, image, directory=True)
        yield vl
    finally:
        left = vl.stop()
        chaos_ledger.leaked(left)
    assert not left, f"processes left behind by virt-local up: {left}"


def apiserver_pid(vl: VirtLocal) -> int | None:
    found = [pid for pid, cmd in processes_mentioning([f"apiserver --data-dir {vl.data_dir}"]).items()
             if " up " not in f" {cmd} "]
    return found[0] if len(found) == 1 else None


def create(vl: VirtLocal, manifest: str) -> None:
    """Create until the server has it: a create cut off by a restart may or may not have been made."""
    def attempt() -> bool:
        res = vl.kubectl("create", "-f", "-", input=manifest, check=False)
        return res.returncode == 0 or "AlreadyExists" in res.stderr
    wait_for(attempt, timeout=60, interval=0.5, message="the create to be answered")


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def api_answers(vl: VirtLocal) -> bool:
    return vl.kubectl("get", "--raw", "/readyz", check=False).returncode == 0


def not_started(vl: VirtLocal, kind: str, names: list[str], phase: str) -> dict[str, str]:
    items = {o["metadata"]["name"]: o for o in vl.list(kind)}
    out = {}
    for name in names:
        obj = items.get(name)
        got = ((obj or {}).get("status") or {}).get("phase") or ("<missing>" if obj is None else "<none>")
        if got != phase:
            out[name] = f"{got} on {((obj or {}).get('spec') or {}).get('nodeName') or '-'}"
    return out


@pytest.mark.timeout(600)
def test_every_pod_starts_and_every_vmi_runs_across_api_server_restarts(stack: VirtLocal,
                                                                         chaos: ChaosLedger) -> None:
    pods: list[str] = []
    vmis: list[str] = []
    for i in range(RESTARTS):
        for suffix in "ab":
            pods.append(f"p{i}{suffix}")
            create(stack, POD.format(name=pods[-1]))
        if i % 2 == 0:
            vmis.append(f"v{i}")
            create(stack, VMI.format(name=vmis[-1]))
        pid = wait_for(lambda: apiserver_pid(stack), timeout=30, message="the API server process")
        sig = signal.SIGKILL if i % 2 == 0 else signal.SIGTERM
        os.kill(pid, sig)
        chaos.fault(f"apiserver {'kill -9' if sig == signal.SIGKILL else 'SIGTERM'}")
        wait_for(functools.partial(gone, pid), timeout=30, message="the old API server process to end")
        wait_for(lambda: api_answers(stack), timeout=60, interval=0.5, message=f"the API server to answer after restart {i + 1}")
    last: dict[str, dict[str, str]] = {}

    def all_running() -> bool:
        last["pods"] = not_started(stack, "pods", pods, "Running")
        last["vmis"] = not_started(stack, "vmi", vmis, "Running")
        return not last["pods"] and not last["vmis"]
    try:
        wait_for(all_running, timeout=180, interval=1.0, message="every Pod and every VMI Running")
    except AssertionError:
        raise AssertionError(f"after {RESTARTS} restarts of the API server, not running: {last}") from None
