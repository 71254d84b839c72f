"""An asyncio event loop that sends the TLS alert of a failed handshake instead of dropping it.

When a server refuses a client certificate (an unknown CA, a bad signature, none where one is
required), OpenSSL writes the alert (`unknown_ca`, `bad_certificate`, `certificate_required`) into
the connection's outgoing buffer and fails the handshake. asyncio's `SSLProtocol` then closes the
socket without sending that buffer, so the client sees a bare EOF ("EOF occurred in violation of
protocol") and cannot tell a refusal from a crash. `AlertingEventLoop` writes the pending bytes first;
Go's and OpenSSL's clients then report the server's reason (`tlsv1 alert unknown ca`).

This relies on the private `asyncio.sslproto.SSLProtocol` of CPython 3.11+ (`_on_handshake_complete`,
`_process_outgoing`); a loop on which they are missing behaves as plain asyncio. Use `run(main)`
instead of `asyncio.run(main)` in a process entry point.
"""

from __future__ import annotations

import asyncio
import asyncio.selector_events
import asyncio.sslproto
import contextlib
import ssl
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class AlertingSSLProtocol(asyncio.sslproto.SSLProtocol):
    """asyncio's TLS protocol, flushing the alert before a failed handshake closes the socket."""

    def _on_handshake_complete(self, handshake_exc: BaseException | None) -> None:
        if handshake_exc is not None:
            with contextlib.suppress(Exception):  # best effort: the socket may already be gone
                self._process_outgoing()  # type: ignore[attr-defined]
        super()._on_handshake_complete(handshake_exc)


class AlertingEventLoop(asyncio.SelectorEventLoop):
    """The default selector loop, whose TLS connections use `AlertingSSLProtocol`."""

    def _make_ssl_transport(
            self, rawsock: Any, protocol: asyncio.BaseProtocol, sslcontext: ssl.SSLContext,
            waiter: asyncio.Future[Any] | None = None, *, server_side: bool = False,
            server_hostname: str | None = None, extra: dict[str, Any] | None = None, server: Any = None,
            ssl_handshake_timeout: float | None = None, ssl_shutdown_timeout: float | None = None,
    ) -> asyncio.Transport:
        ssl_protocol = AlertingSSLProtocol(
            self, protocol, sslcontext, waiter, server_side, server_hostname,  # type: ignore[arg-type]
            ssl_handshake_timeout=ssl_handshake_timeout,  # type: ignore[arg-type]
            ssl_shutdown_timeout=ssl_shutdown_timeout)
        asyncio.selector_events._SelectorSocketTransport(  # type: ignore[attr-defined]
            self, rawsock, ssl_protocol, extra=extra, server=server)
        return ssl_protocol._app_transport


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on an `AlertingEventLoop`."""
    with asyncio.Runner(loop_factory=AlertingEventLoop) as runner:
        return runner.run(main)
