"""`virtctl soft-reboot VMI`: PUT `virtualmachineinstances/VMI/softreboot` without a body (guest agent
or ACPI reboot)."""

from __future__ import annotations

import argparse
from typing import Any

from .calls import Call, vmi_action
from .command import add_command, perform
from .session import Session


def request(args: argparse.Namespace, namespace: str) -> Call:
    return vmi_action(namespace, args.name, "softreboot", None)


async def run(args: argparse.Namespace, session: Session) -> None:
    await perform(session, request(args, session.namespace()),
                  error_prefix=f"Error soft rebooting VirtualMachineInstance {args.name}: ",
                  done=f"VMI {args.name} was scheduled to soft-reboot")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, common, "soft-reboot", summary="Soft reboot a virtual machine instance.", run=run,
                    example="  # Soft reboot a virtual machine instance called 'myvmi':\n  virtctl soft-reboot myvmi")
    p.add_argument("name", metavar="VMI")
