"""What every command module shares: registration on the parser and running one subresource action.

A command module exposes `register(sub, common)`, which adds its sub-parser with the global flags
(`common`) and sets `run`, an `async (args, session) -> None` that raises `CommandError` on failure.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from virt_client.errors import ApiError, TransportError

from .calls import DRY_RUN_NOTICE, Call
from .errors import CommandError
from .session import Session, describe

Runner = Callable[[argparse.Namespace, Session], Awaitable[None]]


def add_command(sub: Any, common: argparse.ArgumentParser, name: str, *, summary: str, run: Runner,
                description: str | None = None, example: str | None = None) -> argparse.ArgumentParser:
    """Add sub-command `name` with the global flags; `run` is stored as `args.run`."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, parents=[common], help=summary, description=description or summary,
        epilog=f"Examples:\n{example}" if example else None, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(run=run)
    return parser


def announce_dry_run(dry_run: bool) -> None:
    if dry_run:
        print(DRY_RUN_NOTICE)


async def perform(session: Session, call: Call, *, error_prefix: str, done: str) -> Any:
    """Send `call`; print `done` on success, raise `CommandError(error_prefix + message)` otherwise."""
    try:
        answer = await session.send(call)
    except (ApiError, TransportError) as e:
        raise CommandError(error_prefix + describe(e)) from e
    if done:
        print(done)
    return answer
