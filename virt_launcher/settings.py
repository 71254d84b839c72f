"""Launcher configuration: parsed once from the command line into one frozen object."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Any

import orjson

from virt_launcher.converter import Hypervisor


@dataclasses.dataclass(frozen=True)
class LauncherSettings:
    private_dir: Path
    hypervisor: Hypervisor
    vmi: dict[str, Any] | None = None
    notify_socket: str | None = None
    grace_period: int | None = None
    domain_timeout: float = 240.0
    capabilities_cache: Path | None = None
    container_disk_dir: Path | None = None
    kernel_boot_dir: Path | None = None
    pvc_dir: Path | None = None
    ephemeral_disk_dir: Path | None = None
    daemon_restarts: int = 3
    migration_ports: tuple[int, int] | None = None
    emulator: str = "/usr/bin/qemu-system-x86_64"
    libvirtd: str = "/usr/sbin/libvirtd"
    final_notify_timeout: float = 15.0

    @property
    def socket_path(self) -> Path:
        return self.private_dir / "launcher.sock"

    def dir_for(self, name: str) -> Path:
        explicit = {"container-disks": self.container_disk_dir, "vmi-disks": self.pvc_dir,
                    "ephemeral-disks": self.ephemeral_disk_dir}.get(name)
        return explicit or self.private_dir / name


def _ports(value: str) -> tuple[int, int]:
    low, _, high = value.partition("-")
    return int(low), int(high or low)


def parse_args(argv: list[str] | None = None) -> LauncherSettings:
    p = argparse.ArgumentParser(prog="virt-launcher", description="Run one VMI as a libvirt domain with a private libvirt daemon.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--vmi-file", type=Path, help="VMI JSON file; without a VMI the launcher waits for `sync`")
    src.add_argument("--vmi-json", help="VMI as a JSON string")
    p.add_argument("--dir", type=Path, required=True, help="private directory (command socket, serial, VNC, daemon)")
    p.add_argument("--hypervisor", choices=[h.value for h in Hypervisor], default=Hypervisor.KVM.value)
    p.add_argument("--notify-socket", help="virt-handler's notify socket for domain events")
    p.add_argument("--grace-period", type=int, help="seconds between ACPI shutdown and destroy (default: the VMI's)")
    p.add_argument("--domain-timeout", type=float, default=240.0, help="exit non-zero if no domain runs by then (s)")
    p.add_argument("--capabilities-cache", type=Path, help="node-level QEMU capabilities cache directory")
    p.add_argument("--container-disk-dir", type=Path, help="where containerDisk images are mounted, one directory per volume")
    p.add_argument("--kernel-boot-dir", type=Path, help="root of the kernelBoot container (default <container-disk-dir>/kernel-boot)")
    p.add_argument("--pvc-dir", type=Path, help="where PVCs are mounted: <dir>/<volume>/disk.img")
    p.add_argument("--ephemeral-disk-dir", type=Path, help="overlays, empty disks and cloud-init ISOs")
    p.add_argument("--daemon-restarts", type=int, default=3, help="restarts of a dead libvirtd before failing the VM")
    p.add_argument("--migration-ports", type=_ports, help="MIN-MAX migration port range of the private daemon")
    p.add_argument("--emulator", default="/usr/bin/qemu-system-x86_64")
    p.add_argument("--libvirtd", default="/usr/sbin/libvirtd")
    a = p.parse_args(argv)
    vmi: Any = None
    if a.vmi_file:
        vmi = orjson.loads(a.vmi_file.read_bytes())
    elif a.vmi_json:
        vmi = orjson.loads(a.vmi_json)
    if vmi is not None and not isinstance(vmi, dict):
        p.error("the VMI must be a JSON object")
    private_dir = Path(os.path.abspath(a.dir))
    return LauncherSettings(
        private_dir=private_dir, hypervisor=Hypervisor(a.hypervisor), vmi=vmi, notify_socket=a.notify_socket,
        grace_period=a.grace_period, domain_timeout=a.domain_timeout, capabilities_cache=a.capabilities_cache,
        container_disk_dir=a.container_disk_dir, kernel_boot_dir=a.kernel_boot_dir, pvc_dir=a.pvc_dir,
        ephemeral_disk_dir=a.ephemeral_disk_dir, daemon_restarts=a.daemon_restarts,
        migration_ports=a.migration_ports, emulator=a.emulator, libvirtd=a.libvirtd)
