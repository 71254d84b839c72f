"""`virtctl stop VM [--force --grace-period 0] [--dry-run]`: PUT `virtualmachines/VM/stop`, `StopOptions` body."""

from __future__ import annotations

import argparse
from typing import Any

from .calls import Call, add_dry_run, add_force_grace, dry_run_option, forced_grace_period, options, vm_action
from .command import add_command, announce_dry_run, perform
from .session import Session


def request(args: argparse.Namespace, namespace: str) -> Call:
    body = options(gracePeriod=forced_grace_period(args), dryRun=dry_run_option(args.dry_run))
    return vm_action(namespace, args.name, "stop", body)


async def run(args: argparse.Namespace, session: Session) -> None:
    call = request(args, session.namespace())
    announce_dry_run(args.dry_run)
    prefix = "error force stopping VirtualMachine: " if args.force else "error stopping VirtualMachine "
    await perform(session, call, error_prefix=prefix, done=f"VM {args.name} was scheduled to stop")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, common, "stop", summary="Stop a virtual machine.", run=run,
                    example="  # Stop a virtual machine called 'myvm':\n  virtctl stop myvm\n"
                            "  # Stop it without waiting for the guest:\n  virtctl stop myvm --force --grace-period 0")
    p.add_argument("name", metavar="VM")
    add_force_grace(p)
    add_dry_run(p)
