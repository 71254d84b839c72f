"""Facts the handler derives from a VMI spec alone: grace period, migratability, QoS class. Pure.

LiveMigratable follows upstream's checks that can be decided from the spec (node-local disks, pod
network bridge binding, host devices, virtiofs, SEV, host-passthrough CPU, SCSI persistent
reservation). PVC access modes are not looked up: a PVC or DataVolume counts as shared storage.
Everything is read through `virt_client`'s typed views; fields the views do not type yet (host
devices, filesystems, launch security) are read from `.raw` by key presence only.
"""

from __future__ import annotations

from collections.abc import Mapping

from virt_client.api.constants import (
    ALLOW_POD_BRIDGE_NETWORK_LIVE_MIGRATION_ANNOTATION,
    CPU_MODEL_HOST_PASSTHROUGH,
    DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS,
    ConditionReason,
    MigrationMethod,
)
from virt_client.api.views.vmi import VirtualMachineInstanceSpecView

#: volume sources copied by block migration (node-local, not shared storage)
_LOCAL_VOLUMES = ("containerDisk", "emptyDisk", "ephemeral", "hostDisk")


def grace_period(spec: VirtualMachineInstanceSpecView) -> int:
    """terminationGracePeriodSeconds (default 30; negative values count as 0)."""
    value = spec.termination_grace_period_seconds
    if value is None:
        return DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    return max(0, value)


def _present(raw: Mapping[str, object], key: str) -> bool:
    """The key holds a non-empty list (or an object, for single-valued fields)."""
    return bool(raw.get(key))


def live_migratable(spec: VirtualMachineInstanceSpecView,
                    annotations: Mapping[str, str] | None = None) -> tuple[bool, str, str]:
    """(migratable, reason, message) for the LiveMigratable condition; reason/message empty when True."""
    for volume in spec.volumes:
        if "hostDisk" in volume.raw:
            return False, ConditionReason.DISKS_NOT_LIVE_MIGRATABLE, \
                f"cannot migrate VMI: volume {volume.name!r} is a node-local hostDisk"
    domain = spec.domain
    devices = domain.devices
    pod_networks = {n.name for n in spec.networks if n.pod is not None}
    allow_bridge = (annotations or {}).get(ALLOW_POD_BRIDGE_NETWORK_LIVE_MIGRATION_ANNOTATION) is not None
    for iface in devices.interfaces:
        if iface.bridge is not None and iface.name in pod_networks and not allow_bridge:
            return False, ConditionReason.INTERFACE_NOT_LIVE_MIGRATABLE, \
                "cannot migrate VMI which does not use masquerade to connect to the pod network"
    if _present(devices.raw, "gpus") or _present(devices.raw, "hostDevices"):
        return False, ConditionReason.HOST_DEVICE_NOT_LIVE_MIGRATABLE, \
            "cannot migrate VMI with host devices or GPUs"
    if _present(devices.raw, "filesystems"):
        return False, ConditionReason.VIRTIOFS_NOT_LIVE_MIGRATABLE, "cannot migrate VMI with virtiofs filesystems"
    launch_security = domain.raw.get("launchSecurity")
    if isinstance(launch_security, Mapping) and "sev" in launch_security:
        return False, ConditionReason.SEV_NOT_LIVE_MIGRATABLE, "cannot migrate VMI with SEV"
    if domain.cpu.model == CPU_MODEL_HOST_PASSTHROUGH:
        return False, ConditionReason.CPU_MODE_NOT_LIVE_MIGRATABLE, \
            "cannot migrate VMI with host-passthrough CPU mode"
    for disk in devices.disks:
        if disk.lun is not None and disk.lun.raw.get("reservation"):
            return False, ConditionReason.PERSISTENT_RESERVATION_NOT_LIVE_MIGRATABLE, \
                "cannot migrate VMI with SCSI persistent reservation"
    return True, "", ""


def migration_method(spec: VirtualMachineInstanceSpecView) -> MigrationMethod:
    """BlockMigration when a volume lives on the node (containerDisk, emptyDisk, ...), else LiveMigration."""
    for volume in spec.volumes:
        if any(src in volume.raw for src in _LOCAL_VOLUMES):
            return MigrationMethod.BLOCK_MIGRATION
    return MigrationMethod.LIVE_MIGRATION


def qos_class(spec: VirtualMachineInstanceSpecView) -> str:
    """The launcher Pod's QoS class: Guaranteed when CPU and memory limits are set and requests equal them.

    The compute container always requests memory, so a VMI is never BestEffort.
    """
    resources = spec.domain.resources
    limits, requests = resources.limits, resources.requests
    if all(limits.get(r) is not None for r in ("cpu", "memory")) and \
            all(requests.get(r) in (None, limits.get(r)) for r in ("cpu", "memory")):
        return "Guaranteed"
    return "Burstable"
