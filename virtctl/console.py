"""`virtctl console VMI [--timeout MINUTES]`: the serial console over a websocket.

GET `virtualmachineinstances/VMI/console` upgraded to a websocket (subprotocol `plain.kubevirt.io`),
retried while the server answers 400 (VMI not ready) for `--timeout` minutes (default 5), as upstream.
When stdin is a terminal it is put in raw mode and `^]` leaves; otherwise bytes are streamed both ways
unchanged (for scripts and tests) until stdin ends or the server closes the stream.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import termios
import tty
from collections.abc import Iterator
from typing import Any

from .calls import vmi_stream_path
from .command import add_command
from .session import Session
from .streams import splice_stdio, wait_for_stream


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """Raw mode on the terminal `fd` for the duration; restored whatever happens."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def run(args: argparse.Namespace, session: Session) -> None:
    path = vmi_stream_path(session.namespace(), args.name, "console")
    ws = await wait_for_stream(lambda seconds: session.open_stream(path, open_timeout=seconds),
                               retry_seconds=args.timeout * 60.0)
    stdin_fd = sys.stdin.fileno()
    interactive = os.isatty(stdin_fd)
    if interactive:
        print(f"Successfully connected to {args.name} console. The escape sequence is ^]", file=sys.stderr)
        with raw_terminal(stdin_fd):
            await splice_stdio(ws, stdin_fd=stdin_fd, stdout=sys.stdout.buffer, escape=True)
        print(file=sys.stderr)
    else:
        print(f"Successfully connected to {args.name} console.", file=sys.stderr)
        await splice_stdio(ws, stdin_fd=stdin_fd, stdout=sys.stdout.buffer, escape=False)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, common, "console", summary="Connect to a console of a virtual machine instance.", run=run,
                    example="  # Connect to the console on VirtualMachineInstance 'myvmi':\n  virtctl console myvmi\n"
                            "  # Configure one minute timeout (default 5 minutes)\n  virtctl console --timeout=1 myvmi")
    p.add_argument("name", metavar="VMI")
    p.add_argument("--timeout", type=int, default=5,
                   help="the number of minutes to wait for the virtual machine instance to be ready (default 5)")
