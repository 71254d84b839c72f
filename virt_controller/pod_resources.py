"""Resource requests of a launcher Pod: guest memory plus the launcher's own overhead.

Pure. The overhead formula is documented in docs/controller.md; keep the two in step.

Overhead (bytes, rounded up to a whole MiB):
- always: virt-launcher 35 MiB + its private libvirt daemon 30 MiB;
- kvm and emulation (a QEMU process exists): QEMU 50 MiB + guest memory / 512 (page tables)
  + 8 MiB per vCPU + 8 MiB for the IO thread + 32 MiB video unless
  `autoattachGraphicsDevice: false`;
- emulation only: 64 MiB for TCG's translation cache as it fills;
- plus `spec.domain.memory.reservedOverhead.addedOverhead` when given.
`test` runs no QEMU, so only the launcher and its daemon count.

Memory request = `resources.requests.memory`, else `resources.limits.memory`, else the guest
memory; the overhead is added unless `resources.overcommitGuestOverhead` is true. A memory limit
gets the overhead added always. CPU request = `resources.requests.cpu`, else vCPUs / 10 (100m per
vCPU, upstream's default `cpuAllocationRatio`).
"""

from __future__ import annotations

import math
from typing import Any

from virt_client.api.quantity import Quantity
from virt_client.api.views import DomainSpecView, MemoryView, View
from virt_controller.settings import Hypervisor

MI = 1 << 20
LAUNCHER_OVERHEAD = 35 * MI
DAEMON_OVERHEAD = 30 * MI
QEMU_OVERHEAD = 50 * MI
PER_VCPU_OVERHEAD = 8 * MI
IOTHREAD_OVERHEAD = 8 * MI
VIDEO_OVERHEAD = 32 * MI
TCG_OVERHEAD = 64 * MI
CPU_ALLOCATION_RATIO = 10
KVM_DEVICE = "devices.kubevirt.io/kvm"

QuantityValue = str | int | float


class _ReservedOverheadView(View):
    __slots__ = ()

    @property
    def added_overhead(self) -> QuantityValue | None:
        value = self.raw.get("addedOverhead")
        return value if isinstance(value, str | int | float) and not isinstance(value, bool) else None


def _added_overhead(domain: DomainSpecView) -> QuantityValue | None:
    memory: MemoryView = domain.memory
    return _ReservedOverheadView(memory.raw.get("reservedOverhead")).added_overhead


def vcpus(domain: DomainSpecView) -> int:
    """sockets × cores × threads (each defaulting to 1)."""
    cpu = domain.cpu
    return (cpu.sockets or 1) * (cpu.cores or 1) * (cpu.threads or 1)


def guest_memory(domain: DomainSpecView) -> int:
    """Guest RAM in bytes: memory.guest, else the memory request, else the limit, else 0."""
    resources = domain.resources
    for value in (domain.memory.guest, resources.requests.get("memory"), resources.limits.get("memory")):
        if value is not None:
            return Quantity.parse(value).to_bytes()
    return 0


def memory_overhead(domain: DomainSpecView, hypervisor: Hypervisor) -> int:
    """The launcher Pod's memory on top of guest RAM, in bytes (a whole number of MiB)."""
    total = LAUNCHER_OVERHEAD + DAEMON_OVERHEAD
    if hypervisor is not Hypervisor.TEST:
        total += QEMU_OVERHEAD + guest_memory(domain) // 512 + PER_VCPU_OVERHEAD * vcpus(domain)
        total += IOTHREAD_OVERHEAD
        if domain.devices.autoattach_graphics_device is not False:
            total += VIDEO_OVERHEAD
        if hypervisor is Hypervisor.EMULATION:
            total += TCG_OVERHEAD
    added = _added_overhead(domain)
    if added is not None:
        total += Quantity.parse(added).to_bytes()
    return math.ceil(total / MI) * MI


def compute_resources(domain: DomainSpecView, hypervisor: Hypervisor) -> dict[str, Any]:
    """The `resources` of the launcher's compute container."""
    res = domain.resources
    requests_in = res.requests
    limits_in = res.limits
    overhead = memory_overhead(domain, hypervisor)
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}

    if "cpu" in requests_in:
        requests["cpu"] = str(Quantity.from_millis(Quantity.parse(requests_in["cpu"]).to_millis()))
    else:
        requests["cpu"] = str(Quantity.from_millis(math.ceil(vcpus(domain) * 1000 / CPU_ALLOCATION_RATIO)))
    if "cpu" in limits_in:
        limits["cpu"] = str(Quantity.from_millis(Quantity.parse(limits_in["cpu"]).to_millis()))

    if "memory" in requests_in:
        memory = Quantity.parse(requests_in["memory"]).to_bytes()
    elif "memory" in limits_in:
        memory = Quantity.parse(limits_in["memory"]).to_bytes()
    else:
        memory = guest_memory(domain)
    if not res.overcommit_guest_overhead:
        memory += overhead
    requests["memory"] = str(Quantity.from_bytes(memory))
    if "memory" in limits_in:
        limits["memory"] = str(Quantity.from_bytes(Quantity.parse(limits_in["memory"]).to_bytes() + overhead))

    if hypervisor is Hypervisor.KVM:
        limits[KVM_DEVICE] = "1"
        requests[KVM_DEVICE] = "1"
    out: dict[str, Any] = {"requests": requests}
    if limits:
        out["limits"] = limits
    return out
