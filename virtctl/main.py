"""`virtctl`: argument parsing, the global kubeconfig flags and the exit code.

Global flags (`--kubeconfig`, `--context`, `-n/--namespace`) are accepted before or after the
command, like kubectl's. A `CommandError` prints its message on stderr and exits 1; an interrupt
exits 130; success exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from . import (
    console,
    create_vm,
    expose,
    guestosinfo,
    migrate,
    migrate_cancel,
    pause,
    reset,
    restart,
    soft_reboot,
    start,
    stop,
    vnc,
)
from . import version as version_command
from .errors import CommandError
from .kubeconfig import ClientSettings
from .session import Session

COMMANDS = (start, stop, restart, migrate, migrate_cancel, pause, soft_reboot, reset, console, vnc,
            guestosinfo, expose, create_vm, version_command)


def _global_flags(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("--kubeconfig", default=default,
                        help="path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
    parser.add_argument("--context", default=default, help="the kubeconfig context to use")
    parser.add_argument("-n", "--namespace", default=default,
                        help="the namespace (default: the context's namespace, else 'default')")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: global flags and one sub-command per module in `COMMANDS`."""
    common = argparse.ArgumentParser(add_help=False)
    _global_flags(common, argparse.SUPPRESS)  # after the command, only override what is given
    root = argparse.ArgumentParser(
        prog="virtctl", description="virtctl controls virtual machine related operations on your kubernetes cluster.")
    _global_flags(root, None)
    sub = root.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub, common)
    return root


async def _run(args: argparse.Namespace) -> None:
    settings = ClientSettings(kubeconfig=args.kubeconfig, context=args.context, namespace=args.namespace)
    async with Session(settings) as session:
        await args.run(args, session)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `virtctl` console script."""
    args = build_parser().parse_args(argv)
    try:
        asyncio.run(_run(args))
    except CommandError as e:
        print(e.message, file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
