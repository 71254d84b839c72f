"""`virtctl pause|unpause vm|vmi NAME [--dry-run]`: PUT `virtualmachineinstances/NAME/{pause,unpause}`.

For `vm` the VirtualMachine is read first: its VMI is named after `spec.template.metadata.name` when
set, else after the VM; a missing VMI of a Halted VM is reported as "not set to run", as upstream.
"""

from __future__ import annotations

import argparse
from typing import Any

from virt_client.errors import ApiError, NotFound, TransportError
from virt_client.resources import VMS

from .calls import Call, add_dry_run, dry_run_option, options, vmi_action
from .command import add_command, announce_dry_run
from .errors import CommandError
from .session import Session, describe

VM_KINDS = frozenset({"vm", "vms", "virtualmachine", "virtualmachines"})
VMI_KINDS = frozenset({"vmi", "vmis", "virtualmachineinstance", "virtualmachineinstances"})
GERUND = {"pause": "pausing", "unpause": "unpausing"}


def resource_kind(text: str) -> str:
    kind = text.lower()
    if kind in VM_KINDS:
        return "vm"
    if kind in VMI_KINDS:
        return "vmi"
    raise CommandError(f"unsupported resource type: {text}")


def vmi_name_of(vm: dict[str, Any]) -> str:
    """The name of the VMI a VM creates."""
    template_name = (((vm.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("name")
    return str(template_name or vm["metadata"]["name"])


def request(action: str, namespace: str, vmi_name: str, dry_run: bool) -> Call:
    return vmi_action(namespace, vmi_name, action, options(dryRun=dry_run_option(dry_run)))


def _not_found_message(action: str, vm: dict[str, Any], vmi_name: str) -> str:
    strategy = (vm.get("spec") or {}).get("runStrategy")
    if action == "pause" and strategy == "Halted":
        return f"Error pausing VirtualMachineInstance {vmi_name}. VirtualMachine {vm['metadata']['name']} is not set to run"
    return f"Error {GERUND[action]} VirtualMachineInstance {vmi_name} was not found"


async def _run(action: str, args: argparse.Namespace, session: Session) -> None:
    kind = resource_kind(args.kind)
    namespace = session.namespace()
    vm: dict[str, Any] | None = None
    vmi_name = args.name
    if kind == "vm":
        try:
            vm = await session.send(Call("GET", VMS.path(namespace, args.name)))
        except (ApiError, TransportError) as e:
            raise CommandError(f"Error getting VirtualMachine {args.name}: {describe(e)}") from e
        vmi_name = vmi_name_of(vm)
    announce_dry_run(args.dry_run)
    try:
        await session.send(request(action, namespace, vmi_name, args.dry_run))
    except NotFound as e:
        if vm is not None:
            raise CommandError(_not_found_message(action, vm, vmi_name)) from e
        raise CommandError(f"Error {GERUND[action]} VirtualMachineInstance {vmi_name}: {describe(e)}") from e
    except (ApiError, TransportError) as e:
        raise CommandError(f"Error {GERUND[action]} VirtualMachineInstance {vmi_name}: {describe(e)}") from e
    print(f"VMI {vmi_name} was scheduled to {action}")


async def run_pause(args: argparse.Namespace, session: Session) -> None:
    await _run("pause", args, session)


async def run_unpause(args: argparse.Namespace, session: Session) -> None:
    await _run("unpause", args, session)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    for action, runner, summary in (
        ("pause", run_pause, "Pause a virtual machine (its state is kept in memory)."),
        ("unpause", run_unpause, "Unpause a virtual machine."),
    ):
        p = add_command(sub, common, action, summary=summary, run=runner,
                        description=summary + "\nFirst argument is the resource type: vm (virtualmachine) or "
                                              "vmi (virtualmachineinstance); second is its name.",
                        example=f"  # {action.capitalize()} a virtual machine called 'myvm':\n  virtctl {action} vm myvm")
        p.add_argument("kind", metavar="vm|vmi")
        p.add_argument("name", metavar="NAME")
        add_dry_run(p)
