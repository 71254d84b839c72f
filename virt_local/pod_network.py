"""The pod network of virt-local: one loopback address per Pod.

Every Pod that is not `hostNetwork` gets its own address in `127.1.0.1`–`127.254.255.254` (all of
127.0.0.0/8 is the loopback interface on Linux, so nothing has to be configured), assigned by the API
server when the Pod is created and kept in the annotation `virt-local.kubevirt.io/pod-ip` for the Pod's
whole life (the annotation cannot be changed or removed). The pod runner reports it as `status.podIP`
and resolves the downward API's `status.podIP` to it, so two replicas that bind their Pod IP on the same
port do not collide. `hostNetwork` Pods, and Pods created before this existed, use the node's address
127.0.0.1. `127.0.*.*` is left to the host (the node address, 127.0.0.53 and friends).

`PodIpAllocator` hands addresses out in order from a cursor, skipping those of live Pods (which its
owner reports with `use`/`release`), so an address freed by a deleted Pod is reused only after the
cursor went around the whole range (16 million), and two Pods created one after the other never get
the same address even before either is stored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

POD_IP_ANNOTATION = "virt-local.kubevirt.io/pod-ip"
NODE_IP = "127.0.0.1"
FIRST = int(ipaddress.IPv4Address("127.1.0.1"))
LAST = int(ipaddress.IPv4Address("127.254.255.254"))


def pod_ip(pod: Mapping[str, Any]) -> str:
    """The Pod's address: its assigned loopback address, else the node's."""
    if ((pod.get("spec") or {}).get("hostNetwork")):
        return NODE_IP
    ip = ((pod.get("metadata") or {}).get("annotations") or {}).get(POD_IP_ANNOTATION)
    return str(ip) if ip and is_pod_address(str(ip)) else NODE_IP


def is_pod_address(ip: str) -> bool:
    try:
        value = int(ipaddress.IPv4Address(ip))
    except ValueError:
        return False
    return FIRST <= value <= LAST


class PodIpAllocator:
    """Addresses of live Pods (told with `use`/`release`) and the next one to hand out."""

    def __init__(self, start: int = FIRST) -> None:
        self._owner: dict[str, str] = {}  # ip -> pod uid
        self._cursor = start

    def use(self, ip: str, uid: str) -> None:
        if is_pod_address(ip):
            self._owner[ip] = uid
            self._cursor = max(self._cursor, int(ipaddress.IPv4Address(ip)) + 1)
            if self._cursor > LAST:
                self._cursor = FIRST

    def release(self, ip: str, uid: str) -> None:
        if self._owner.get(ip) == uid:
            del self._owner[ip]

    def owner(self, ip: str) -> str | None:
        return self._owner.get(ip)

    def allocate(self) -> str:
        """The next address no live Pod has (the caller reports it with `use` once the Pod exists)."""
        if len(self._owner) >= LAST - FIRST + 1:
            raise RuntimeError("the pod network 127.1.0.1-127.254.255.254 is full")
        while True:
            ip = str(ipaddress.IPv4Address(self._cursor))
            self._cursor = self._cursor + 1 if self._cursor < LAST else FIRST
            if ip not in self._owner:
                return ip
