"""`virtctl create vm [flags]`: print a VirtualMachine manifest (YAML); no API call.

Follows upstream's `create vm`: run strategy Always, termination grace period 180 s and guest memory
512Mi by default; `--volume-containerdisk src:IMAGE[,name:N][,bootorder:B]` (named
`<vm>-containerdisk-<i>` by default) and `--volume-pvc src:CLAIM[,name:N][,bootorder:B]` (named after
the claim) add volumes, a disk only when a boot order is given. Unless turned off, the instancetype
and preference are inferred from the first PVC volume (policy Ignore); `--memory` turns off the
instancetype inference. `-n` sets `metadata.namespace`. `vm_manifest` is the pure part.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from virt_client.api.quantity import Quantity, QuantityError

from .command import add_command
from .errors import CommandError
from .session import Session

RUN_STRATEGIES = ("Always", "Manual", "Halted", "Once", "RerunOnFailure")
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' rand.String
CLOUD_INIT_DISK = "cloudinitdisk"
VOLUME_PARAMS = frozenset({"src", "name", "bootorder"})


@dataclass(frozen=True)
class VmFlags:
    """The flags of `create vm`, parsed."""

    name: str
    namespace: str | None = None
    run_strategy: str = "Always"
    termination_grace_period: int = 180
    memory: str | None = None
    instancetype: str | None = None
    preference: str | None = None
    containerdisks: Sequence[str] = ()
    pvcs: Sequence[str] = ()
    cloud_init_user_data: str | None = None
    cloud_init_network_data: str | None = None
    infer_instancetype: bool = True
    infer_preference: bool = True


def flag_error(flag: str, message: str) -> CommandError:
    return CommandError(f'failed to parse "--{flag}" flag: {message}')


def parse_params(flag: str, text: str) -> dict[str, str]:
    """`key:value,key:value` (values may contain ':'), only the keys a volume flag supports."""
    out: dict[str, str] = {}
    unknown = []
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition(":")
        if not sep:
            raise flag_error(flag, f"params need to have at least one colon: {item}")
        if key not in VOLUME_PARAMS:
            unknown.append(item)
        out[key] = value
    if unknown:
        raise flag_error(flag, f"unknown param(s): {','.join(unknown)}")
    return out


def split_prefixed(flag: str, value: str) -> tuple[str, str]:
    """`prefix/name` into (prefix, name); a bare name has an empty prefix."""
    parts = value.split("/")
    if len(parts) > 2 or not parts[-1]:
        raise flag_error(flag, f"src invalid: invalid count {len(parts)} of slashes in prefix/name")
    return (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])


def _add_volume(flag: str, boot_orders: dict[int, str], template_spec: dict[str, Any], name: str,
                source: dict[str, Any], boot_order: str | None) -> None:
    volumes = template_spec.setdefault("volumes", [])
    if any(v["name"] == name for v in volumes):
        raise flag_error(flag, f"there is already a volume with name '{name}'")
    volumes.append({"name": name, **source})
    if boot_order is not None:
        if not boot_order.isdigit() or int(boot_order) == 0:
            raise flag_error(flag, "bootorder must be greater than 0")
        order = int(boot_order)
        if order in boot_orders:
            raise flag_error(flag, f"bootorder {order} was specified multiple times")
        boot_orders[order] = name
        template_spec["domain"]["devices"].setdefault("disks", []).append({"name": name, "bootOrder": order})


def _matcher(flag: str, value: str, kinds: tuple[str, str]) -> dict[str, str]:
    kind, name = split_prefixed(flag, value)
    if kind and kind not in kinds:
        raise flag_error(flag, f'invalid {flag} kind "{kind}", supported values are: {", ".join(kinds)}')
    return {"name": name, **({"kind": kind} if kind else {})}


def _infer_from(boot_orders: dict[int, str], template_spec: dict[str, Any]) -> str | None:
    """The volume to infer from: lowest boot order, else the first volume; only PVC volumes qualify."""
    volumes = template_spec.get("volumes") or []
    if not volumes:
        return None
    name = boot_orders[min(boot_orders)] if boot_orders else volumes[0]["name"]
    volume = next(v for v in volumes if v["name"] == name)
    return name if "persistentVolumeClaim" in volume else None


def vm_manifest(flags: VmFlags) -> dict[str, Any]:
    """The VirtualMachine for `flags`, as upstream's `create vm` builds it."""
    if flags.run_strategy not in RUN_STRATEGIES:
        raise flag_error("run-strategy", f'invalid RunStrategy "{flags.run_strategy}", supported values are: '
                                         + ", ".join(RUN_STRATEGIES))
    memory = flags.memory if flags.memory is not None else "512Mi"
    try:
        Quantity.parse(memory)
    except QuantityError as e:
        raise flag_error("memory", str(e)) from None
    template_spec: dict[str, Any] = {
        "domain": {"devices": {}, "memory": {"guest": memory}, "resources": {}},
        "terminationGracePeriodSeconds": flags.termination_grace_period,
    }
    spec: dict[str, Any] = {"runStrategy": flags.run_strategy, "template": {"metadata": {}, "spec": template_spec}}
    boot_orders: dict[int, str] = {}
    metadata: dict[str, Any] = {"name": flags.name}
    if flags.namespace:
        metadata["namespace"] = flags.namespace
    if flags.instancetype:
        spec["instancetype"] = _matcher("instancetype", flags.instancetype,
                                        ("virtualmachineinstancetype", "virtualmachineclusterinstancetype"))
        del template_spec["domain"]["memory"]
    if flags.preference:
        spec["preference"] = _matcher("preference", flags.preference,
                                      ("virtualmachinepreference", "virtualmachineclusterpreference"))
    for i, text in enumerate(flags.containerdisks):
        p = parse_params("volume-containerdisk", text)
        if not p.get("src"):
            raise flag_error("volume-containerdisk", "src must be specified")
        _add_volume("volume-containerdisk", boot_orders, template_spec, p.get("name") or f"{flags.name}-containerdisk-{i}",
                    {"containerDisk": {"image": p["src"]}}, p.get("bootorder"))
    for text in flags.pvcs:
        p = parse_params("volume-pvc", text)
        if not p.get("src"):
            raise flag_error("volume-pvc", "src must be specified")
        namespace, claim = split_prefixed("volume-pvc", p["src"])
        if namespace:
            raise flag_error("volume-pvc", f"not allowed to specify namespace of pvc '{claim}'")
        _add_volume("volume-pvc", boot_orders, template_spec, p.get("name") or claim,
                    {"persistentVolumeClaim": {"claimName": claim}}, p.get("bootorder"))
    if flags.cloud_init_user_data or flags.cloud_init_network_data:
        no_cloud = {k: v for k, v in (("userDataBase64", flags.cloud_init_user_data),
                                      ("networkDataBase64", flags.cloud_init_network_data)) if v}
        _add_volume("cloud-init-user-data", boot_orders, template_spec, CLOUD_INIT_DISK, {"cloudInitNoCloud": no_cloud}, None)
    source = _infer_from(boot_orders, template_spec)
    if source and flags.infer_instancetype and not flags.instancetype and flags.memory is None:
        spec["instancetype"] = {"inferFromVolume": source, "inferFromVolumeFailurePolicy": "Ignore"}
    if source and flags.infer_preference and not flags.preference:
        spec["preference"] = {"inferFromVolume": source, "inferFromVolumeFailurePolicy": "Ignore"}
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": metadata, "spec": spec}


def random_name(rng: random.Random | None = None) -> str:
    r = rng or random.SystemRandom()
    return "vm-" + "".join(r.choice(NAME_ALPHABET) for _ in range(5))


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "t", "1"):
        return True
    if lowered in ("false", "f", "0"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean: {text}")


def flags_from(args: argparse.Namespace) -> VmFlags:
    return VmFlags(name=args.vm_name or random_name(), namespace=args.namespace, run_strategy=args.run_strategy,
                   termination_grace_period=args.termination_grace_period, memory=args.memory,
                   instancetype=args.instancetype, preference=args.preference,
                   containerdisks=tuple(args.volume_containerdisk), pvcs=tuple(args.volume_pvc),
                   cloud_init_user_data=args.cloud_init_user_data,
                   cloud_init_network_data=args.cloud_init_network_data,
                   infer_instancetype=args.infer_instancetype, infer_preference=args.infer_preference)


async def run(args: argparse.Namespace, session: Session) -> None:
    if args.memory is not None and args.instancetype:
        raise CommandError("if any flags in the group [memory instancetype] are set none of the others can be")
    print(yaml.safe_dump(vm_manifest(flags_from(args)), sort_keys=True, default_flow_style=False), end="")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    create = sub.add_parser("create", help="Create a manifest for the specified kind.",
                            description="Create a manifest for the specified kind.")
    kinds = create.add_subparsers(dest="kind", metavar="KIND", required=True)
    p = add_command(kinds, common, "vm", summary="Create a VirtualMachine manifest.", run=run,
                    description="Create a VirtualMachine manifest (printed as YAML).\n\nIf no boot order is given, "
                                "volumes boot in this order: containerdisk > PVC.",
                    example="  virtctl create vm --name=my-vm --run-strategy=Manual --memory=1Gi \\\n"
                            "    --volume-containerdisk=src:example/cirros:0.6,name:root")
    p.add_argument("--name", dest="vm_name", default="", help="name of the VM (default: vm-<random>)")
    p.add_argument("--run-strategy", default="Always", help=f"one of {', '.join(RUN_STRATEGIES)} (default Always)")
    p.add_argument("--termination-grace-period", type=int, default=180, help="grace period in seconds (default 180)")
    p.add_argument("--memory", default=None, help="guest memory (default 512Mi); not with --instancetype")
    p.add_argument("--instancetype", default=None, help="[kind/]name of an instance type")
    p.add_argument("--preference", default=None, help="[kind/]name of a preference")
    p.add_argument("--infer-instancetype", type=parse_bool, nargs="?", const=True, default=True, metavar="BOOL",
                   help="infer the instance type from the first PVC volume (default true)")
    p.add_argument("--infer-preference", type=parse_bool, nargs="?", const=True, default=True, metavar="BOOL",
                   help="infer the preference from the first PVC volume (default true)")
    p.add_argument("--volume-containerdisk", action="append", default=[], metavar="src:IMAGE[,name:N][,bootorder:B]",
                   help="a containerDisk volume; repeatable")
    p.add_argument("--volume-pvc", action="append", default=[], metavar="src:CLAIM[,name:N][,bootorder:B]",
                   help="a PersistentVolumeClaim volume; repeatable")
    p.add_argument("--cloud-init-user-data", default=None, help="base64-encoded cloud-init user data")
    p.add_argument("--cloud-init-network-data", default=None, help="base64-encoded cloud-init network data")
