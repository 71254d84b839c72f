"""The HTTPS server virt-api calls on port 8186 (mutual TLS; reference §1.6 and Appendix B).

Routes, under `/v1/namespaces/{namespace}/virtualmachineinstances/{name}/`:
- `PUT pause|unpause|softreboot|reset` → the launcher command; 200 with an empty body, 404 when the
  VMI is not on this node, 409 when it is not running, 500 with the launcher's message on failure;
- `GET console` and `GET vnc` (websocket, subprotocol `plain.kubevirt.io`) → the launcher's serial
  console or VNC unix socket, raw bytes in binary frames both ways.

Built on aiohttp, which the Kubernetes client already loads, so the server costs almost no memory.
Invariants: every TLS client must present a certificate signed by `--client-ca` (else the handshake
fails with a TLS alert such as `unknown_ca`), and only virt-api's certificate (common name
`kubevirt.io:system:client:virt-handler`, see `virt_client.peer_names`) is served: any other
certificate of the same CA gets 403 Forbidden before a route runs; a stream ends for
both sides as soon as either side closes (socket EOF closes the websocket with 1000, a websocket
close shuts the socket); the websocket is pinged every `heartbeat` seconds and dropped when a pong
is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from virt_client import unix_sockets
from virt_client.api.constants import STREAM_SUBPROTOCOL
from virt_client.api.constants import VirtualMachineInstancePhase as Phase
from virt_client.api.status import failure_status
from virt_client.launcher_protocol import (
    SERIAL_SOCKET_NAME,
    VNC_SOCKET_NAME,
    Command,
    LauncherError,
    LauncherUnreachable,
)
from virt_client.peer_names import HANDLER_SERVER_PEERS, refusal
from virt_client.splice import StreamClosed, StreamEndpoint, splice
from virt_client.tls import CertificateFiles
from virt_handler.launchers import LauncherPending, LauncherRegistry
from virt_handler.reconcile import VMIReconciler
from virt_handler.settings import HandlerSettings

log = logging.getLogger(__name__)

PREFIX = "/v1/namespaces/{namespace}/virtualmachineinstances/{name}"
ACTIONS = {"pause": Command.PAUSE, "unpause": Command.UNPAUSE, "softreboot": Command.SOFT_REBOOT,
           "reset": Command.RESET}
STREAMS = {"console": SERIAL_SOCKET_NAME, "vnc": VNC_SOCKET_NAME}
CHUNK = 64 * 1024


def status_response(code: int, reason: str, message: str) -> web.Response:
    return web.Response(status=code, body=orjson.dumps(failure_status(code, message, reason)), content_type="application/json")


def peer_check(allowed: frozenset[str]) -> Callable[..., Any]:
    """Middleware: a TLS request whose client certificate is not one of `allowed` gets 403."""

    @web.middleware
    async def check(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        transport = request.transport
        if transport is not None and transport.get_extra_info("ssl_object") is not None:
            why = refusal(transport.get_extra_info("peercert"), allowed)
            if why is not None:
                log.warning("refused a client of %s: %s", request.path, why)
                return status_response(403, "Forbidden", f"client certificate refused: {why}")
        return await handler(request)

    return check


class HandlerServer:
    def __init__(self, settings: HandlerSettings, reconciler: VMIReconciler, launchers: LauncherRegistry,
                 enqueue: Callable[[str], None], *, heartbeat: float = 10.0,
                 peers: frozenset[str] = HANDLER_SERVER_PEERS) -> None:
        self.settings = settings
        self.reconciler = reconciler
        self.launchers = launchers
        self.enqueue = enqueue
        self.heartbeat = heartbeat
        self.app = web.Application(middlewares=[peer_check(peers)])
        self.app.router.add_put(PREFIX + "/{action:pause|unpause|softreboot|reset}", self.action)
        self.app.router.add_get(PREFIX + "/{stream:console|vnc}", self.stream)

    def _find(self, request: web.Request) -> tuple[str, str] | web.Response:
        """(key, uid) of the VMI named in the path, or the error response."""
        key = f"{request.match_info['namespace']}/{request.match_info['name']}"
        vmi = self.reconciler.get(key)
        if vmi is None or not self.reconciler.is_mine(vmi):
            return status_response(404, "NotFound", f"VirtualMachineInstance {key} is not on this node")
        if (vmi.get("status") or {}).get("phase") != Phase.RUNNING:
            return status_response(409, "Conflict", f"VirtualMachineInstance {key} is not running")
        return key, str((vmi.get("metadata") or {}).get("uid"))

    async def action(self, request: web.Request) -> web.Response:
        found = self._find(request)
        if isinstance(found, web.Response):
            return found
        key, uid = found
        cmd = ACTIONS[request.match_info["action"]]
        try:
            await self.launchers.command(uid, cmd)
        except LauncherError as exc:
            return status_response(500, "InternalError", f"{cmd} of {key} failed: {exc.message}")
        except (LauncherUnreachable, LauncherPending) as exc:
            return status_response(503, "ServiceUnavailable", f"the launcher of {key} does not answer: {exc}")
        finally:
            self.enqueue(key)
        return web.Response(status=200)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        found = self._find(request)
        if isinstance(found, web.Response):
            return found
        key, uid = found
        kind = request.match_info["stream"]
        path = self.settings.launcher_dir(uid) / STREAMS[kind]
        try:
            reader, writer = await unix_sockets.open_unix_connection(str(path))
        except OSError as exc:
            return status_response(400, "BadRequest", f"no {kind} for {key}: {exc}")
        ws = web.WebSocketResponse(protocols=(STREAM_SUBPROTOCOL,), heartbeat=self.heartbeat, max_msg_size=CHUNK * 16)
        try:
            await ws.prepare(request)
            try:
                await splice(StreamEndpoint(reader, writer, chunk=CHUNK), AiohttpEndpoint(ws))
            except Exception as exc:  # noqa: BLE001 - the stream is over either way; the cause goes to the log
                log.warning("stream copy failed: %r", exc)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return ws

    async def serve(self, ssl_context: ssl.SSLContext | None) -> None:
        """Listen until cancelled."""
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.settings.address, self.settings.port, ssl_context=ssl_context,
                               shutdown_timeout=1.0)
            await site.start()
            log.info("serving virt-api on %s:%d", self.settings.address, self.settings.port)
            await asyncio.Future()
        finally:
            await runner.cleanup()


class AiohttpEndpoint:
    """virt-api's websocket (aiohttp, server side) as a `splice` endpoint; any non-data frame ends it."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def receive(self) -> bytes | None:
        msg = await self.ws.receive()
        if msg.type is WSMsgType.BINARY:
            return bytes(msg.data)
        if msg.type is WSMsgType.TEXT:
            return str(msg.data).encode()
        return None

    async def send(self, data: bytes) -> None:
        try:
            await self.ws.send_bytes(data)
        except (ConnectionError, OSError) as e:
            raise StreamClosed(str(e)) from None

    async def close(self) -> None:
        await self.ws.close()


def ssl_context(settings: HandlerSettings) -> tuple[ssl.SSLContext, CertificateFiles] | None:
    """The server context (client certificates required), or None without TLS settings."""
    if not settings.serves_https:
        return None
    assert settings.tls_cert is not None and settings.tls_key is not None
    files = CertificateFiles(Path(settings.tls_cert), Path(settings.tls_key), client_ca_file=settings.client_ca,
                             require_client=True)
    return files.context(), files


async def reload_certificates(ctx: ssl.SSLContext, files: CertificateFiles, interval: float = 60.0) -> None:
    """Pick up rotated certificate files in place (new handshakes use them) until cancelled."""
    while True:
        await asyncio.sleep(interval)
        try:
            if files.reload_if_changed(ctx):
                log.info("reloaded the serving certificate")
        except (OSError, ssl.SSLError) as exc:
            log.warning("cannot reload the serving certificate: %s", exc)
