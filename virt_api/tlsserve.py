"""TLS serving for uvicorn: a context that follows its files, and the peer certificate in the scope.

Two gaps of uvicorn are closed here:
- Rotation: `ReloadingContext.server_context()` returns a context whose SNI callback swaps every new
  handshake onto the current context, rebuilt when the certificate, key or client CA changes. Existing
  connections keep theirs; no restart is needed.
- Client certificates: uvicorn does not put the peer certificate in the ASGI scope. The protocol
  subclasses below add the ASGI TLS extension (`scope["extensions"]["tls"]`, with
  `client_cert_chain` holding the verified leaf certificate in PEM) to HTTP and websocket scopes.

Invariant: `client_cert_chain` is only set for a certificate the handshake verified against the
current client CA (the context uses CERT_OPTIONAL, so a connection without one still succeeds).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class ReloadingContext:
    """A serving SSL context rebuilt whenever its inputs change."""

    def __init__(self, cert_file: Path, key_file: Path, client_ca: Callable[[], str | None]) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self._client_ca = client_ca
        self._stamp: tuple[Any, ...] = ()
        self._ctx: ssl.SSLContext | None = None

    def _stamp_now(self) -> tuple[Any, ...]:
        return (self.cert_file.stat().st_mtime_ns, self.key_file.stat().st_mtime_ns, self._client_ca())

    def _build(self, client_ca: str | None) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        ctx.set_alpn_protocols(["http/1.1"])  # HTTP/2 stays off, as upstream (CVE-2023-44487)
        if client_ca:
            ctx.load_verify_locations(cadata=client_ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL
        return ctx

    def current(self) -> ssl.SSLContext:
        """The context for a new handshake (rebuilt if the files or the CA changed)."""
        try:
            stamp = self._stamp_now()
        except OSError:
            stamp = self._stamp  # files mid-rotation: keep serving the previous pair
        if self._ctx is None or stamp != self._stamp:
            try:
                self._ctx = self._build(stamp[2] if stamp else self._client_ca())
                self._stamp = stamp
            except (OSError, ssl.SSLError):
                if self._ctx is None:
                    raise
        return self._ctx

    def server_context(self) -> ssl.SSLContext:
        """The context given to the server; it hands each handshake to `current()`."""
        base = self._build(self._client_ca())
        # The base always asks for client certificates: the verify mode stays with the connection,
        # while the CA store and the certificate come from the context swapped in below.
        base.verify_mode = ssl.CERT_OPTIONAL
        if not self._client_ca():
            base.load_verify_locations(cadata=_placeholder_ca())

        def swap(sslobj: ssl.SSLObject | ssl.SSLSocket, _name: str | None, _ctx: ssl.SSLContext) -> None:
            sslobj.context = self.current()

        base.sni_callback = swap
        return base


def _placeholder_ca() -> str:
    from virt_client.tls import generate_ca

    return generate_ca("virt-api-no-client-ca", days=1).cert_pem.decode()


def tls_extension(transport: asyncio.BaseTransport | None) -> dict[str, Any]:
    """The ASGI TLS extension for a connection."""
    if transport is None:
        return {}
    sslobj = transport.get_extra_info("ssl_object")
    if sslobj is None:
        return {}
    out: dict[str, Any] = {"client_cert_chain": [], "tls_version": None, "cipher_suite": None}
    der = sslobj.getpeercert(binary_form=True)
    if der:
        out["client_cert_chain"] = [ssl.DER_cert_to_PEM_cert(der)]
    return out


class TLSHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the TLS extension in every HTTP scope."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        extensions: dict[str, Any] = {"tls": tls_extension(self.transport)}
        self.scope["extensions"] = extensions


class TLSWebSocketsProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets protocol, with the TLS extension in every websocket scope."""

    async def run_asgi(self) -> None:
        extensions: dict[str, Any] = dict(self.scope.get("extensions") or {})
        extensions["tls"] = tls_extension(self.transport)
        self.scope["extensions"] = extensions
        await super().run_asgi()
