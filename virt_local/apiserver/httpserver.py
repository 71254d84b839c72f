"""A small HTTP/1.1 server on asyncio streams, with the parts an API server needs that ASGI hides.

It gives handlers the verified TLS client certificate, streams chunked bodies (watch, logs), and
lets a handler take over the raw connection after a `101 Switching Protocols` (aggregated
websockets are spliced byte for byte, as kube-apiserver does). Invariants: one request at a time
per connection, in order; a body over `max_body` is refused with 413 before it is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

import httptools
import orjson

from virt_client.api.status import failure_status

MAX_BODY = 3 * 1024 * 1024
_TOO_LARGE = orjson.dumps(failure_status(413, f"the request is too large: limit is {MAX_BODY} bytes",
                                         "RequestEntityTooLarge"))


@dataclass
class Request:
    method: str
    path: str
    raw_query: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    header_list: list[tuple[str, str]]
    body: bytes
    peer_cert: dict[str, Any] | None
    upgrade: bool = False
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None

    def q(self, name: str, default: str = "") -> str:
        v = self.query.get(name)
        return v[-1] if v else default


Hijack = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json"
    stream: AsyncIterator[bytes] | None = None
    # after writing nothing, give the raw connection to this coroutine (it writes the status line)
    hijack: Hijack | None = None


Handler = Callable[[Request], Awaitable[Response]]


class _BodyTooLarge(Exception):
    pass


class _Parser:
    """Collects complete requests from bytes fed to httptools."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.done: deque[tuple[str, str, list[tuple[str, str]], bytes, bool]] = deque()
        self._url = b""
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._size = 0
        self.parser = httptools.HttpRequestParser(self)
        self.too_large = False

    def on_message_begin(self) -> None:
        self._url, self._headers, self._body, self._size = b"", [], [], 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        for k, v in self._headers:
            if k == "content-length" and v.isdigit() and int(v) > self.max_body:
                self.too_large = True
                raise _BodyTooLarge()

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self.max_body:
            self.too_large = True
            raise _BodyTooLarge()
        self._body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode()
        self.done.append((method, self._url.decode("latin-1"), self._headers, b"".join(self._body), False))


def _status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Status"
    return f"HTTP/1.1 {status} {phrase}\r\n".encode()


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [_status_line(status)]
    lines += [f"{k}: {v}\r\n".encode("latin-1") for k, v in headers]
    lines.append(b"\r\n")
    return b"".join(lines)


class HttpServer:
    def __init__(self, handler: Handler, *, max_body: int = MAX_BODY) -> None:
        self.handler = handler
        self.max_body = max_body
        self._conns: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def serve(self, host: str, port: int, ssl_ctx: ssl.SSLContext | None) -> asyncio.Server:
        return await asyncio.start_server(self._on_conn, host, port, ssl=ssl_ctx, limit=2**20, backlog=1024)

    async def close_connections(self) -> None:
        """Drop every open connection at once (no TLS goodbye: clients reconnect elsewhere)."""
        for w in list(self._writers):
            w.transport.abort()
        for t in list(self._conns):
            t.cancel()
        for t in list(self._conns):
            with contextlib.suppress(BaseException):
                await t

    async def _on_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        self._writers.add(writer)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            self._conns.discard(task)
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert")
        p = _Parser(self.max_body)
        while True:
            upgrade = False
            while not p.done:
                data = await reader.read(65536)
                if not data:
                    return
                try:
                    try:
                        p.parser.feed_data(data)
                    except httptools.HttpParserCallbackError:
                        if p.too_large:
                            raise _BodyTooLarge() from None
                        raise
                except _BodyTooLarge:
                    body = _TOO_LARGE
                    writer.write(_head(413, [("Content-Type", "application/json"),
                                             ("Content-Length", str(len(body))), ("Connection", "close")]) + body)
                    await writer.drain()
                    return
                except httptools.HttpParserUpgrade:
                    # headers are complete; the rest of the stream belongs to the upgraded protocol
                    method = p.parser.get_method().decode()
                    url = p._url.decode("latin-1")
                    if p.done and p.done[-1][1] == url:
                        p.done.pop()
                    p.done.append((method, url, p._headers, b"", True))
                    upgrade = True
                except httptools.HttpParserError:
                    body = b"400 Bad Request: malformed HTTP request"
                    writer.write(_head(400, [("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
                                             ("Connection", "close")]) + body)
                    await writer.drain()
                    return
            method, url, hlist, body, upgrade = p.done.popleft()
            path, _, raw_query = url.partition("?")
            headers: dict[str, str] = {}
            for k, v in hlist:
                headers[k] = f"{headers[k]},{v}" if k in headers else v
            req = Request(method=method, path=path, raw_query=raw_query,
                          query=parse_qs(raw_query, keep_blank_values=True), headers=headers,
                          header_list=hlist, body=body, peer_cert=peer, upgrade=upgrade,
                          reader=reader, writer=writer)
            resp = await self.handler(req)
            if resp.hijack is not None:
                await resp.hijack(reader, writer)
                return
            keep = headers.get("connection", "").lower() != "close" and not upgrade
            await self._write(reader, writer, resp, keep)
            if not keep:
                return

    async def _write(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     resp: Response, keep: bool) -> None:
        headers = [("Content-Type", resp.content_type), *resp.headers]
        if not keep:
            headers.append(("Connection", "close"))
        if resp.stream is None:
            headers.append(("Content-Length", str(len(resp.body))))
            writer.write(_head(resp.status, headers) + resp.body)
            await writer.drain()
            return
        headers.append(("Transfer-Encoding", "chunked"))
        writer.write(_head(resp.status, headers))
        await writer.drain()
        stream = resp.stream

        async def pump() -> None:
            async for chunk in stream:
                if chunk:
                    writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()

        pump_task = asyncio.ensure_future(pump())
        eof_task = asyncio.ensure_future(reader.read(65536))
        try:
            done, _ = await asyncio.wait({pump_task, eof_task}, return_when=asyncio.FIRST_COMPLETED)
            if eof_task in done and pump_task not in done:
                # the client went away (or sent something while streaming): stop the stream
                pump_task.cancel()
                with contextlib.suppress(BaseException):
                    await pump_task
                raise ConnectionResetError("client closed the stream")
            pump_task.result()
        finally:
            for t in (pump_task, eof_task):
                if not t.done():
                    t.cancel()
                    with contextlib.suppress(BaseException):
                        await t
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(BaseException):
                    await aclose()
