"""Two-way copying between two byte streams: `splice(a, b)`, and the endpoints of the transports
the components splice (asyncio streams and `websockets` connections; the server-side websockets of
starlette and aiohttp have their adapters next to their servers).

`splice` copies a → b and b → a in one `asyncio.TaskGroup`. Invariants:
- when either side ends (`receive` returns None, or `send` raises `StreamClosed`), the other
  direction is cancelled and both endpoints are closed: a stream ends for both sides at once;
- a failure of either side (any other exception) ends the splice the same way and is re-raised;
- cancelling `splice` cancels both copies and still closes both endpoints; no task outlives the call;
- empty chunks are never sent (an empty websocket frame is not an end of stream).

An endpoint maps its transport's ordinary disconnect errors to the end of the stream, so only
unexpected failures leave `splice`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Protocol

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed

CHUNK = 64 * 1024


class StreamClosed(Exception):
    """Raised by `Endpoint.send` when the peer has gone: the end of that side, not a failure."""


class Endpoint(Protocol):
    async def receive(self) -> bytes | None:
        """The next chunk, or None once the stream has ended."""
        ...

    async def send(self, data: bytes) -> None:
        """Write one chunk; raise `StreamClosed` when the peer has gone."""
        ...

    async def close(self) -> None:
        """Close the stream; never raises for a stream that is already closed."""
        ...


async def _copy(src: Endpoint, dst: Endpoint) -> None:
    with contextlib.suppress(StreamClosed):
        while (data := await src.receive()) is not None:
            if data:
                await dst.send(data)


async def splice(a: Endpoint, b: Endpoint) -> None:
    """Copy both ways until either side ends or fails; then close both (see the module docstring)."""
    try:
        async with asyncio.TaskGroup() as tg:
            forward = tg.create_task(_copy(a, b))
            backward = tg.create_task(_copy(b, a))
            forward.add_done_callback(lambda _: backward.cancel())
            backward.add_done_callback(lambda _: forward.cancel())
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    finally:
        try:
            await a.close()
        finally:
            await b.close()


class StreamEndpoint:
    """An asyncio stream pair (TCP, TLS or unix socket). `close` closes the writer without waiting for
    the transport to finish closing, so a TLS peer that never answers the shutdown cannot hold it."""

    _GONE = (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError)

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, chunk: int = CHUNK) -> None:
        self.reader, self.writer, self.chunk = reader, writer, chunk

    async def receive(self) -> bytes | None:
        try:
            data = await self.reader.read(self.chunk)
        except self._GONE:
            return None
        return data or None

    async def send(self, data: bytes) -> None:
        try:
            self.writer.write(data)
            await self.writer.drain()
        except self._GONE as e:
            raise StreamClosed(str(e)) from None

    async def close(self) -> None:
        self.writer.close()


class WebsocketEndpoint:
    """A `websockets` connection (client side, as virt-api dials virt-handler and virtctl dials
    virt-api); data travels in binary frames, a text frame is passed on as its UTF-8 bytes."""

    def __init__(self, ws: Connection) -> None:
        self.ws = ws

    async def receive(self) -> bytes | None:
        try:
            message = await self.ws.recv()
        except ConnectionClosed:
            return None
        return message if isinstance(message, bytes) else message.encode()

    async def send(self, data: bytes) -> None:
        try:
            await self.ws.send(data)
        except ConnectionClosed as e:
            raise StreamClosed(str(e)) from None

    async def close(self) -> None:
        await self.ws.close()
