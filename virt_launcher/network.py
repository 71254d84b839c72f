"""VMI networks and interfaces → libvirt `<interface>` elements. Pure.

Only the pod network is implemented, and only the `masquerade` binding on it: the guest sits behind
NAT to the Pod's network. virt-local Pods share the host's network namespace (no per-Pod tap or
bridge), so the NAT is QEMU's user-mode networking (libvirt `<interface type='user'>`): the guest
gets an address by DHCP from QEMU on `10.0.2.0/24` (guest `10.0.2.15`, gateway `10.0.2.2`, DNS
`10.0.2.3`; upstream's masquerade hands out `10.0.2.2` with gateway `10.0.2.1`) and its outgoing
connections leave from the Pod's address. Inbound port forwarding (`ports`) is not implemented.

`bridge` on the pod network is refused: the guest would have to take over the Pod's address, which
needs a Pod network namespace of its own. This is upstream's behaviour with
`permitBridgeInterfaceOnPodNetwork: false`; virt-api defaults the pod interface to masquerade.

Invariants: one `<interface>` per `spec.domain.devices.interfaces` entry, in order, alias
`ua-<name>`, model virtio; the MAC is the interface's `macAddress` when given (else libvirt picks
one); no option ROM (upstream does the same for interfaces without a boot order; network boot is
not implemented, and Debian's QEMU ships no iPXE ROMs without the `ipxe-qemu` package).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from virt_launcher import vmi_fields as f
from virt_launcher.errors import InvalidVMI, UnsupportedField

INTERFACE_FIELDS = ("name", "model", "masquerade", "macAddress")
_MAC = re.compile(r"^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$")


def interfaces(spec: dict[str, Any], devices: dict[str, Any]) -> list[ET.Element]:
    """The `<interface>` elements for a VMI spec; raises InvalidVMI/UnsupportedField naming the field."""
    networks = _pod_networks(spec)
    out: list[ET.Element] = []
    for i, iface in enumerate(f.items(devices, "interfaces", "spec.domain.devices")):
        ipath = f"spec.domain.devices.interfaces[{i}]"
        name = f.string(iface, "name", ipath)
        if name not in networks:
            raise InvalidVMI(f"{ipath}.name", f"no network named {name!r} in spec.networks")
        if iface.get("bridge") is not None:
            raise UnsupportedField(f"{ipath}.bridge", "bridge binding on the pod network is not implemented: the "
                                   "guest cannot take over the Pod's address here; use masquerade")
        f.check_fields(iface, ipath, INTERFACE_FIELDS)
        if iface.get("masquerade") is None:
            raise InvalidVMI(ipath, "needs a binding; the pod network supports masquerade")
        f.check_fields(f.child(iface, "masquerade", ipath), f"{ipath}.masquerade", ())
        model = f.string(iface, "model", ipath, "virtio")
        if model != "virtio":
            raise InvalidVMI(f"{ipath}.model", f"only virtio is supported, got {model!r}")
        el = ET.Element("interface", type="user")
        mac = f.string(iface, "macAddress", ipath)
        if mac:
            if not _MAC.match(mac):
                raise InvalidVMI(f"{ipath}.macAddress", f"{mac!r} is not a MAC address (e.g. 02:00:00:00:00:01)")
            ET.SubElement(el, "mac", address=mac.replace("-", ":").lower())
        ET.SubElement(el, "model", type="virtio")
        ET.SubElement(el, "rom", enabled="no")
        ET.SubElement(el, "alias", name=f"ua-{name}")
        out.append(el)
    return out


def _pod_networks(spec: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for i, net in enumerate(f.items(spec, "networks", "spec")):
        npath = f"spec.networks[{i}]"
        f.check_fields(net, npath, ("name", "pod"))
        if net.get("pod") is None:
            raise InvalidVMI(npath, "needs a network source; only pod is supported")
        f.check_fields(f.child(net, "pod", npath), f"{npath}.pod", ())
        if names:
            raise InvalidVMI(npath, "only one pod network is allowed")
        names.add(f.string(net, "name", npath))
    return names
