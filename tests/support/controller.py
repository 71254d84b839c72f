"""Layer 3 of the test stack: the real `virt-controller` over the embedded API server.

`controller_cluster(data_dir)` starts layer 1 with the KubeVirt CRDs and the `kubevirt` namespace and
yields a `Cluster`: the server, a small REST client (`Api`) that also plays the parts of the scheduler,
the pod runner and virt-handler (bind Pods, set Pod and VMI status) the way they would, and
`controller(...)` to start `virt-controller` processes (several, for leader election).
"""

from __future__ import annotations

import json
import ssl
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.apiserver import RunningApiServer, api_server
from tests.support.process import VENV_BIN, ManagedProcess, free_port
from tests.support.wait import wait_for

KV = "/apis/kubevirt.io/v1/namespaces"


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
    log: Path
    extra: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    process: ManagedProcess | None = None

    def start(self) -> None:
        self.process = ManagedProcess(
            [str(VENV_BIN / "virt-controller"), "--kubeconfig", str(self.kubeconfig), "--namespace", "kubevirt",
             "--hypervisor", "test", "--launcher-image", "kubevirt-py/virt-launcher:v0.1.0",
             "--bind-address", "127.0.0.1", "--port", str(self.port), "--identity", f"ctrl-{self.port}",
             "--lease-duration", "3", "--renew-deadline", "2", "--retry-period", "0.5", "--workers", "3",
             *self.extra], self.log).start()

    def endpoint(self, path: str) -> int | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=5).status_code
        except httpx.HTTPError:
            return None

    def is_leader(self) -> bool:
        return self.endpoint("/leader") == 200

    def stop(self) -> int | None:
        return None if self.process is None else self.process.stop(grace=10.0)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    def tail(self) -> str:
        return "" if self.process is None else self.process.tail(3000)


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


@contextmanager
def controller_cluster(data_dir: Path) -> Iterator[Cluster]:
    """Layer 1 with the KubeVirt CRDs served and the `kubevirt` namespace (no controller yet)."""
    with api_server(data_dir / "apiserver") as srv:
        srv.apply_crds()
        api = Api(srv)
        try:
            wait_for(lambda: api.http.get(f"{KV}/default/virtualmachines").status_code == 200,
                     message="the KubeVirt CRDs to be served")
            api.call("POST", "/api/v1/namespaces",
                     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubevirt"}})
            yield Cluster(srv, api, data_dir)
        finally:
            api.http.close()


@contextmanager
def leading_controller(cluster: Cluster, *extra: str) -> Iterator[ControllerProcess]:
    """A `virt-controller` that holds the lease; on exit it must stop cleanly (exit code 0)."""
    ctrl = cluster.controller(*extra)
    try:
        wait_for(ctrl.is_leader, message="virt-controller to lead")
        yield ctrl
    finally:
        code = ctrl.stop()
    assert code == 0, f"virt-controller exited {code}:\n{ctrl.tail()}"


def vm_manifest(name: str, **spec: Any) -> dict[str, Any]:
    """A small VM (one containerDisk) with the given spec fields (runStrategy, running)."""
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": name},
            "spec": {**spec, "template": {"metadata": {"labels": {"app": name}}, "spec": {
                "terminationGracePeriodSeconds": 5,
                "domain": {"devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}]},
                           "resources": {"requests": {"memory": "64Mi"}}},
                "volumes": [{"name": "root", "containerDisk": {"image": "example/cirros:0.6"}}]}}}}
