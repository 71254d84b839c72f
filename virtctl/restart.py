"""`virtctl restart VM [--force --grace-period 0] [--dry-run]`: PUT `virtualmachines/VM/restart`,
`RestartOptions` body (`gracePeriodSeconds`)."""

from __future__ import annotations

import argparse
from typing import Any

from .calls import Call, add_dry_run, add_force_grace, dry_run_option, forced_grace_period, options, vm_action
from .command import add_command, announce_dry_run, perform
from .session import Session


def request(args: argparse.Namespace, namespace: str) -> Call:
    body = options(gracePeriodSeconds=forced_grace_period(args), dryRun=dry_run_option(args.dry_run))
    return vm_action(namespace, args.name, "restart", body)


async def run(args: argparse.Namespace, session: Session) -> None:
    call = request(args, session.namespace())
    announce_dry_run(args.dry_run)
    prefix = "error force restarting VirtualMachine: " if args.force else "error restarting VirtualMachine: "
    await perform(session, call, error_prefix=prefix, done=f"VM {args.name} was scheduled to restart")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, common, "restart", summary="Restart a virtual machine.", run=run,
                    example="  # Restart a virtual machine called 'myvm':\n  virtctl restart myvm")
    p.add_argument("name", metavar="VM")
    add_force_grace(p)
    add_dry_run(p)
