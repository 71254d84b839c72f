"""`virtctl guestosinfo VMI`: GET `virtualmachineinstances/VMI/guestosinfo`, printed as indented JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .calls import Call, vmi_get
from .command import add_command, perform
from .session import Session


def request(args: argparse.Namespace, namespace: str) -> Call:
    return vmi_get(namespace, args.name, "guestosinfo")


async def run(args: argparse.Namespace, session: Session) -> None:
    info = await perform(session, request(args, session.namespace()),
                         error_prefix=f"Error getting guestosinfo of VirtualMachineInstance {args.name}, ", done="")
    print(json.dumps(info if info is not None else {}, indent=2))


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, common, "guestosinfo", summary="Return guest agent info about operating system.", run=run,
                    example="  # Guest OS info of a virtual machine instance called 'myvmi':\n  virtctl guestosinfo myvmi")
    p.add_argument("name", metavar="VMI")
