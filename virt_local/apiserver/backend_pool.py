"""Keep-alive HTTP/1.1 connections from the API server to its backends: aggregated API servers
and admission webhooks.

A `BackendPool` holds the idle connections to one address verified against one TLS context:
each request is written in one write and the answer parsed with httptools; a connection goes back
to the pool only after its response was read to the end, and one that the backend closed while
idle is replaced, the request sent again once. `BackendPools` keeps one pool per TLS identity,
address and server name, and closes them all with the API server.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable

import httptools


class BackendError(Exception):
    """The backend could not be reached or answered something that is not HTTP/1.1."""


class _ResponseParser:
    """httptools callbacks for one response: status, headers, then body pieces as they come."""

    def __init__(self) -> None:
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.headers_done = False
        self.keep_alive = False
        self.complete = False
        self.parser = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        self.keep_alive = self.parser.should_keep_alive()  # reads False once the message is complete

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class BackendResponse:
    """Status and headers of a backend answer; the body is read whole (`read`) or piece by piece (`chunks`)."""

    def __init__(self, pool: BackendPool, conn: _Connection, p: _ResponseParser, head_only: bool) -> None:
        self._pool, self._conn, self._p = pool, conn, p
        self.status = p.parser.get_status_code()
        self.headers = p.headers
        self._done = head_only or self.status in (204, 304) or p.complete
        self.keep_alive = p.keep_alive
        self._released = False

    def header(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.headers if k.lower() == name), default)

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            while True:
                if self._p.body:
                    data = b"".join(self._p.body)
                    self._p.body.clear()
                    yield data
                if self._done:
                    break
                await self._feed()
        finally:
            self.release()

    async def read(self) -> bytes:
        return b"".join([c async for c in self.chunks()])

    async def _feed(self) -> None:
        try:
            data = await self._conn.reader.read(65536)
        except (OSError, ssl.SSLError) as e:
            raise BackendError(str(e)) from None
        if not data:
            if self.header("content-length") or "chunked" in self.header("transfer-encoding"):
                raise BackendError("the backend closed the connection in the middle of a response")
            self._done, self.keep_alive = True, False  # the body ends with the connection
            return
        try:
            self._p.parser.feed_data(data)
        except httptools.HttpParserError as e:
            raise BackendError(f"malformed response: {e}") from None
        self._done = self._p.complete

    def release(self) -> None:
        """Back to the pool when the whole response was read on a keep-alive connection, else closed."""
        if self._released:
            return
        self._released = True
        if self._done and self.keep_alive:
            self._pool.put(self._conn)
        else:
            self._conn.close()


class BackendPool:
    """Idle keep-alive connections to one backend address, verified against one TLS context."""

    def __init__(self, host: str, port: int, ssl_ctx: ssl.SSLContext, sni: str, max_idle: int = 32) -> None:
        self.host, self.port, self.ssl, self.sni, self.max_idle = host, port, ssl_ctx, sni, max_idle
        self._idle: list[_Connection] = []
        self._authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def put(self, conn: _Connection) -> None:
        if conn.usable() and len(self._idle) < self.max_idle:
            self._idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()

    async def _open(self) -> _Connection:
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self.ssl,
                                                           server_hostname=self.sni)
        except (OSError, ssl.SSLError) as e:
            raise BackendError(str(e) or type(e).__name__) from None
        return _Connection(reader, writer)

    async def request(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> BackendResponse:
        """Send one request and read the answer's head; the caller reads or streams the body."""
        # The body goes in the same write, so an `Expect: 100-continue` would only add an interim answer.
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._authority}",
                 *(f"{k}: {v}" for k, v in headers if k.lower() != "expect")]
        if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
            lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        while self._idle:
            conn = self._idle.pop()
            if not conn.usable():
                conn.close()
                continue
            try:
                return await self._exchange(conn, method, data)
            except _Stale:
                conn.close()  # closed by the backend while idle: nothing was processed, send again
        conn = await self._open()
        try:
            return await self._exchange(conn, method, data)
        except _Stale:
            conn.close()
            raise BackendError("the backend closed the connection without answering") from None

    async def _exchange(self, conn: _Connection, method: str, data: bytes) -> BackendResponse:
        p = _ResponseParser()
        received = False
        try:
            conn.writer.write(data)
            await conn.writer.drain()
            while not p.headers_done:
                chunk = await conn.reader.read(65536)
                if not chunk:
                    if received:
                        raise BackendError("the backend closed the connection in the middle of a response")
                    raise _Stale
                received = True
                p.parser.feed_data(chunk)
        except asyncio.CancelledError:
            conn.close()  # the caller gave up (a timeout): the answer may still come, never on a pooled connection
            raise
        except (ConnectionResetError, BrokenPipeError) as e:
            if not received:
                raise _Stale from None
            conn.close()
            raise BackendError(str(e)) from None
        except (OSError, ssl.SSLError) as e:
            conn.close()
            raise BackendError(str(e) or type(e).__name__) from None
        except httptools.HttpParserError as e:
            conn.close()
            raise BackendError(f"malformed response: {e}") from None
        except BackendError:
            conn.close()
            raise
        return BackendResponse(self, conn, p, head_only=method == "HEAD")


class _Stale(Exception):
    pass


class BackendPools:
    """One `BackendPool` per (TLS identity, host, port, server name); the TLS context is made once,
    when the pool is."""

    def __init__(self) -> None:
        self._pools: dict[tuple[str, str, int, str], BackendPool] = {}

    def get(self, tls_key: str, host: str, port: int, sni: str,
            make_ssl: Callable[[], ssl.SSLContext]) -> BackendPool:
        key = (tls_key, host, port, sni)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = BackendPool(host, port, make_ssl(), sni)
        return pool

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


def split_host_port(target: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` → (host, port)."""
    host, _, port = target.rpartition(":")
    return host.strip("[]"), int(port)
