"""The node side: heartbeat, schedulable and capability labels, and the device resources the scheduler counts.

Every `heartbeat_interval` (with ±10 % jitter) the handler merge-patches its Node (created by the
cluster or by virt-local; the handler never creates it):
- annotation `kubevirt.io/heartbeat` = now (RFC 3339), label `kubevirt.io/schedulable` = "true" while
  healthy, "false" when unhealthy and when the handler stops (launcher Pods nodeSelect on "true");
- capability labels: `node.kubevirt.io/hypervisor` = kvm|emulation|test (the handler's setting) and
  `node.kubevirt.io/kvm` = whether KVM can run guests here (mode kvm and /dev/kvm usable);
- status capacity/allocatable for the device resources launcher Pods request (`devices.kubevirt.io/kvm`
  only where KVM works or in test mode, `tun`, `vhost-net`, `vhost-vsock` always), as the device
  plugins do upstream; written on the `status` subresource, and only when they differ.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Callable, Mapping

from virt_client.api.constants import HEARTBEAT_ANNOTATION, SCHEDULABLE_NODE_LABEL
from virt_client.api.times import rfc3339
from virt_client.api.views import NodeView
from virt_client.clock import Clock
from virt_client.errors import ApiError, TransportError
from virt_client.kube_api import KubeApi
from virt_client.resources import NODES
from virt_handler.settings import HandlerSettings, Hypervisor

log = logging.getLogger(__name__)

HYPERVISOR_LABEL = "node.kubevirt.io/hypervisor"
KVM_LABEL = "node.kubevirt.io/kvm"
DEVICE_KVM = "devices.kubevirt.io/kvm"
DEVICE_TUN = "devices.kubevirt.io/tun"
DEVICE_VHOST_NET = "devices.kubevirt.io/vhost-net"
DEVICE_VHOST_VSOCK = "devices.kubevirt.io/vhost-vsock"


def kvm_device_usable(path: str = "/dev/kvm") -> bool:
    return os.access(path, os.R_OK | os.W_OK)


def node_labels(hypervisor: Hypervisor, *, kvm_works: bool, schedulable: bool) -> dict[str, str]:
    """The labels the handler owns on its Node."""
    return {
        SCHEDULABLE_NODE_LABEL: "true" if schedulable else "false",
        HYPERVISOR_LABEL: str(hypervisor),
        KVM_LABEL: "true" if hypervisor is Hypervisor.KVM and kvm_works else "false",
    }


def device_resources(hypervisor: Hypervisor, *, kvm_works: bool, capacity: int) -> dict[str, str]:
    """Device-plugin resources this node offers to launcher Pods."""
    kvm = capacity if hypervisor is Hypervisor.TEST or (hypervisor is Hypervisor.KVM and kvm_works) else 0
    return {DEVICE_KVM: str(kvm), DEVICE_TUN: str(capacity), DEVICE_VHOST_NET: str(capacity),
            DEVICE_VHOST_VSOCK: str(capacity)}


def resources_differ(node: Mapping[str, object], wanted: Mapping[str, str]) -> bool:
    status = NodeView(node).status
    return any(resources.get(name) != value
               for resources in (status.capacity, status.allocatable) for name, value in wanted.items())


class NodeAgent:
    def __init__(self, settings: HandlerSettings, client: KubeApi, clock: Clock,
                 healthy: Callable[[], bool], kvm_works: bool | None = None) -> None:
        self.settings = settings
        self.client = client
        self.clock = clock
        self.healthy = healthy
        self.kvm_works = kvm_device_usable() if kvm_works is None else kvm_works
        self.last_heartbeat: float | None = None

    async def heartbeat(self, *, schedulable: bool | None = None) -> None:
        """One heartbeat: labels, annotation, and device resources when they drifted."""
        s = self.settings
        ok = self.healthy() if schedulable is None else schedulable
        labels = node_labels(s.hypervisor, kvm_works=self.kvm_works, schedulable=ok)
        now = rfc3339(self.clock.now())
        node = await self.client.patch(NODES, s.node_name, {"metadata": {
            "labels": labels, "annotations": {HEARTBEAT_ANNOTATION: now}}})
        wanted = device_resources(s.hypervisor, kvm_works=self.kvm_works, capacity=s.device_capacity)
        if resources_differ(node, wanted):
            await self.client.patch(NODES, s.node_name, {"status": {"capacity": wanted, "allocatable": wanted}},
                                    subresource="status")
        self.last_heartbeat = self.clock.monotonic()

    async def run(self) -> None:
        """Heartbeat until cancelled; failures are logged and retried at the next beat (or sooner)."""
        while True:
            interval = self.settings.heartbeat_interval
            try:
                await self.heartbeat()
            except (ApiError, TransportError) as exc:
                log.warning("node %s: heartbeat failed: %s", self.settings.node_name, exc)
                interval = min(interval, 5.0)
            await self.clock.sleep(interval * random.uniform(0.9, 1.1))

    async def mark_unschedulable(self, deadline_seconds: float = 5.0) -> None:
        """Best effort on the way out: no new launcher Pods for this node."""
        try:
            async with asyncio.timeout(deadline_seconds):
                await self.heartbeat(schedulable=False)
        except (ApiError, TransportError, TimeoutError) as exc:
            log.warning("node %s: could not mark it unschedulable: %s", self.settings.node_name, exc)
