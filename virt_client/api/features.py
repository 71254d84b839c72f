"""The one list of VMI spec fields this product implements, and the check that names the rest.

``SUPPORTED`` is the contract between the API and the launcher: each :class:`Feature` is a
path under a VirtualMachineInstance ``spec`` (``[]`` marks list items) that we honour, with
the values we honour where only some are implemented. The admission webhook rejects
anything :func:`unsupported_fields` reports, and ``docs/compatibility.md`` is rendered from
this list (see :mod:`virt_client.api.compatdoc`), so the two never disagree.

Rules:
- a listed path allows that field; its ancestors are allowed implicitly (so listing
  ``domain.cpu.cores`` allows ``domain`` and ``domain.cpu``);
- children of an allowed object must themselves be listed, unless the feature is a
  ``subtree`` (free-form Kubernetes types such as ``affinity``): then all of it is allowed;
- list items are checked against ``<path>[]``;
- a field whose value is ``null`` is treated as unset.

Pure: no I/O, no clock; the same spec always gives the same answer, in document order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Scalar = str | int | bool


@dataclass(frozen=True)
class Feature:
    """One supported field path, optionally limited to some values."""

    path: str
    values: tuple[Scalar, ...] | None = None
    subtree: bool = False
    note: str = ""


_DISK_BUSES = ("virtio", "sata", "scsi")

SUPPORTED: tuple[Feature, ...] = (
    # machine, CPU, memory, resources
    Feature("domain.machine.type", values=("q35",)),
    Feature("domain.cpu.cores"),
    Feature("domain.cpu.sockets"),
    Feature("domain.cpu.threads"),
    Feature("domain.cpu.model", note="host-model, host-passthrough or a named libvirt CPU model"),
    Feature("domain.memory.guest"),
    Feature("domain.resources.requests.cpu"),
    Feature("domain.resources.requests.memory"),
    Feature("domain.resources.limits.cpu"),
    Feature("domain.resources.limits.memory"),
    # firmware
    Feature("domain.firmware.uuid"),
    Feature("domain.firmware.serial"),
    Feature("domain.firmware.bootloader.bios"),
    Feature(
        "domain.firmware.bootloader.efi.secureBoot",
        values=(False,),
        note="EFI boots without Secure Boot; set `secureBoot: false` explicitly",
    ),
    Feature("domain.firmware.kernelBoot.kernelArgs"),
    Feature("domain.firmware.kernelBoot.container.image"),
    Feature("domain.firmware.kernelBoot.container.imagePullPolicy"),
    Feature("domain.firmware.kernelBoot.container.imagePullSecret"),
    Feature("domain.firmware.kernelBoot.container.kernelPath"),
    Feature("domain.firmware.kernelBoot.container.initrdPath"),
    # features and clock
    Feature("domain.features.acpi.enabled"),
    Feature("domain.features.apic.enabled"),
    Feature("domain.clock.utc.offsetSeconds"),
    Feature("domain.clock.timezone"),
    # disks
    Feature("domain.devices.disks[].name"),
    Feature("domain.devices.disks[].disk.bus", values=_DISK_BUSES),
    Feature("domain.devices.disks[].disk.readonly"),
    Feature("domain.devices.disks[].cdrom.bus", values=_DISK_BUSES),
    Feature("domain.devices.disks[].cdrom.readonly"),
    Feature("domain.devices.disks[].cdrom.tray", values=("closed",)),
    Feature("domain.devices.disks[].bootOrder"),
    Feature("domain.devices.disks[].serial"),
    Feature("domain.devices.disks[].cache"),
    Feature("domain.devices.disks[].io"),
    # network interfaces (pod network only)
    Feature("domain.devices.interfaces[].name"),
    Feature("domain.devices.interfaces[].model", values=("virtio",)),
    Feature(
        "domain.devices.interfaces[].masquerade",
        note="NAT to the Pod's network by QEMU user-mode networking (guest 10.0.2.15, gateway 10.0.2.2); "
        "no inbound `ports`. `bridge` on the pod network is refused, as upstream with "
        "`permitBridgeInterfaceOnPodNetwork: false`",
    ),
    Feature("domain.devices.interfaces[].macAddress"),
    Feature("domain.devices.autoattachPodInterface"),
    # other devices
    Feature("domain.devices.inputs[].name"),
    Feature("domain.devices.inputs[].type", values=("tablet",)),
    Feature("domain.devices.inputs[].bus", values=("usb", "virtio")),
    Feature("domain.devices.rng"),
    Feature("domain.devices.watchdog.name"),
    Feature("domain.devices.watchdog.i6300esb.action"),
    Feature("domain.devices.autoattachSerialConsole"),
    Feature("domain.devices.autoattachGraphicsDevice"),
    Feature("domain.devices.autoattachMemBalloon"),
    # networks
    Feature("networks[].name"),
    Feature("networks[].pod"),
    # volumes
    Feature("volumes[].name"),
    Feature("volumes[].containerDisk.image"),
    Feature("volumes[].containerDisk.imagePullPolicy"),
    Feature("volumes[].containerDisk.imagePullSecret"),
    Feature("volumes[].containerDisk.path"),
    Feature("volumes[].persistentVolumeClaim.claimName"),
    Feature("volumes[].persistentVolumeClaim.readOnly"),
    Feature("volumes[].dataVolume.name"),
    Feature("volumes[].hostDisk.path"),
    Feature("volumes[].hostDisk.type"),
    Feature("volumes[].hostDisk.capacity"),
    Feature("volumes[].emptyDisk.capacity"),
    Feature("volumes[].ephemeral.persistentVolumeClaim.claimName"),
    Feature("volumes[].ephemeral.persistentVolumeClaim.readOnly"),
    Feature("volumes[].cloudInitNoCloud.userData"),
    Feature("volumes[].cloudInitNoCloud.userDataBase64"),
    Feature("volumes[].cloudInitNoCloud.networkData"),
    Feature("volumes[].cloudInitNoCloud.networkDataBase64"),
    # scheduling and lifecycle
    Feature("terminationGracePeriodSeconds"),
    Feature("nodeSelector", subtree=True),
    Feature("affinity", subtree=True),
    Feature("tolerations", subtree=True),
    Feature("evictionStrategy"),
    Feature("startStrategy"),
    Feature("hostname"),
    Feature("subdomain"),
    Feature("architecture", values=("amd64",)),
)


def _ancestors(path: str) -> list[str]:
    """``a.b[].c`` → ``a``, ``a.b``, ``a.b[]``."""
    out: list[str] = []
    parts = path.split(".")
    for i in range(1, len(parts)):
        prefix = ".".join(parts[:i])
        if prefix.endswith("[]"):
            out.append(prefix[:-2])
        out.append(prefix)
    if path.endswith("[]"):
        out.append(path[:-2])
    return out


BY_PATH: dict[str, Feature] = {f.path: f for f in SUPPORTED}
ALLOWED_PATHS: frozenset[str] = frozenset(
    [f.path for f in SUPPORTED] + [a for f in SUPPORTED for a in _ancestors(f.path)]
)


def _children(pattern: str) -> set[str]:
    """Names of the allowed keys directly under ``pattern``."""
    prefix = f"{pattern}." if pattern else ""
    return {p[len(prefix) :].split(".")[0] for p in ALLOWED_PATHS if p.startswith(prefix) and p != pattern}


SUPPORTED_VOLUME_SOURCES: tuple[str, ...] = tuple(sorted(_children("volumes[]") - {"name"}))
SUPPORTED_INTERFACE_BINDINGS: tuple[str, ...] = ("masquerade",)
SUPPORTED_NETWORK_SOURCES: tuple[str, ...] = tuple(sorted(_children("networks[]") - {"name"}))


def is_allowed(pattern: str) -> bool:
    """Whether a path pattern (``[]`` for list items) is supported, itself or by a subtree feature."""
    if pattern in ALLOWED_PATHS:
        return True
    return any(f.subtree and pattern.startswith(f.path + ".") for f in SUPPORTED)


def _value_ok(feature: Feature, value: Any) -> bool:
    if feature.values is None or isinstance(value, dict | list):
        return True
    # Compare type-strictly: True must not match 1, nor "false" match False.
    return any(type(value) is type(v) and value == v for v in feature.values)


def _render_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check(pattern: str, display: str, value: Any, found: list[str]) -> None:
    if value is None:
        return
    if not is_allowed(pattern):
        found.append(display)
        return
    feature = BY_PATH.get(pattern)
    if feature is not None:
        if not _value_ok(feature, value):
            found.append(f"{display}={_render_value(value)}")
            return
        if feature.subtree:
            return
    if isinstance(value, Mapping):
        for key, child in value.items():
            _check(
                f"{pattern}.{key}" if pattern else str(key),
                f"{display}.{key}" if display else str(key),
                child,
                found,
            )
    elif isinstance(value, list):
        item_feature = BY_PATH.get(f"{pattern}[]")
        for index, item in enumerate(value):
            if item is None:
                continue
            if isinstance(item, Mapping):
                _check(f"{pattern}[]", f"{display}[{index}]", item, found)
            elif item_feature is not None and not _value_ok(item_feature, item):
                found.append(f"{display}[{index}]={_render_value(item)}")


def unsupported_fields(vmi_spec: Mapping[str, Any]) -> list[str]:
    """Every field of a VMI spec (wire form) that this product does not implement.

    Entries are paths relative to the spec, with list indices (``volumes[2].cloudInitConfigDrive``);
    a supported field holding a value we do not implement is reported as ``path=value``
    (``domain.devices.disks[0].disk.bus=usb``). Only the outermost unsupported field of a
    subtree is named. An empty list means the spec is fully supported.
    """
    found: list[str] = []
    for key, value in vmi_spec.items():
        _check(str(key), str(key), value, found)
    return found
