"""The VMI device list: disks, interfaces, inputs, watchdog, rng and the autoattach switches.

Mirrors upstream ``Devices`` (kubevirt.io/api/core/v1 schema.go). Device kinds we do not
implement (GPUs, host devices, filesystems, TPM, sound, ...) are typed loosely but still declared,
so they survive schema pruning and the admission webhook can refuse them by name.

Invariant: a Disk carries at most one of disk/lun/cdrom and an Interface at most one binding;
that rule is checked by the webhook, not here, so any upstream-valid object parses.
"""

from __future__ import annotations

from pydantic import Field

from virt_client.api.constants import (
    DiskBus,
    DriverCache,
    DriverIO,
    InputBus,
    InputType,
    InterfaceState,
    TrayState,
    WatchdogAction,
)
from virt_client.api.fields import FreeForm, Int32, UInt32
from virt_client.api.meta import KubeModel


class DiskTarget(KubeModel):
    bus: DiskBus | None = None
    readonly: bool | None = None
    pci_address: str | None = None


class LunTarget(KubeModel):
    bus: DiskBus | None = None
    readonly: bool | None = None
    reservation: bool | None = None


class CDRomTarget(KubeModel):
    bus: DiskBus | None = None
    readonly: bool | None = None
    tray: TrayState | None = None


class Disk(KubeModel):
    name: str
    disk: DiskTarget | None = None
    lun: LunTarget | None = None
    cdrom: CDRomTarget | None = None
    boot_order: UInt32 | None = None
    serial: str | None = None
    dedicated_io_thread: bool | None = Field(default=None, alias="dedicatedIOThread")
    cache: DriverCache | None = None
    io: DriverIO | None = None
    tag: str | None = None
    block_size: FreeForm | None = None
    shareable: bool | None = None
    error_policy: str | None = None
    changed_block_tracking: bool | None = None


class InterfaceBridge(KubeModel):
    """Bridge binding: the guest takes the pod IP."""


class InterfaceMasquerade(KubeModel):
    """Masquerade binding: the guest sits behind NAT on 10.0.2.0/24."""


class EmptyBinding(KubeModel):
    """Marker object for bindings we declare but do not implement (sriov, passt, slirp, macvtap)."""


class PluginBinding(KubeModel):
    name: str


class Port(KubeModel):
    name: str | None = None
    protocol: str | None = None
    port: Int32


class DHCPPrivateOptions(KubeModel):
    option: int
    value: str


class DHCPOptions(KubeModel):
    boot_file_name: str | None = None
    tftp_server_name: str | None = Field(default=None, alias="tftpServerName")
    ntp_servers: list[str] | None = None
    private_options: list[DHCPPrivateOptions] | None = None


class Interface(KubeModel):
    name: str
    model: str | None = None
    bridge: InterfaceBridge | None = None
    masquerade: InterfaceMasquerade | None = None
    sriov: EmptyBinding | None = None
    slirp: EmptyBinding | None = None
    macvtap: EmptyBinding | None = None
    passt: EmptyBinding | None = None
    passt_binding: EmptyBinding | None = None
    binding: PluginBinding | None = None
    ports: list[Port] | None = None
    mac_address: str | None = None
    boot_order: UInt32 | None = None
    pci_address: str | None = None
    dhcp_options: DHCPOptions | None = Field(default=None, alias="dhcpOptions")
    tag: str | None = None
    acpi_index: int | None = None
    state: InterfaceState | None = None


class Input(KubeModel):
    bus: InputBus | None = None
    type: InputType
    name: str


class I6300ESBWatchdog(KubeModel):
    action: WatchdogAction | None = None


class Watchdog(KubeModel):
    name: str
    i6300esb: I6300ESBWatchdog | None = Field(default=None, alias="i6300esb")
    diag288: I6300ESBWatchdog | None = None


class Rng(KubeModel):
    """The virtio RNG device; it has no options."""


class Devices(KubeModel):
    use_virtio_transitional: bool | None = None
    disable_hotplug: bool | None = None
    disks: list[Disk] | None = None
    watchdog: Watchdog | None = None
    interfaces: list[Interface] | None = None
    inputs: list[Input] | None = None
    autoattach_pod_interface: bool | None = None
    autoattach_graphics_device: bool | None = None
    autoattach_serial_console: bool | None = None
    log_serial_console: bool | None = None
    autoattach_mem_balloon: bool | None = None
    autoattach_input_device: bool | None = None
    autoattach_vsock: bool | None = Field(default=None, alias="autoattachVSOCK")
    rng: Rng | None = None
    block_multi_queue: bool | None = None
    network_interface_multiqueue: bool | None = None
    gpus: list[FreeForm] | None = None
    downward_metrics: FreeForm | None = None
    panic_devices: list[FreeForm] | None = None
    filesystems: list[FreeForm] | None = None
    host_devices: list[FreeForm] | None = None
    client_passthrough: FreeForm | None = None
    sound: FreeForm | None = None
    tpm: FreeForm | None = None
    video: FreeForm | None = None
