"""Websocket streams of console and VNC: connecting (with upstream's retry) and copying bytes.

`wait_for_stream` keeps dialing while the server answers 400 (the VMI exists but is not ready yet),
once a second, until the timeout, as upstream's `SerialConsole`; any other rejection ends at once.
Each handshake may take what is left of that timeout, and never less than `OPEN_SECONDS`, so a busy
machine makes the connection slower, not a failure; a handshake that still does not finish ends the
command with a message.
`splice_stdio` copies stdin to the websocket and the websocket to stdout; `splice_tcp` does the same
for one TCP connection. Both are `virt_client.splice`: they end when either side ends, and close
the websocket.

Stdin is read by a daemon thread (works for TTYs, pipes and files alike, and never blocks the event
loop or interpreter exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, BinaryIO

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from virt_client.splice import StreamEndpoint, WebsocketEndpoint, splice

from .errors import CommandError

ESCAPE = 0x1D  # ^]
CHUNK = 32 * 1024
OPEN_SECONDS = 60.0  # the least time one websocket handshake is given (TCP, TLS, HTTP upgrade)


def rejection_text(error: InvalidStatus) -> str:
    """`Can't connect to websocket (CODE): MESSAGE`, MESSAGE being the Status message or the plain body."""
    response = error.response
    body = bytes(response.body or b"")
    message = body.decode("utf-8", "replace").strip()
    with contextlib.suppress(orjson.JSONDecodeError):
        decoded = orjson.loads(body) if body else None
        if isinstance(decoded, dict) and decoded.get("message"):
            message = str(decoded["message"])
    return f"Can't connect to websocket ({response.status_code}): {message}"


async def wait_for_stream(
    dial: Callable[[float], Awaitable[ClientConnection]], *, retry_seconds: float, interval: float = 1.0,
    open_seconds: float = OPEN_SECONDS, sleep: Callable[[float], Coroutine[Any, Any, None]] = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> ClientConnection:
    """Dial until it succeeds, retrying only on HTTP 400; `retry_seconds` <= 0 means a single try.

    `dial(open_timeout)` is given the seconds its handshake may take: what is left of `retry_seconds`,
    at least `open_seconds`.
    """
    deadline = monotonic() + retry_seconds
    while True:
        try:
            return await dial(max(open_seconds, deadline - monotonic()))
        except InvalidStatus as e:
            if e.response.status_code != 400 or retry_seconds <= 0:
                raise CommandError(rejection_text(e)) from e
            if monotonic() + interval > deadline:
                raise CommandError("Timeout trying to connect to the virtual machine instance") from e
        except TimeoutError as e:
            raise CommandError("Can't connect to websocket: the handshake timed out") from e
        except OSError as e:
            raise CommandError(f"Can't connect to websocket: {e}") from e
        await sleep(interval)


def _stdin_reader(fd: int, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes]) -> None:
    while True:
        try:
            data = os.read(fd, CHUNK)
        except OSError:
            data = b""
        try:
            loop.call_soon_threadsafe(queue.put_nowait, data)
        except RuntimeError:  # the loop is closed: the command is over
            return
        if not data:
            return


class StdioEndpoint:
    """The terminal as a `splice` endpoint: receives standard input (read by a daemon thread), sends
    to standard output (each chunk flushed at once). With `escape`, ^] ends the stream after the
    bytes before it."""

    def __init__(self, stdin_fd: int, stdout: BinaryIO, *, escape: bool) -> None:
        self.stdout, self.escape = stdout, escape
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._ended = False
        threading.Thread(target=_stdin_reader, args=(stdin_fd, asyncio.get_running_loop(), self._queue),
                         name="virtctl-stdin", daemon=True).start()

    async def receive(self) -> bytes | None:
        if self._ended:
            return None
        data = await self._queue.get()
        if not data:
            return None
        if self.escape and ESCAPE in data:
            self._ended = True
            return data[: data.index(ESCAPE)]
        return data

    async def send(self, data: bytes) -> None:
        self.stdout.write(data)
        self.stdout.flush()

    async def close(self) -> None:
        return None  # the reader thread ends at the end of input or with the process


async def splice_stdio(ws: ClientConnection, *, stdin_fd: int, stdout: BinaryIO, escape: bool) -> None:
    """Copy stdin → websocket and websocket → stdout until either ends (or ^] when `escape`)."""
    await splice(StdioEndpoint(stdin_fd, stdout, escape=escape), WebsocketEndpoint(ws))


async def splice_tcp(ws: ClientConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one TCP connection to and from the websocket until either ends."""
    try:
        await splice(StreamEndpoint(reader, writer, chunk=CHUNK), WebsocketEndpoint(ws))
    finally:
        with contextlib.suppress(OSError, ConnectionError):
            await writer.wait_closed()
