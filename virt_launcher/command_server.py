"""The launcher's command socket: newline-delimited JSON requests from virt-handler (protocol v1).

The socket is bound under a temporary name and renamed to `launcher.sock` only once the launcher can
serve requests, so its appearance means "ready" (as upstream renames launcher-init-sock).
Each connection is served in order: one response per request, same `id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from virt_client import launcher_protocol as proto
from virt_client.launcher_protocol import Command, ErrorReason
from virt_launcher.errors import InvalidVMI, LauncherError, NoDomain

Handler = Callable[[Command, dict[str, Any]], Awaitable[dict[str, Any]]]


def _error_reason(exc: LauncherError) -> str:
    if isinstance(exc, InvalidVMI):
        return str(ErrorReason.INVALID_VMI)
    if isinstance(exc, NoDomain):
        return str(ErrorReason.NO_DOMAIN)
    return exc.reason


async def handle_line(line: bytes, handler: Handler) -> dict[str, Any]:
    """One request line → one response object (never raises for bad input)."""
    try:
        req = proto.decode(line)
    except proto.ProtocolError as exc:
        reason = ErrorReason.UNSUPPORTED_VERSION if "version" in str(exc) else ErrorReason.BAD_REQUEST
        return proto.error_response(None, reason, str(exc))
    request_id = req.get("id")
    try:
        cmd = Command(str(req.get("cmd")))
    except ValueError:
        return proto.error_response(request_id, ErrorReason.UNKNOWN_COMMAND, f"unknown command {req.get('cmd')!r}")
    args = req.get("args") or {}
    if not isinstance(args, dict):
        return proto.error_response(request_id, ErrorReason.BAD_REQUEST, "args must be an object")
    try:
        return proto.ok_response(request_id, await handler(cmd, args))
    except LauncherError as exc:
        return proto.error_response(request_id, _error_reason(exc), str(exc))
    except Exception as exc:  # a bug must not kill the server; report it to the caller
        return proto.error_response(request_id, ErrorReason.INTERNAL, f"{type(exc).__name__}: {exc}")


class CommandServer:
    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        staging = self.path.with_name(f".{self.path.name}.init")
        for p in (staging, self.path):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        self._server = await asyncio.start_unix_server(self._serve, path=str(staging), limit=proto.MAX_MESSAGE_BYTES)
        os.chmod(staging, 0o600)
        os.rename(staging, self.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while line := await reader.readline():
                writer.write(proto.encode(await handle_line(line, self.handler)))
                await writer.drain()
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # `close()` ends the connection. Returning (instead of re-raising) matters: asyncio 3.11
            # logs a cancelled connection callback as "Exception in callback" with a traceback.
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
