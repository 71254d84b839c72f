"""The VMI domain spec: resources, CPU, memory, machine, firmware, features and clock.

Mirrors upstream ``DomainSpec`` (kubevirt.io/api/core/v1 schema.go). Devices live in
:mod:`virt_client.api.devices`. Parts we model only as opaque objects (hyperv flags, NUMA,
launch security, timers) are kept verbatim so the admission webhook can name them.

Invariant: field names and nesting match upstream exactly; Python defaults are ``None`` so an
unset field is never dumped.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from virt_client.api.constants import IOThreadsPolicy, PullPolicy, RebootPolicy
from virt_client.api.devices import Devices
from virt_client.api.fields import FreeForm, Int32, Quantity, ResourceList, UInt32
from virt_client.api.meta import KubeModel


class ResourceRequirements(KubeModel):
    requests: ResourceList | None = None
    limits: ResourceList | None = None
    overcommit_guest_overhead: bool | None = None


class CPUFeature(KubeModel):
    name: str
    policy: str | None = None


class CPU(KubeModel):
    cores: UInt32 | None = None
    sockets: UInt32 | None = None
    max_sockets: UInt32 | None = None
    threads: UInt32 | None = None
    model: str | None = None
    features: list[CPUFeature] | None = None
    dedicated_cpu_placement: bool | None = None
    numa: FreeForm | None = None
    isolate_emulator_thread: bool | None = None
    realtime: FreeForm | None = None


class Hugepages(KubeModel):
    page_size: str | None = None


class ReservedOverhead(KubeModel):
    added_overhead: Quantity | None = None
    mem_lock: str | None = None


class Memory(KubeModel):
    hugepages: Hugepages | None = None
    guest: Quantity | None = None
    max_guest: Quantity | None = None
    reserved_overhead: ReservedOverhead | None = None


class Machine(KubeModel):
    type: str | None = None


class BIOS(KubeModel):
    use_serial: bool | None = None


class EFI(KubeModel):
    secure_boot: bool | None = None
    persistent: bool | None = None


class Bootloader(KubeModel):
    bios: BIOS | None = None
    efi: EFI | None = None


class KernelBootContainer(KubeModel):
    image: str
    image_pull_secret: str | None = None
    image_pull_policy: PullPolicy | None = None
    kernel_path: str | None = None
    initrd_path: str | None = None


class KernelBoot(KubeModel):
    kernel_args: str | None = None
    container: KernelBootContainer | None = None


class ACPI(KubeModel):
    slic_name_ref: str | None = None
    msdm_name_ref: str | None = None


class Firmware(KubeModel):
    uuid: str | None = None
    bootloader: Bootloader | None = None
    serial: str | None = None
    kernel_boot: KernelBoot | None = None
    acpi: ACPI | None = None


class FeatureState(KubeModel):
    enabled: bool | None = None


class FeatureAPIC(KubeModel):
    enabled: bool | None = None
    end_of_interrupt: bool | None = None


class FeatureKVM(KubeModel):
    hidden: bool | None = None


class Features(KubeModel):
    acpi: FeatureState | None = None
    apic: FeatureAPIC | None = None
    hyperv: FreeForm | None = None
    hyperv_passthrough: FeatureState | None = None
    smm: FeatureState | None = None
    kvm: FeatureKVM | None = None
    pvspinlock: FeatureState | None = None


class ClockOffsetUTC(KubeModel):
    offset_seconds: Int32 | None = None


class Clock(KubeModel):
    # Upstream's Clock schema keeps unknown fields.
    schema_preserve_unknown: ClassVar[bool] = True

    utc: ClockOffsetUTC | None = None
    timezone: str | None = None
    timer: FreeForm | None = None


class Chassis(KubeModel):
    manufacturer: str | None = None
    version: str | None = None
    serial: str | None = None
    asset: str | None = None
    sku: str | None = None


class DiskIOThreads(KubeModel):
    supplemental_pool_thread_count: UInt32 | None = None


class DomainSpec(KubeModel):
    resources: ResourceRequirements | None = None
    cpu: CPU | None = None
    memory: Memory | None = None
    machine: Machine | None = None
    firmware: Firmware | None = None
    clock: Clock | None = None
    features: Features | None = None
    devices: Devices
    io_threads_policy: IOThreadsPolicy | None = None
    io_threads: DiskIOThreads | None = Field(default=None, alias="ioThreads")
    chassis: Chassis | None = None
    launch_security: FreeForm | None = None
    reboot_policy: RebootPolicy | None = None
