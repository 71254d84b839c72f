"""`virtctl reset VMI`: PUT `virtualmachineinstances/VMI/reset` without a body (a hard reset, like the
reset button)."""

from __future__ import annotations

import argparse
from typing import Any

from .calls import Call, vmi_action
from .command import add_command, perform
from .session import Session


def request(args: argparse.Namespace, namespace: str) -> Call:
    return vmi_action(namespace, args.name, "reset", None)


async def run(args: argparse.Namespace, session: Session) -> None:
    await perform(session, request(args, session.namespace()),
                  error_prefix=f"Error resetting VirtualMachineInstance {args.name}: ",
                  done=f"VMI {args.name} was scheduled to reset")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, common, "reset", summary="Reset a virtual machine instance (hard reset).", run=run,
                    example="  # Reset a virtual machine instance called 'myvmi':\n  virtctl reset myvmi")
    p.add_argument("name", metavar="VMI")
