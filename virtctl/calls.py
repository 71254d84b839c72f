"""The wire form of virtctl's requests: `Call` (method, path, JSON body) and the subresource paths.

Upstream's client (`kubevirt.io/client-go`, `*_expansion.go`) sends every action as a PUT to
`/apis/subresources.kubevirt.io/v1/namespaces/NS/{virtualmachines|virtualmachineinstances}/NAME/ACTION`
with the options object as the JSON body (never as query parameters); an option left at its default
is omitted, so plain `start` sends `{}`. Soft-reboot and reset send no body at all.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from virt_client.api.constants import SUBRESOURCE_GROUP
from virt_client.resources import ResourceRef

from .errors import CommandError

VERSION_PATH = f"/apis/{SUBRESOURCE_GROUP}/v1/version"
SUB_VMS = ResourceRef(SUBRESOURCE_GROUP, "v1", "virtualmachines", True)
SUB_VMIS = ResourceRef(SUBRESOURCE_GROUP, "v1", "virtualmachineinstances", True)
DRY_RUN_ALL = "All"
DRY_RUN_NOTICE = "Dry Run execution"


@dataclass(frozen=True)
class Call:
    """One HTTP request: `body` None means no body at all (not `{}`)."""

    method: str
    path: str
    body: dict[str, Any] | None = None


def vm_action(namespace: str, name: str, action: str, body: dict[str, Any] | None) -> Call:
    """PUT on a VirtualMachine subresource (start, stop, restart, migrate)."""
    return Call("PUT", SUB_VMS.path(namespace, name, action), body)


def vmi_action(namespace: str, name: str, action: str, body: dict[str, Any] | None) -> Call:
    """PUT on a VirtualMachineInstance subresource (pause, unpause, softreboot, reset)."""
    return Call("PUT", SUB_VMIS.path(namespace, name, action), body)


def vmi_get(namespace: str, name: str, what: str) -> Call:
    """GET on a VirtualMachineInstance subresource (guestosinfo, userlist, ...)."""
    return Call("GET", SUB_VMIS.path(namespace, name, what))


def vmi_stream_path(namespace: str, name: str, stream: str) -> str:
    """The websocket path of the console or VNC stream."""
    return SUB_VMIS.path(namespace, name, stream)


def options(**fields: Any) -> dict[str, Any]:
    """An options body as Go marshals it with `omitempty`: fields left at None are omitted; keys are
    given in upstream's JSON spelling and field order (e.g. `paused`, `dryRun`)."""
    return {key: value for key, value in fields.items() if value is not None}


def dry_run_option(dry_run: bool) -> list[str] | None:
    """`["All"]` when asked, else None (omitted from the body)."""
    return [DRY_RUN_ALL] if dry_run else None


def forced_grace_period(args: argparse.Namespace) -> int | None:
    """`--grace-period` only together with `--force`, as upstream insists; None when neither is given."""
    grace_given = args.grace_period is not None
    if grace_given != bool(args.force):
        raise CommandError("Must both use --force=true and set --grace-period.")
    return int(args.grace_period) if grace_given else None


def add_dry_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true",
                        help="perform a dry run: the server validates the request but changes nothing")


def add_force_grace(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="only with --grace-period=0: do not wait for the guest to shut down")
    parser.add_argument("--grace-period", type=int, default=None, metavar="SECONDS",
                        help="grace period for the guest; needs --force; only 0 is supported")
