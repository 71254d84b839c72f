"""`virtctl migrate-cancel VM [--dry-run]`: lists the namespace's VirtualMachineInstanceMigrations, picks
the one for this VMI (`spec.vmiName`) that is not final, and DELETEs it (upstream's way to cancel)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

from virt_client.errors import ApiError, TransportError
from virt_client.resources import VMIMS

from .calls import Call, add_dry_run, dry_run_option
from .command import add_command, announce_dry_run
from .errors import CommandError
from .session import Session, describe

FINAL_PHASES = frozenset({"Succeeded", "Failed"})


def active_migration(migrations: Iterable[Mapping[str, Any]], vmi_name: str) -> str | None:
    """The name of the migration of `vmi_name` that is still in progress, if any."""
    for vmim in migrations:
        if (vmim.get("spec") or {}).get("vmiName") != vmi_name:
            continue
        if (vmim.get("status") or {}).get("phase") in FINAL_PHASES:
            continue
        return str(vmim["metadata"]["name"])
    return None


def delete_request(namespace: str, migration: str, dry_run: bool) -> Call:
    body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
    if dry_run:
        body["dryRun"] = dry_run_option(True)
    return Call("DELETE", VMIMS.path(namespace, migration), body)


async def run(args: argparse.Namespace, session: Session) -> None:
    namespace = session.namespace()
    announce_dry_run(args.dry_run)
    try:
        listing = await session.send(Call("GET", VMIMS.path(namespace)))
    except (ApiError, TransportError) as e:
        raise CommandError(f"Error fetching virtual machine instance migration list  {describe(e)}") from e
    migration = active_migration(listing.get("items") or [], args.name)
    if migration is None:
        raise CommandError(f"Found no migration to cancel for {args.name}")
    try:
        await session.send(delete_request(namespace, migration, args.dry_run))
    except (ApiError, TransportError) as e:
        raise CommandError(f"Error canceling migration {migration} of a VirtualMachine {args.name}: {describe(e)}") from e
    print(f"VM {args.name} was scheduled to migrate-cancel")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, common, "migrate-cancel", summary="Cancel migration of a virtual machine.", run=run,
                    example="  # Cancel the migration of a virtual machine called 'myvm':\n  virtctl migrate-cancel myvm")
    p.add_argument("name", metavar="VM")
    add_dry_run(p)
