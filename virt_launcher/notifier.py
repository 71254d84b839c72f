"""The notify stream: domain and launcher events to virt-handler's notify socket, in order.

Invariants: events are delivered in the order they were emitted; an event that could not be written
is retried after reconnecting (so the handler may see a duplicate, never a gap); `wait_for_flush`
bounds how long the launcher waits for the final event at exit. With no notify socket configured,
events are only kept as `last_events` (tests and `virt-launcher` run by hand).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import Any

from virt_client.launcher_protocol import encode


class Notifier:
    def __init__(self, socket_path: str | None, *, retry_interval: float = 0.2) -> None:
        self.socket_path = socket_path
        self.retry_interval = retry_interval
        self._pending: collections.deque[dict[str, Any]] = collections.deque()
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self.last_events: collections.deque[dict[str, Any]] = collections.deque(maxlen=32)

    def emit(self, event: dict[str, Any]) -> None:
        self.last_events.append(event)
        if self.socket_path is None:
            return
        self._pending.append(event)
        self._drained.clear()
        self._wakeup.set()

    async def run(self) -> None:
        """Deliver events until cancelled."""
        writer: asyncio.StreamWriter | None = None
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._pending:
                    try:
                        if writer is None:
                            assert self.socket_path is not None
                            _, writer = await asyncio.open_unix_connection(self.socket_path)
                        writer.write(encode(self._pending[0]))
                        await writer.drain()
                        self._pending.popleft()
                    except OSError:
                        if writer is not None:
                            writer.close()
                            writer = None
                        await asyncio.sleep(self.retry_interval)
                self._drained.set()
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

    async def wait_for_flush(self, timeout: float) -> bool:  # noqa: ASYNC109
        """True when every emitted event has been written within timeout."""
        try:
            await asyncio.wait_for(self._drained.wait(), timeout)
        except TimeoutError:
            return False
        return True
