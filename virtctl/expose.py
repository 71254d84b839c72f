"""`virtctl expose vm|vmi|vmirs NAME --name SVC [--port P] [--target-port T] [--type T] ...`: a Service.

As upstream: a VMI or VM is selected by `vmi.kubevirt.io/id` (the VMI name, shortened with a SHA-1
suffix beyond 63 characters; virt-controller puts that label on the launcher Pod), a replica set by
its `matchLabels` (match expressions cannot be expressed in a Service). Without `--port` the ports
declared on the pod-network interface are reused. `service_for` is the pure part.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Mapping
from typing import Any

from virt_client.api.constants import VMI_ID_LABEL
from virt_client.errors import ApiError, TransportError
from virt_client.resources import SERVICES, VMIRSS, VMIS, VMS

from .calls import Call
from .command import add_command
from .errors import CommandError
from .session import Session, describe

NAME_MAX = 63
KINDS = {
    "vmi": "vmi", "vmis": "vmi", "virtualmachineinstance": "vmi", "virtualmachineinstances": "vmi",
    "vm": "vm", "vms": "vm", "virtualmachine": "vm", "virtualmachines": "vm",
    "vmirs": "vmirs", "vmirss": "vmirs", "virtualmachineinstancereplicaset": "vmirs",
    "virtualmachineinstancereplicasets": "vmirs",
}
FETCH = {"vmi": (VMIS, "VirtualMachineInstance"), "vm": (VMS, "VirtualMachine"),
         "vmirs": (VMIRSS, "VirtualMachineInstanceReplicaSet")}
SERVICE_TYPES = {"clusterip": "ClusterIP", "nodeport": "NodePort", "loadbalancer": "LoadBalancer"}
PROTOCOLS = {"tcp": "TCP", "udp": "UDP"}
IP_FAMILIES = {"": [], "ipv4": ["IPv4"], "ipv6": ["IPv6"], "ipv4,ipv6": ["IPv4", "IPv6"], "ipv6,ipv4": ["IPv6", "IPv4"]}
IP_FAMILY_POLICIES = {"singlestack": "SingleStack", "preferdualstack": "PreferDualStack",
                      "requiredualstack": "RequireDualStack"}


def vmi_id(name: str) -> str:
    """Upstream's `CalculateVirtualMachineInstanceID`: the name, or its head plus 8 hex of its SHA-1."""
    if len(name) <= NAME_MAX:
        return name
    return f"{name[:NAME_MAX - 9]}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def resource_kind(text: str) -> str:
    kind = KINDS.get(text.lower())
    if kind is None:
        raise CommandError(f"unsupported resource type: {text}")
    return kind


def pod_network_ports(vmi_spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Service ports for the ports declared on the interface bound to the pod network."""
    pod_network = next((n.get("name") for n in vmi_spec.get("networks") or [] if n.get("pod") is not None), None)
    if not pod_network:
        return []
    for iface in ((vmi_spec.get("domain") or {}).get("devices") or {}).get("interfaces") or []:
        if iface.get("name") == pod_network:
            return [{"name": f"port-{i}", "protocol": p.get("protocol") or "TCP", "port": int(p["port"])}
                    for i, p in enumerate(iface.get("ports") or [], start=1)]
    return []


def _target_port(text: str | None, port: int) -> int | str:
    if not text:
        return port  # what the API server defaults an empty targetPort to
    return int(text) if text.isdigit() else text


def _choice(table: Mapping[str, Any], value: str, what: str) -> Any:
    try:
        return table[value.lower()]
    except KeyError:
        raise CommandError(f"unknown {what}: {value}") from None


def service_for(kind: str, obj: Mapping[str, Any], args: argparse.Namespace, namespace: str) -> dict[str, Any]:
    """The Service to create for `obj` (a VMI, VM or VMIRS, per `kind`) and the flags."""
    if args.type.lower() == "externalname":
        raise CommandError(f"type: {args.type} not supported")
    service_type = _choice(SERVICE_TYPES, args.type, "service type")
    protocol = _choice(PROTOCOLS, args.protocol, "protocol")
    families: list[str] = _choice(IP_FAMILIES, args.ip_family or "", "IPFamily/s")
    policy = _choice(IP_FAMILY_POLICIES, args.ip_family_policy, "IPFamilyPolicy/s") if args.ip_family_policy else (
        "PreferDualStack" if len(families) > 1 else None)
    spec = obj.get("spec") or {}
    if kind == "vmi":
        ports, selector = pod_network_ports(spec), {VMI_ID_LABEL: vmi_id(obj["metadata"]["name"])}
    elif kind == "vm":
        template = spec.get("template") or {}
        ports, selector = pod_network_ports(template.get("spec") or {}), {VMI_ID_LABEL: vmi_id(obj["metadata"]["name"])}
    else:
        template = spec.get("template") or {}
        ports = pod_network_ports(template.get("spec") or {})
        sel = spec.get("selector") or {}
        if not sel.get("matchLabels"):
            raise CommandError("cannot expose VirtualMachineInstanceReplicaSet without any selector labels")
        if sel.get("matchExpressions"):
            raise CommandError("cannot expose VirtualMachineInstanceReplicaSet with match expressions")
        selector = dict(sel["matchLabels"])
    if args.port:
        port: dict[str, Any] = {"protocol": protocol, "port": args.port,
                                "targetPort": _target_port(args.target_port, args.port)}
        if args.port_name:
            port = {"name": args.port_name, **port}
        ports = [port]
    if not ports:
        raise CommandError("couldn't find port via --port flag or introspection")
    service_spec: dict[str, Any] = {"ports": ports, "selector": selector, "type": service_type}
    if args.cluster_ip:
        service_spec["clusterIP"] = args.cluster_ip
    if families:
        service_spec["ipFamilies"] = families
    if policy:
        service_spec["ipFamilyPolicy"] = policy
    if args.external_ip:
        service_spec["externalIPs"] = [args.external_ip]
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": args.service_name, "namespace": namespace},
            "spec": service_spec}


async def run(args: argparse.Namespace, session: Session) -> None:
    kind = resource_kind(args.kind)
    namespace = session.namespace()
    ref, kind_name = FETCH[kind]
    try:
        obj = await session.send(Call("GET", ref.path(namespace, args.name)))
    except (ApiError, TransportError) as e:
        raise CommandError(f"error fetching {kind_name}: {describe(e)}") from e
    service = service_for(kind, obj, args, namespace)
    try:
        await session.send(Call("POST", SERVICES.path(namespace), service))
    except (ApiError, TransportError) as e:
        raise CommandError(f"service creation failed: {describe(e)}") from e
    print(f"Service {args.service_name} successfully created for {args.kind.lower()} {args.name}")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(
        sub, common, "expose",
        summary="Expose a virtual machine instance, virtual machine, or replica set as a new service.", run=run,
        description="Looks up a virtual machine instance, virtual machine or virtual machine instance replica set "
                    "by name and uses its selector as the selector of a new Service.\nTypes: "
                    "virtualmachineinstance (vmi), virtualmachine (vm), virtualmachineinstancereplicaset (vmirs).",
        example="  # Expose SSH of 'myvm' on each node via a NodePort service:\n"
                "  virtctl expose vmi myvm --port=22 --name=myvm-ssh --type=NodePort")
    p.add_argument("kind", metavar="vm|vmi|vmirs")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--name", dest="service_name", required=True, help="name of the Service to create")
    p.add_argument("--port", type=int, default=0, help="the port the Service serves on")
    p.add_argument("--target-port", default=None, help="name or number of the port on the VM to direct traffic to")
    p.add_argument("--type", default="ClusterIP", help="ClusterIP (default), NodePort or LoadBalancer")
    p.add_argument("--protocol", default="TCP", help="TCP (default) or UDP")
    p.add_argument("--port-name", default="", help="name of the port")
    p.add_argument("--cluster-ip", default="", help="cluster IP to assign ('None' for a headless Service)")
    p.add_argument("--external-ip", default="", help="an additional external IP the Service accepts")
    p.add_argument("--ip-family", default="", help="IPv4, IPv6, 'IPv4,IPv6' or 'IPv6,IPv4'")
    p.add_argument("--ip-family-policy", default="", help="SingleStack, PreferDualStack or RequireDualStack")
