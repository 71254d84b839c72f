"""`virtctl vnc VMI [--proxy-only] [--port P] [--address A] [--preserve-session]`: VNC through a local
TCP proxy.

The websocket (GET `virtualmachineinstances/VMI/vnc`, subprotocol `plain.kubevirt.io`) is opened
first, so a refusal is reported before anything listens. Then one local TCP connection is accepted
on ADDRESS:PORT (PORT 0: any free port) and spliced to it. With `--proxy-only` the port is printed as
upstream prints it, `{"port":N}`, and a viewer of your choice connects; otherwise `remote-viewer` or
`vncviewer` is started on it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
from typing import Any

from .calls import vmi_stream_path
from .command import add_command
from .errors import CommandError
from .session import Session
from .streams import splice_tcp, wait_for_stream

VIEWERS = (("remote-viewer", "vnc://{address}:{port}"), ("vncviewer", "{address}:{port}"))


def port_line(port: int) -> str:
    """What `--proxy-only` prints: Go's `json.Marshal(struct{Port int})`."""
    return json.dumps({"port": port}, separators=(",", ":"))


def viewer_command(address: str, port: int) -> list[str]:
    for binary, target in VIEWERS:
        path = shutil.which(binary)
        if path:
            return [path, target.format(address=address, port=port)]
    raise CommandError("could not find remote-viewer or vncviewer binary in $PATH")


async def _wait_for_viewer(accepted: asyncio.Future[Any], viewer: asyncio.subprocess.Process | None) -> None:
    """Wait until a viewer connects; fail if the viewer we started exits first."""
    if viewer is None:
        await accepted
        return
    exited = asyncio.ensure_future(viewer.wait())
    try:
        await asyncio.wait({accepted, exited}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        exited.cancel()
    if not accepted.done():
        raise CommandError(f"the VNC viewer exited (code {viewer.returncode}) before connecting")


async def run(args: argparse.Namespace, session: Session) -> None:
    path = vmi_stream_path(session.namespace(), args.name, "vnc")
    query = "preserveSession=true" if args.preserve_session else ""
    try:
        ws = await wait_for_stream(lambda seconds: session.open_stream(path, query, open_timeout=seconds),
                                   retry_seconds=0)
    except CommandError as e:
        raise CommandError(f"Can't access VMI {args.name}: {e.message}") from e
    accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = \
        asyncio.get_running_loop().create_future()

    def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if accepted.done():
            writer.close()  # one viewer per run, as upstream
        else:
            accepted.set_result((reader, writer))

    try:
        server = await asyncio.start_server(on_connect, args.address, args.port)
    except OSError as e:
        await ws.close()
        raise CommandError(f"Can't listen on {args.address}:{args.port}: {e}") from e
    async with server:
        port = int(server.sockets[0].getsockname()[1])
        viewer: asyncio.subprocess.Process | None = None
        if args.proxy_only:
            print(port_line(port), flush=True)
        else:
            try:
                viewer = await asyncio.create_subprocess_exec(*viewer_command(args.address, port))
            except CommandError:
                await ws.close()
                raise
        try:
            await _wait_for_viewer(accepted, viewer)
            reader, writer = accepted.result()
            server.close()
            await splice_tcp(ws, reader, writer)
        finally:
            await ws.close()
            if viewer is not None and viewer.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    viewer.terminate()
                await viewer.wait()


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, common, "vnc", summary="Open a VNC connection to a virtual machine instance.", run=run,
                    example="  # Connect to 'myvmi' with remote-viewer:\n  virtctl vnc myvmi\n"
                            "  # Only run the proxy and print its port:\n  virtctl vnc myvmi --proxy-only --port 5900")
    p.add_argument("name", metavar="VMI")
    p.add_argument("--proxy-only", action="store_true",
                   help="only run the local proxy and print its port, for a VNC viewer of your choice")
    p.add_argument("--port", type=int, default=0, help="local port of the proxy (default: any free port)")
    p.add_argument("--address", default="127.0.0.1", help="local address of the proxy (default 127.0.0.1)")
    p.add_argument("--preserve-session", action="store_true",
                   help="do not disconnect other VNC clients of this virtual machine instance")
