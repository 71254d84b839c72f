"""Mutating webhooks: VMI defaults, VM template defaults, migration label and finalizer (§1.8).

Pure functions `(request, config, now) -> new object`; the input is never modified. VMI defaults on
CREATE follow upstream's `vmi-mutator.go` for the fields this product implements: architecture,
machine type, CPU request from limit, CPU topology and model, memory request from limit and guest
memory, containerDisk pull policy, a disk for every volume without one, disk bus, cdrom readonly and
tray, input bus/type, the default pod network and interface (only when the VMI declares neither and
`autoattachPodInterface` is not false), firmware UUID from the name, the grace period, the finalizer,
and `status.phase: Pending` with its transition timestamp. On UPDATE, a status change by anyone but
KubeVirt's service accounts is reverted.
"""

from __future__ import annotations

import copy
import math
import uuid
from collections.abc import Mapping
from typing import Any

from virt_client.api.constants import (
    DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS,
    FIRMWARE_UUID_NAMESPACE,
    MIGRATION_FINALIZER,
    MIGRATION_SELECTOR_LABEL,
    VMI_FINALIZER,
)
from virt_client.api.quantity import Quantity
from virt_client.api.views import (
    ResourceRequirementsView,
    VirtualMachineInstanceMigrationView,
    VirtualMachineInstanceSpecView,
)

from .config import AdmissionConfig
from .review import AdmissionRequest

_FIRMWARE_UUID_NAMESPACE = uuid.UUID(FIRMWARE_UUID_NAMESPACE)
PCI_TOPOLOGY_ANNOTATION = "kubevirt.io/pci-topology-version"


def _dict(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        value = {}
        parent[key] = value
    return value


def pull_policy(image: str) -> str:
    """Always for `:latest` or untagged images, IfNotPresent otherwise (digests included)."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _cpu_count(value: Any) -> int:
    try:
        return max(1, math.ceil(Quantity.parse(value).value))
    except ValueError:
        return 1


def default_vmi_spec(spec: dict[str, Any], config: AdmissionConfig, name: str) -> None:
    """Apply upstream's VMI spec defaults in place on a private copy."""
    spec.setdefault("architecture", config.architecture)
    domain = _dict(spec, "domain")
    machine = _dict(domain, "machine")
    if not machine.get("type"):
        machine["type"] = config.machine_type
    resources = domain.get("resources") if isinstance(domain.get("resources"), dict) else None
    if resources is not None:
        limits: dict[str, Any] = resources["limits"] if isinstance(resources.get("limits"), dict) else {}
        requests: Any = _dict(resources, "requests") if limits else resources.get("requests")
        for key in ("cpu", "memory"):
            if limits.get(key) is not None and isinstance(requests, dict) and requests.get(key) is None:
                requests[key] = limits[key]
    wanted = ResourceRequirementsView(resources)
    cpu = _dict(domain, "cpu")
    if not any(cpu.get(k) for k in ("sockets", "cores", "threads")):
        amount = wanted.limits.get("cpu") or wanted.requests.get("cpu")
        cpu["sockets"] = _cpu_count(amount) if amount is not None else 1
    for key in ("sockets", "cores", "threads"):
        cpu.setdefault(key, 1)
    cpu.setdefault("model", config.cpu_model)
    memory: dict[str, Any] = domain["memory"] if isinstance(domain.get("memory"), dict) else {}
    if not memory.get("guest"):
        guest = wanted.requests.get("memory") or wanted.limits.get("memory")
        if guest is not None:
            memory["guest"] = guest
            domain["memory"] = memory
    firmware = _dict(domain, "firmware")
    firmware.setdefault("uuid", str(uuid.uuid5(_FIRMWARE_UUID_NAMESPACE, name)) if name else str(uuid.uuid4()))
    spec.setdefault("terminationGracePeriodSeconds", DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS)
    _default_devices(spec, domain, config)


def _default_devices(spec: dict[str, Any], domain: dict[str, Any], config: AdmissionConfig) -> None:
    devices = _dict(domain, "devices")
    volumes = [v for v in spec.get("volumes") or [] if isinstance(v, dict)]
    for vol in volumes:
        cd = vol.get("containerDisk")
        if isinstance(cd, dict) and cd.get("image") and not cd.get("imagePullPolicy"):
            cd["imagePullPolicy"] = pull_policy(str(cd["image"]))
    disks: list[Any] = devices["disks"] if isinstance(devices.get("disks"), list) else []
    named = {d.get("name") for d in disks if isinstance(d, dict)}
    for vol in volumes:
        if vol.get("name") and vol["name"] not in named:
            disks.append({"name": vol["name"]})
    for disk in disks:
        if not isinstance(disk, dict):
            continue
        if not any(k in disk for k in ("disk", "cdrom", "lun")):
            disk["disk"] = {}
        for kind in ("disk", "cdrom", "lun"):
            target = disk.get(kind)
            if isinstance(target, dict) and not target.get("bus"):
                target["bus"] = config.disk_bus
        cdrom = disk.get("cdrom")
        if isinstance(cdrom, dict):
            cdrom.setdefault("readonly", True)
            cdrom.setdefault("tray", "closed")
    if disks:
        devices["disks"] = disks
    for inp in devices.get("inputs") or []:
        if isinstance(inp, dict):
            inp.setdefault("bus", "usb")
            inp.setdefault("type", "tablet")
    if (not devices.get("interfaces") and not spec.get("networks")
            and devices.get("autoattachPodInterface") is not False):
        devices["interfaces"] = [{"name": "default", config.default_network_interface: {}}]
        spec["networks"] = [{"name": "default", "pod": {}}]


def _fresh_status(now: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    domain = VirtualMachineInstanceSpecView(spec).domain
    cpu = domain.cpu.raw
    status: dict[str, Any] = {"phase": "Pending",
                              "phaseTransitionTimestamps": [{"phase": "Pending", "phaseTransitionTimestamp": now}]}
    if cpu:
        status["currentCPUTopology"] = {k: cpu[k] for k in ("sockets", "cores", "threads") if k in cpu}
    guest = domain.memory.raw.get("guest")  # as written: a string or a number
    if guest is not None:
        status["memory"] = {"guestAtBoot": guest, "guestCurrent": guest, "guestRequested": guest}
    return status


def mutate_vmi(req: AdmissionRequest, config: AdmissionConfig, now: str) -> dict[str, Any]:
    """The VMI after the mutating webhook."""
    vmi: dict[str, Any] = copy.deepcopy(dict(req.obj))
    if req.operation == "UPDATE":
        if req.old is not None and not config.is_kubevirt(req.username) and vmi.get("status") != req.old.get(
                "status"):
            if "status" in req.old:
                vmi["status"] = copy.deepcopy(req.old["status"])
            else:
                vmi.pop("status", None)
        return vmi
    if req.operation != "CREATE":
        return vmi
    meta = _dict(vmi, "metadata")
    spec = _dict(vmi, "spec")
    default_vmi_spec(spec, config, str(meta.get("name") or meta.get("generateName") or ""))
    finalizers = list(meta.get("finalizers") or [])
    if VMI_FINALIZER not in finalizers:
        finalizers.append(VMI_FINALIZER)
    meta["finalizers"] = finalizers
    _dict(meta, "annotations").setdefault(PCI_TOPOLOGY_ANNOTATION, "v3")
    status: dict[str, Any] = vmi["status"] if isinstance(vmi.get("status"), dict) else {}
    if config.is_kubevirt(req.username) and status.get("phase"):
        return vmi
    vmi["status"] = _fresh_status(now, spec) if not config.is_kubevirt(req.username) else {
        **status, **_fresh_status(now, spec)}
    return vmi


def mutate_vm(req: AdmissionRequest, config: AdmissionConfig) -> dict[str, Any]:
    """The VM after the mutating webhook: the template's machine type and architecture defaulted."""
    vm: dict[str, Any] = copy.deepcopy(dict(req.obj))
    spec = vm.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    tspec = template.get("spec") if isinstance(template, dict) else None
    if isinstance(tspec, dict):
        domain = _dict(tspec, "domain")
        machine = _dict(domain, "machine")
        if not machine.get("type"):
            machine["type"] = config.machine_type
        tspec.setdefault("architecture", config.architecture)
    return vm


def mutate_migration(req: AdmissionRequest) -> dict[str, Any]:
    """The migration after the mutating webhook: the VMI-name label and the finalizer."""
    vmim: dict[str, Any] = copy.deepcopy(dict(req.obj))
    if req.operation != "CREATE":
        return vmim
    meta = _dict(vmim, "metadata")
    vmi_name = VirtualMachineInstanceMigrationView(vmim).spec.vmi_name
    if vmi_name:
        _dict(meta, "labels")[MIGRATION_SELECTOR_LABEL] = vmi_name
    finalizers = list(meta.get("finalizers") or [])
    if MIGRATION_FINALIZER not in finalizers:
        finalizers.append(MIGRATION_FINALIZER)
    meta["finalizers"] = finalizers
    return vmim
