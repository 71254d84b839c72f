"""The notify socket: launchers stream domain and launcher events here (protocol v1, newline JSON).

Each event is handed to `on_event`; when a launcher's connection closes (it exited, or was killed
without a word) `on_disconnect` receives the VMI uids that connection spoke for, so the handler
looks at those VMIs at once instead of waiting for the periodic resync.

Invariants: malformed lines are skipped, never fatal; the socket file is replaced on start (a stale
one from a previous handler is removed) and removed on close; `serve()` runs until cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from virt_client import unix_sockets
from virt_client.launcher_protocol import MAX_MESSAGE_BYTES, ProtocolError, decode

log = logging.getLogger(__name__)

OnEvent = Callable[[Mapping[str, Any]], None]
OnDisconnect = Callable[[set[str]], None]


class NotifyServer:
    def __init__(self, path: Path, on_event: OnEvent, on_disconnect: OnDisconnect) -> None:
        self.path = path
        self.on_event = on_event
        self.on_disconnect = on_disconnect
        self._server: asyncio.AbstractServer | None = None
        self._connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

    @property
    def serving(self) -> bool:
        return self._server is not None and self._server.is_serving()

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server = await unix_sockets.start_unix_server(self._serve, str(self.path), limit=MAX_MESSAGE_BYTES)
        # launchers may run as another (non-root) user on a cluster node
        os.chmod(self.path, 0o666)

    async def serve(self) -> None:
        """Serve until cancelled, then close."""
        if self._server is None:
            await self.start()
        try:
            await asyncio.Future()
        finally:
            await self.close()

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        # End connections by closing their transports (readline then sees EOF): cancelling a stream
        # server's connection task makes asyncio log the cancellation as an error.
        for writer in list(self._connections.values()):
            writer.transport.abort()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        uids: set[str] = set()
        try:
            while line := await reader.readline():
                try:
                    event = decode(line)
                except ProtocolError as exc:
                    log.debug("notify: skipping a malformed event: %s", exc)
                    continue
                vmi = event.get("vmi")
                if isinstance(vmi, Mapping) and vmi.get("uid"):
                    uids.add(str(vmi["uid"]))
                try:
                    self.on_event(event)
                except Exception:
                    log.exception("notify: handling an event failed")
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            self._connections.pop(task, None)
            writer.close()
            if uids:
                try:
                    self.on_disconnect(uids)
                except Exception:
                    log.exception("notify: handling a disconnect failed")
