"""Launcher configuration: parsed once from the command line into one frozen object.

The command line is written by virt-handler (the launcher Pod's spec), not by people, so it is parsed
by a small table-driven parser rather than argparse: argparse with gettext and textwrap would stay in
every launcher's memory, which is the product's per-VM overhead. `--help` still lists the options.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


class UsageError(ValueError):
    """A command line the launcher cannot run with; the message says which option and why."""


class HelpRequested(Exception):
    """`-h` / `--help` was given."""


def _ports(value: str) -> tuple[int, int]:
    low, _, high = value.partition("-")
    return int(low), int(high or low)


def _hypervisor(value: str) -> Hypervisor:
    try:
        return Hypervisor(value)
    except ValueError:
        raise ValueError(f"choose from {', '.join(h.value for h in Hypervisor)}") from None


#: option → (LauncherSettings field, conversion, help). Every option takes one value.
OPTIONS: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "--dir": ("private_dir", Path, "private directory (command socket, serial, VNC, daemon); required"),
    "--vmi-file": ("vmi_file", Path, "VMI JSON file; without a VMI the launcher waits for `sync`"),
    "--vmi-json": ("vmi_json", str, "VMI as a JSON string (not with --vmi-file)"),
    "--hypervisor": ("hypervisor", _hypervisor, "kvm (default), emulation or test"),
    "--notify-socket": ("notify_socket", str, "virt-handler's notify socket for domain events"),
    "--grace-period": ("grace_period", int, "seconds between ACPI shutdown and destroy (default: the VMI's)"),
    "--domain-timeout": ("domain_timeout", float, "exit non-zero if no domain runs by then (s, default 240)"),
    "--capabilities-cache": ("capabilities_cache", Path, "node-level QEMU capabilities cache directory"),
    "--container-disk-dir": ("container_disk_dir", Path, "where containerDisk images are mounted, one directory per volume"),
    "--kernel-boot-dir": ("kernel_boot_dir", Path, "root of the kernelBoot container (default <container-disk-dir>/kernel-boot)"),
    "--pvc-dir": ("pvc_dir", Path, "where PVCs are mounted: <dir>/<volume>/disk.img"),
    "--ephemeral-disk-dir": ("ephemeral_disk_dir", Path, "overlays, empty disks and cloud-init ISOs"),
    "--daemon-restarts": ("daemon_restarts", int, "restarts of a dead libvirtd before failing the VM (default 3)"),
    "--migration-ports": ("migration_ports", _ports, "MIN-MAX migration port range of the private daemon"),
    "--emulator": ("emulator", str, "QEMU binary (default /usr/bin/qemu-system-x86_64)"),
    "--libvirtd": ("libvirtd", str, "libvirt daemon binary (default /usr/sbin/libvirtd)"),
}

USAGE = "usage: virt-launcher --dir DIR [--vmi-file PATH | --vmi-json JSON] [OPTION VALUE ...]"


def help_text() -> str:
    width = max(map(len, OPTIONS)) + 2
    lines = [USAGE, "", "Run one VMI as a libvirt domain with a private libvirt daemon.", ""]
    lines += [f"  {name:<{width}}{text}" for name, (_, _, text) in OPTIONS.items()]
    return "\n".join(lines) + "\n"


def settings_from_args(argv: list[str]) -> LauncherSettings:
    """`--option value` / `--option=value` pairs → settings (pure; raises UsageError)."""
    values: dict[str, Any] = {}
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if name in ("-h", "--help"):
            raise HelpRequested
        if name not in OPTIONS:
            raise UsageError(f"unrecognized argument {arg!r}")
        if not eq:
            if not rest:
                raise UsageError(f"{name} needs a value")
            value = rest.pop(0)
        field, convert, _ = OPTIONS[name]
        try:
            values[field] = convert(value)
        except ValueError as exc:
            raise UsageError(f"{name}: invalid value {value!r}: {exc}") from None
    if "private_dir" not in values:
        raise UsageError("--dir is required")
    vmi_file, vmi_json = values.pop("vmi_file", None), values.pop("vmi_json", None)
    if vmi_file is not None and vmi_json is not None:
        raise UsageError("give --vmi-file or --vmi-json, not both")
    try:
        vmi = json.loads(vmi_file.read_bytes()) if vmi_file is not None else \
            json.loads(vmi_json) if vmi_json is not None else None
    except OSError as exc:
        raise UsageError(f"--vmi-file: {exc}") from None
    except ValueError as exc:
        raise UsageError(f"the VMI is not valid JSON: {exc}") from None
    if vmi is not None and not isinstance(vmi, dict):
        raise UsageError("the VMI must be a JSON object")
    values["private_dir"] = Path(os.path.abspath(values["private_dir"]))
    values.setdefault("hypervisor", Hypervisor.KVM)
    return LauncherSettings(vmi=vmi, **values)


def parse_args(argv: list[str] | None = None) -> LauncherSettings:
    """The process's command line → settings; `--help` prints the options; errors exit 2 (as argparse)."""
    try:
        return settings_from_args(sys.argv[1:] if argv is None else argv)
    except HelpRequested:
        sys.stdout.write(help_text())
        raise SystemExit(0) from None
    except UsageError as exc:
        sys.stderr.write(f"{USAGE}\nvirt-launcher: error: {exc}\n")
        raise SystemExit(2) from None
