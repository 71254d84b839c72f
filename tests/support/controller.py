"""Support for virt-controller integration tests (imported by name; `conftest.py` re-exports the
fixtures): one API server with the KubeVirt CRDs per
module, the real `virt-controller` process, and a small HTTP client that also plays the parts of
the scheduler, the pod runner and virt-handler (bind Pods, set Pod and VMI status) the way they would.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.support.apiserver import VENV_BIN, RunningApiServer, free_port, start_apiserver

REPO = Path(__file__).resolve().parents[3]
KV = "/apis/kubevirt.io/v1/namespaces"
T = TypeVar("T")


def wait_for(what: str, fn: Callable[[], T | None], timeout: float = 20.0) -> T:
    """Poll `fn` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class Api:
    """Plain REST calls to the API server (admin token)."""

    def __init__(self, srv: RunningApiServer) -> None:
        self.http = httpx.Client(base_url=srv.url, verify=ssl.create_default_context(cafile=str(srv.ca_file)),
                                 headers={"Authorization": f"Bearer {srv.token}"}, timeout=30)

    def call(self, method: str, path: str, body: Any = None, ctype: str = "application/json",
             ok: tuple[int, ...] = (200, 201, 202)) -> Any:
        r = self.http.request(method, path, content=None if body is None else json.dumps(body),
                              headers={"Content-Type": ctype})
        if r.status_code not in ok:
            raise AssertionError(f"{method} {path}: {r.status_code} {r.text}")
        return r.json() if r.content else None

    def get(self, path: str) -> Any:
        r = self.http.get(path)
        return None if r.status_code == 404 else r.raise_for_status().json()

    def merge(self, path: str, patch: Any) -> Any:
        return self.call("PATCH", path, patch, "application/merge-patch+json")

    # -- kubevirt objects -----------------------------------------------------------------------

    def vm(self, ns: str, name: str) -> Any:
        return self.get(f"{KV}/{ns}/virtualmachines/{name}")

    def vmi(self, ns: str, name: str) -> Any:
        return self.get(f"{KV}/{ns}/virtualmachineinstances/{name}")

    def vmis(self, ns: str) -> list[Any]:
        return list(self.get(f"{KV}/{ns}/virtualmachineinstances")["items"])

    def launcher_pods(self, ns: str, vmi_uid: str | None = None) -> list[Any]:
        sel = "kubevirt.io=virt-launcher" + (f",kubevirt.io/created-by={vmi_uid}" if vmi_uid else "")
        return list(self.http.get(f"/api/v1/namespaces/{ns}/pods", params={"labelSelector": sel})
                    .raise_for_status().json()["items"])

    # -- playing the scheduler, pod runner and virt-handler -------------------------------------

    def bind_pod(self, ns: str, pod: str, node: str = "node01") -> None:
        self.call("POST", f"/api/v1/namespaces/{ns}/pods/{pod}/binding",
                  {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}})

    def run_pod(self, ns: str, pod: str, ready: bool = True) -> None:
        self.merge(f"/api/v1/namespaces/{ns}/pods/{pod}/status", {"status": {
            "phase": "Running",
            "conditions": [{"type": "PodScheduled", "status": "True"},
                           {"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "compute", "ready": ready, "restartCount": 0, "image": "x",
                                   "imageID": "", "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}}]}})

    def finish_pod(self, ns: str, pod: str) -> None:
        """The pod runner after the launcher exited: phase Succeeded, then the object is removed."""
        self.merge(f"/api/v1/namespaces/{ns}/pods/{pod}/status", {"status": {"phase": "Succeeded"}})
        self.call("DELETE", f"/api/v1/namespaces/{ns}/pods/{pod}", {"gracePeriodSeconds": 0}, ok=(200, 404))

    def set_vmi_phase(self, ns: str, name: str, phase: str) -> None:
        """virt-handler's write: phase plus its transition timestamp."""
        vmi = self.vmi(ns, name)
        stamps = list((vmi.get("status") or {}).get("phaseTransitionTimestamps") or [])
        stamps.append({"phase": phase, "phaseTransitionTimestamp": "2024-01-01T00:00:01Z"})
        self.merge(f"{KV}/{ns}/virtualmachineinstances/{name}",
                   {"status": {"phase": phase, "phaseTransitionTimestamps": stamps}})


@dataclass
class ControllerProcess:
    kubeconfig: Path
    log_path: Path
    extra: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "virt-controller"), "--kubeconfig", str(self.kubeconfig), "--namespace", "kubevirt",
             "--hypervisor", "test", "--launcher-image", "kubevirt-py/virt-launcher:v0.1.0",
             "--bind-address", "127.0.0.1", "--port", str(self.port), "--identity", f"ctrl-{self.port}",
             "--lease-duration", "3", "--renew-deadline", "2", "--retry-period", "0.5", "--workers", "3",
             *self.extra],
            stdout=log, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()

    def endpoint(self, path: str) -> int | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=2).status_code
        except httpx.HTTPError:
            return None

    def is_leader(self) -> bool:
        return self.endpoint("/leader") == 200

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Cluster:
    srv: RunningApiServer
    api: Api
    data_dir: Path

    def namespace(self) -> str:
        ns = f"t-{uuid.uuid4().hex[:8]}"
        self.api.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        return ns

    def controller(self, *extra: str) -> ControllerProcess:
        ctrl = ControllerProcess(self.srv.kubeconfig, self.data_dir / f"virt-controller-{uuid.uuid4().hex[:6]}.log",
                                 list(extra))
        ctrl.start()
        return ctrl


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    data_dir = tmp_path_factory.mktemp("ctrl")
    srv = start_apiserver(data_dir / "apiserver")
    try:
        srv.kubectl("apply", "-f", str(REPO / "manifests" / "crds"))
        api = Api(srv)
        wait_for("the KubeVirt CRDs to be served",
                 lambda: api.http.get(f"{KV}/default/virtualmachines").status_code == 200)
        api.call("POST", "/api/v1/namespaces",
                 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubevirt"}})
        yield Cluster(srv, api, data_dir)
        api.http.close()
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def controller(cluster: Cluster) -> Iterator[ControllerProcess]:
    ctrl = cluster.controller()
    try:
        wait_for("virt-controller to lead", ctrl.is_leader)
        yield ctrl
    finally:
        ctrl.stop()
        assert ctrl.proc is not None and ctrl.proc.returncode == 0, ctrl.log_path.read_text()[-3000:]


def vm_manifest(name: str, **spec: Any) -> dict[str, Any]:
    """A small VM (one containerDisk) with the given spec fields (runStrategy, running)."""
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": name},
            "spec": {**spec, "template": {"metadata": {"labels": {"app": name}}, "spec": {
                "terminationGracePeriodSeconds": 5,
                "domain": {"devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}]},
                           "resources": {"requests": {"memory": "64Mi"}}},
                "volumes": [{"name": "root", "containerDisk": {"image": "example/cirros:0.6"}}]}}}}
