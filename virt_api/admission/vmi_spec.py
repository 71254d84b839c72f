"""Validation of a VirtualMachineInstance spec, shared by the VMI, VM and VMIRS validators.

Pure: `validate_vmi_spec(spec, field)` returns the causes, each naming the field with its full path
(`spec.template.spec.domain.devices.disks[0].name`). Checks (a subset of upstream's
`ValidateVirtualMachineInstanceSpec`, the ones that matter for what this product implements):
structure and types (via the typed models), fields this product does not implement
(`virt_client.api.features.unsupported_fields`: refused with their names, never dropped), memory
present and positive, guest memory within the limit, CPU topology positive, disks and volumes
matched by name without duplicates, one source per volume and one target per disk, interfaces
matched to networks with one binding each, unique boot orders, a non-negative grace period.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from virt_client.api.features import unsupported_fields
from virt_client.api.quantity import Quantity, QuantityError
from virt_client.api.views import DomainSpecView, VirtualMachineInstanceSpecView
from virt_client.api.vmi import VirtualMachineInstanceSpec

from .review import DUPLICATE, INVALID, NOT_SUPPORTED, REQUIRED, Cause

DISK_TARGETS = ("disk", "cdrom", "lun")


def _loc(prefix: str, loc: tuple[int | str, ...]) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def type_causes(spec: Mapping[str, object], field: str) -> list[Cause]:
    """Causes for values of the wrong type or shape, from the typed model."""
    try:
        VirtualMachineInstanceSpec.model_validate(spec)
    except ValidationError as e:
        return [Cause(_loc(field, tuple(err["loc"])), f"{_loc(field, tuple(err['loc']))}: {err['msg']}",
                      REQUIRED if err["type"] == "missing" else INVALID) for err in e.errors()[:20]]
    return []


def _names(items: Sequence[Mapping[str, object]]) -> list[str]:
    return [str(i.get("name") or "") for i in items]


def _duplicates(items: Sequence[Mapping[str, object]], field: str, what: str) -> list[Cause]:
    seen: set[str] = set()
    out = []
    for idx, name in enumerate(_names(items)):
        if name in seen:
            out.append(Cause(f"{field}[{idx}].name", f"{field}[{idx}].name '{name}' must be unique", DUPLICATE))
        seen.add(name)
    return out


def _memory_causes(domain: DomainSpecView, field: str) -> list[Cause]:
    requests, limits = domain.resources.requests, domain.resources.limits
    guest = domain.memory.raw.get("guest")  # a quantity as written: a string or a number
    out: list[Cause] = []
    if guest is None and requests.get("memory") is None and limits.get("memory") is None:
        return [Cause(f"{field}.domain.resources.requests.memory",
                      f"no memory requested, at least one of '{field}.domain.memory.guest', "
                      f"'{field}.domain.resources.requests.memory' or '{field}.domain.resources.limits.memory' "
                      f"must be set", REQUIRED)]
    values = {}
    for path, value in ((f"{field}.domain.memory.guest", guest),
                        (f"{field}.domain.resources.requests.memory", requests.get("memory")),
                        (f"{field}.domain.resources.limits.memory", limits.get("memory")),
                        (f"{field}.domain.resources.requests.cpu", requests.get("cpu")),
                        (f"{field}.domain.resources.limits.cpu", limits.get("cpu"))):
        if value is None:
            continue
        try:
            values[path] = Quantity.parse(value)
        except QuantityError as e:
            out.append(Cause(path, f"{path}: Invalid value: {value!r}: {e}"))
            continue
        if values[path].value <= 0:
            out.append(Cause(path, f"{path} '{value}' must be greater than 0"))
    guest_v = values.get(f"{field}.domain.memory.guest")
    limit_v = values.get(f"{field}.domain.resources.limits.memory")
    if guest_v is not None and limit_v is not None and guest_v > limit_v:
        out.append(Cause(f"{field}.domain.memory.guest",
                         f"{field}.domain.memory.guest '{guest}' must be equal to or less than the memory limit "
                         f"{field}.domain.resources.limits.memory '{limits.get('memory')}'"))
    req_v = values.get(f"{field}.domain.resources.requests.memory")
    if req_v is not None and limit_v is not None and req_v > limit_v:
        out.append(Cause(f"{field}.domain.resources.requests.memory",
                         f"{field}.domain.resources.requests.memory '{requests.get('memory')}' is greater than "
                         f"{field}.domain.resources.limits.memory '{limits.get('memory')}'"))
    return out


def _device_causes(spec: VirtualMachineInstanceSpecView, field: str, permit_pod_bridge: bool) -> list[Cause]:
    devices = spec.domain.devices
    # Each entry as written: the checks below look at which keys are set, typed or not.
    disks = [d.raw for d in devices.disks]
    volumes = [v.raw for v in spec.volumes]
    interfaces = [i.raw for i in devices.interfaces]
    networks = [n.raw for n in spec.networks]
    dfield, vfield = f"{field}.domain.devices.disks", f"{field}.volumes"
    ifield, nfield = f"{field}.domain.devices.interfaces", f"{field}.networks"
    out = _duplicates(disks, dfield, "disk") + _duplicates(volumes, vfield, "volume")
    out += _duplicates(interfaces, ifield, "interface") + _duplicates(networks, nfield, "network")
    volume_names = set(_names(volumes))
    boot_orders: dict[object, int] = {}
    for idx, disk in enumerate(disks):
        name = disk.get("name")
        if not name:
            out.append(Cause(f"{dfield}[{idx}].name", f"{dfield}[{idx}].name is required", REQUIRED))
        elif name not in volume_names:
            out.append(Cause(f"{dfield}[{idx}].name", f"{dfield}[{idx}].name '{name}' not found."))
        targets = [t for t in DISK_TARGETS if disk.get(t) is not None]
        if len(targets) > 1:
            out.append(Cause(f"{dfield}[{idx}]", f"{dfield}[{idx}] can only have a single target type defined"))
        order = disk.get("bootOrder")
        if order is not None:
            if isinstance(order, int) and order < 1:
                out.append(Cause(f"{dfield}[{idx}].bootOrder", f"{dfield}[{idx}].bootOrder must have a value >= 1"))
            elif order in boot_orders:
                out.append(Cause(f"{dfield}[{idx}].bootOrder",
                                 f"Boot order for {dfield}[{idx}].bootOrder already set for a different device.",
                                 DUPLICATE))
            boot_orders[order] = idx
    for idx, vol in enumerate(volumes):
        if not vol.get("name"):
            out.append(Cause(f"{vfield}[{idx}].name", f"{vfield}[{idx}].name is required", REQUIRED))
        sources = [k for k, v in vol.items() if k != "name" and v is not None]
        if len(sources) != 1:
            out.append(Cause(f"{vfield}[{idx}]", f"{vfield}[{idx}] must have exactly one source type set"
                             if sources else f"{vfield}[{idx}] must have a source type set", REQUIRED))
    network_names = set(_names(networks))
    pod_networks = {n.get("name") for n in networks if n.get("pod") is not None}
    for idx, iface in enumerate(interfaces):
        name = iface.get("name")
        if name not in network_names:
            out.append(Cause(f"{ifield}[{idx}].name", f"{ifield}[{idx}].name '{name}' not found."))
        bindings = [k for k in ("bridge", "masquerade", "sriov", "slirp", "macvtap", "passt", "passtBinding",
                                "binding") if iface.get(k) is not None]
        if len(bindings) > 1:
            out.append(Cause(f"{ifield}[{idx}]", f"{ifield}[{idx}] must have only one binding method set"))
        if iface.get("bridge") is not None and name in pod_networks and not permit_pod_bridge:
            out.append(Cause(f"{ifield}[{idx}].name",
                             "Bridge on pod network configuration is not enabled under kubevirt-config"))
    for idx, net in enumerate(networks):
        sources = [k for k, v in net.items() if k != "name" and v is not None]
        if len(sources) != 1:
            out.append(Cause(f"{nfield}[{idx}]", f"{nfield}[{idx}] should have exactly one network type", REQUIRED))
    return out


def validate_vmi_spec(spec: object, field: str = "spec", permit_pod_bridge: bool = False) -> list[Cause]:
    """Every reason `spec` cannot be admitted, in a stable order.

    `permit_pod_bridge` is upstream's `permitBridgeInterfaceOnPodNetwork` (always False here).
    """
    if not isinstance(spec, Mapping):
        return [Cause(field, f"{field} is required", REQUIRED)]
    if not isinstance(spec.get("domain"), Mapping):
        return [Cause(f"{field}.domain", f"{field}.domain is required", REQUIRED)]
    causes = type_causes(spec, field)
    if causes:
        return causes
    for path in unsupported_fields(spec):
        causes.append(Cause(f"{field}.{path.split('=')[0]}",
                            f"{field}.{path} is not supported by this KubeVirt implementation", NOT_SUPPORTED))
    # The spec has the model's types from here on, so it is read through the views.
    view = VirtualMachineInstanceSpecView(spec)
    causes += _memory_causes(view.domain, field)
    cpu = view.domain.cpu
    for key, value in (("sockets", cpu.sockets), ("cores", cpu.cores), ("threads", cpu.threads)):
        if value is not None and value < 1:
            causes.append(Cause(f"{field}.domain.cpu.{key}", f"{field}.domain.cpu.{key} must be greater than 0"))
    causes += _device_causes(view, field, permit_pod_bridge)
    grace = view.termination_grace_period_seconds
    if grace is not None and grace < 0:
        causes.append(Cause(f"{field}.terminationGracePeriodSeconds",
                            f"{field}.terminationGracePeriodSeconds must be greater than or equal to 0"))
    return causes
