"""`virtctl start VM [--paused] [--dry-run]`: PUT `virtualmachines/VM/start` with a `StartOptions` body."""

from __future__ import annotations

import argparse
from typing import Any

from .calls import Call, add_dry_run, dry_run_option, options, vm_action
from .command import add_command, announce_dry_run, perform
from .session import Session


def request(args: argparse.Namespace, namespace: str) -> Call:
    body = options(paused=True if args.paused else None, dryRun=dry_run_option(args.dry_run))
    return vm_action(namespace, args.name, "start", body)


async def run(args: argparse.Namespace, session: Session) -> None:
    announce_dry_run(args.dry_run)
    await perform(session, request(args, session.namespace()), error_prefix="Error starting VirtualMachine ",
                  done=f"VM {args.name} was scheduled to start")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, common, "start", summary="Start a virtual machine.", run=run,
                    example="  # Start a virtual machine called 'myvm':\n  virtctl start myvm")
    p.add_argument("name", metavar="VM")
    p.add_argument("--paused", action="store_true", help="start the virtual machine paused")
    add_dry_run(p)
