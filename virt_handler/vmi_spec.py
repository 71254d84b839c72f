"""Facts the handler derives from a VMI spec alone: grace period, migratability, QoS class. Pure.

LiveMigratable follows upstream's checks that can be decided from the spec (node-local disks, pod
network bridge binding, host devices, virtiofs, SEV, host-passthrough CPU, SCSI persistent
reservation). PVC access modes are not looked up: a PVC or DataVolume counts as shared storage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from virt_client.api.constants import (
    ALLOW_POD_BRIDGE_NETWORK_LIVE_MIGRATION_ANNOTATION,
    CPU_MODEL_HOST_PASSTHROUGH,
    DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS,
    ConditionReason,
    MigrationMethod,
)

#: volume sources copied by block migration (node-local, not shared storage)
_LOCAL_VOLUMES = ("containerDisk", "emptyDisk", "ephemeral", "hostDisk")


def _items(obj: Mapping[str, Any], key: str) -> Sequence[Mapping[str, Any]]:
    value = obj.get(key)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, Sequence) else []


def _domain(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    domain = spec.get("domain")
    return domain if isinstance(domain, Mapping) else {}


def _devices(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    devices = _domain(spec).get("devices")
    return devices if isinstance(devices, Mapping) else {}


def grace_period(spec: Mapping[str, Any]) -> int:
    """terminationGracePeriodSeconds (default 30; negative values count as 0)."""
    value = spec.get("terminationGracePeriodSeconds")
    if value is None:
        return DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS


def live_migratable(spec: Mapping[str, Any], annotations: Mapping[str, Any] | None = None) -> tuple[bool, str, str]:
    """(migratable, reason, message) for the LiveMigratable condition; reason/message empty when True."""
    for volume in _items(spec, "volumes"):
        if "hostDisk" in volume:
            return False, ConditionReason.DISKS_NOT_LIVE_MIGRATABLE, \
                f"cannot migrate VMI: volume {volume.get('name')!r} is a node-local hostDisk"
    devices = _devices(spec)
    pod_networks = {str(n.get("name")) for n in _items(spec, "networks") if "pod" in n}
    allow_bridge = (annotations or {}).get(ALLOW_POD_BRIDGE_NETWORK_LIVE_MIGRATION_ANNOTATION) is not None
    for iface in _items(devices, "interfaces"):
        if "bridge" in iface and str(iface.get("name")) in pod_networks and not allow_bridge:
            return False, ConditionReason.INTERFACE_NOT_LIVE_MIGRATABLE, \
                "cannot migrate VMI which does not use masquerade to connect to the pod network"
    if _items(devices, "gpus") or _items(devices, "hostDevices"):
        return False, ConditionReason.HOST_DEVICE_NOT_LIVE_MIGRATABLE, \
            "cannot migrate VMI with host devices or GPUs"
    if _items(devices, "filesystems"):
        return False, ConditionReason.VIRTIOFS_NOT_LIVE_MIGRATABLE, "cannot migrate VMI with virtiofs filesystems"
    launch_security = _domain(spec).get("launchSecurity")
    if isinstance(launch_security, Mapping) and "sev" in launch_security:
        return False, ConditionReason.SEV_NOT_LIVE_MIGRATABLE, "cannot migrate VMI with SEV"
    cpu = _domain(spec).get("cpu")
    if isinstance(cpu, Mapping) and cpu.get("model") == CPU_MODEL_HOST_PASSTHROUGH:
        return False, ConditionReason.CPU_MODE_NOT_LIVE_MIGRATABLE, \
            "cannot migrate VMI with host-passthrough CPU mode"
    for disk in _items(devices, "disks"):
        lun = disk.get("lun")
        if isinstance(lun, Mapping) and lun.get("reservation"):
            return False, ConditionReason.PERSISTENT_RESERVATION_NOT_LIVE_MIGRATABLE, \
                "cannot migrate VMI with SCSI persistent reservation"
    return True, "", ""


def migration_method(spec: Mapping[str, Any]) -> MigrationMethod:
    """BlockMigration when a volume lives on the node (containerDisk, emptyDisk, ...), else LiveMigration."""
    for volume in _items(spec, "volumes"):
        if any(src in volume for src in _LOCAL_VOLUMES):
            return MigrationMethod.BLOCK_MIGRATION
    return MigrationMethod.LIVE_MIGRATION


def qos_class(spec: Mapping[str, Any]) -> str:
    """The launcher Pod's QoS class: Guaranteed when CPU and memory limits are set and requests equal them.

    The compute container always requests memory, so a VMI is never BestEffort.
    """
    resources = _domain(spec).get("resources")
    resources = resources if isinstance(resources, Mapping) else {}
    limits = resources.get("limits") if isinstance(resources.get("limits"), Mapping) else {}
    requests = resources.get("requests") if isinstance(resources.get("requests"), Mapping) else {}
    assert isinstance(limits, Mapping) and isinstance(requests, Mapping)
    if all(limits.get(r) is not None for r in ("cpu", "memory")) and \
            all(requests.get(r) in (None, limits.get(r)) for r in ("cpu", "memory")):
        return "Guaranteed"
    return "Burstable"
