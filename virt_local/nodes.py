"""Simulated nodes: the Node objects of virt-local and their heartbeat.

`render_node` is pure: a Node named `node-<i>` with the machine's CPU and memory as capacity (every
node reports the whole machine), 110 pods, the KubeVirt device resources a device plugin would
advertise, InternalIP 127.0.0.1 and a Hostname address, and a Ready condition. `NodeAgent` creates or
refreshes the Node at start, renews its Lease in `kube-node-lease` every 10 s (the kubelet's
heartbeat) and posts the Ready condition again every minute; on a clean stop it marks the node
`Ready=Unknown` as the node lifecycle controller would once the heartbeats stop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from virt_client.api.times import now_rfc3339, now_rfc3339_micro
from virt_client.errors import AlreadyExists, ApiError, NotFound, TransportError
from virt_client.kube import KubeClient
from virt_client.resources import LEASES, NODES

log = logging.getLogger("virt_local.nodes")

LEASE_SECONDS = 40
RENEW_SECONDS = 10.0
STATUS_SECONDS = 60.0
KUBELET_VERSION = "v1.30.0-virt-local"
DEVICE_RESOURCES = ("devices.kubevirt.io/kvm", "devices.kubevirt.io/tun", "devices.kubevirt.io/vhost-net")


def node_name(index: int) -> str:
    return f"node-{index}"


@dataclass(frozen=True)
class NodeCapacity:
    cpu: int
    memory_bytes: int
    pods: int = 110

    @classmethod
    def of_machine(cls) -> NodeCapacity:
        return cls(cpu=os.cpu_count() or 1, memory_bytes=os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))

    def as_resources(self) -> dict[str, str]:
        out = {"cpu": str(self.cpu), "memory": f"{self.memory_bytes // 1024}Ki", "pods": str(self.pods),
               "ephemeral-storage": "100Gi"}
        out.update({r: "1k" for r in DEVICE_RESOURCES})
        return out


def ready_condition(status: str, reason: str, message: str, transition: str | None = None) -> dict[str, Any]:
    now = now_rfc3339()
    return {"type": "Ready", "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": now, "lastTransitionTime": transition or now}


def render_status(name: str, capacity: NodeCapacity, ready: dict[str, Any]) -> dict[str, Any]:
    res = capacity.as_resources()
    now = now_rfc3339()
    pressure = [{"type": t, "status": "False", "reason": r, "message": m, "lastHeartbeatTime": now,
                 "lastTransitionTime": ready["lastTransitionTime"]}
                for t, r, m in (("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory"),
                                ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                                ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID"))]
    return {
        "capacity": res, "allocatable": dict(res),
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": name}],
        "conditions": [*pressure, ready],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
        "nodeInfo": {"architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(),
                                                                                    platform.machine()),
                     "operatingSystem": "linux", "osImage": "virt-local", "kernelVersion": platform.release(),
                     "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
                     "containerRuntimeVersion": "virt-local://0.1.0",
                     "machineID": "", "systemUUID": "", "bootID": ""},
    }


def render_node(name: str, capacity: NodeCapacity, root: Path) -> dict[str, Any]:
    arch = render_status(name, capacity, ready_condition("True", "KubeletReady", ""))["nodeInfo"]["architecture"]
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name,
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                "kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux",
                                "beta.kubernetes.io/arch": arch, "node-role.kubernetes.io/worker": ""},
                     "annotations": {"virt-local.kubevirt.io/root": str(root)}},
        "spec": {},
    }


def _ready_of(node: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return next((c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None)


class NodeAgent:
    """Registers one node and keeps its heartbeat."""

    def __init__(self, client: KubeClient, *, name: str, root: Path, capacity: NodeCapacity) -> None:
        self.client = client
        self.name = name
        self.root = root
        self.capacity = capacity
        self._transition: str | None = None

    async def register(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            await self.client.create(NODES, render_node(self.name, self.capacity, self.root))
            log.info("registered node %s (root %s)", self.name, self.root)
        except AlreadyExists:
            pass
        await self.post_status("True", "KubeletReady", "kubelet is posting ready status")
        await self.renew_lease()

    async def post_status(self, status: str, reason: str, message: str) -> None:
        node = await self.client.get(NODES, self.name)
        cur = _ready_of(node)
        transition = (cur or {}).get("lastTransitionTime") if (cur or {}).get("status") == status else None
        ready = ready_condition(status, reason, message, transition)
        node["status"] = render_status(self.name, self.capacity, ready)
        await self.client.update_status(NODES, node)

    async def renew_lease(self) -> None:
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": self.name, "leaseDurationSeconds": LEASE_SECONDS,
                         "renewTime": now_rfc3339_micro()}}
        try:
            await self.client.patch(LEASES, self.name, {"spec": body["spec"]}, "kube-node-lease")
        except NotFound:
            await self.client.create(LEASES, body, "kube-node-lease")

    async def run(self) -> None:
        """Heartbeat until cancelled (register first)."""
        last_status = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            try:
                await self.renew_lease()
                if asyncio.get_running_loop().time() - last_status >= STATUS_SECONDS:
                    await self.post_status("True", "KubeletReady", "kubelet is posting ready status")
                    last_status = asyncio.get_running_loop().time()
            except (ApiError, TransportError) as e:
                log.warning("node %s heartbeat failed: %s", self.name, e)

    async def mark_stopped(self) -> None:
        try:
            await self.post_status("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
        except (ApiError, TransportError) as e:
            log.warning("node %s: could not mark it stopped: %s", self.name, e)
