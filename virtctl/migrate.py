"""`virtctl migrate VM [--addedNodeSelector k=v,...] [--dry-run]`: PUT `virtualmachines/VM/migrate` with
a `MigrateOptions` body; virt-api creates the VirtualMachineInstanceMigration."""

from __future__ import annotations

import argparse
from typing import Any

from .calls import Call, add_dry_run, dry_run_option, options, vm_action
from .command import add_command, announce_dry_run, perform
from .errors import CommandError
from .session import Session


def parse_selector(text: str | None) -> dict[str, str] | None:
    """`k=v,k2=v2` into a map (None when not given), as cobra's StringToString flag."""
    if not text:
        return None
    out: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f'invalid argument "{text}" for "--addedNodeSelector" flag: {item} must be formatted as key=value')
        out[key] = value
    return out


def request(args: argparse.Namespace, namespace: str) -> Call:
    body = options(dryRun=dry_run_option(args.dry_run), addedNodeSelector=parse_selector(args.added_node_selector))
    return vm_action(namespace, args.name, "migrate", body)


async def run(args: argparse.Namespace, session: Session) -> None:
    call = request(args, session.namespace())
    announce_dry_run(args.dry_run)
    await perform(session, call, error_prefix="Error migrating VirtualMachine ",
                  done=f"VM {args.name} was scheduled to migrate")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, common, "migrate", summary="Migrate a virtual machine.", run=run,
                    example="  # Migrate a virtual machine called 'myvm':\n  virtctl migrate myvm")
    p.add_argument("name", metavar="VM")
    p.add_argument("--addedNodeSelector", dest="added_node_selector", metavar="KEY=VALUE,...",
                   help="an extra node selector for this one migration (it can only narrow the VM's own)")
    add_dry_run(p)
