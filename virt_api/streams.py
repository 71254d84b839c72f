"""Console and VNC websockets: the client's stream spliced to the handler's, raw bytes both ways.

Upstream (`rest/streamer.go`): subprotocol `plain.kubevirt.io`, binary frames, origin not checked.
virt-api validates the VMI, dials the handler's websocket first (so a failure is an HTTP error
before the upgrade), then accepts the client and copies until either side closes. Keep-alive pings
to the client are sent by the server (uvicorn `ws_ping_interval`), as upstream pings every second.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from fastapi import APIRouter, WebSocket
from starlette.responses import Response
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from virt_client.api.constants import STREAM_SUBPROTOCOL
from virt_client.resources import VMIS

from .errors import PlainTextError, SubresourceError
from .state import ApiState
from .subresources import BASE, VMI_KIND, check_version
from .vmi_actions import Action, check, connectable

router = APIRouter()


async def _client_to_handler(ws: WebSocket, upstream: ClientConnection) -> None:
    with contextlib.suppress(WebSocketDisconnect, ConnectionClosed, RuntimeError):
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if data is None and message.get("text") is not None:
                data = str(message["text"]).encode()
            if data:
                await upstream.send(data)


async def _handler_to_client(ws: WebSocket, upstream: ClientConnection) -> None:
    with contextlib.suppress(WebSocketDisconnect, ConnectionClosed, RuntimeError):
        async for data in upstream:
            await ws.send_bytes(data if isinstance(data, bytes) else data.encode())


async def splice(ws: WebSocket, upstream: ClientConnection) -> None:
    """Copy both ways until one side ends, then close both."""
    tasks = [asyncio.create_task(_client_to_handler(ws, upstream)),
             asyncio.create_task(_handler_to_client(ws, upstream))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await upstream.close()
        with contextlib.suppress(RuntimeError):
            await ws.close()


async def _deny(ws: WebSocket, err: SubresourceError | PlainTextError) -> None:
    if isinstance(err, SubresourceError):
        resp = Response(orjson.dumps(err.status()), status_code=err.code, media_type="application/json")
    else:
        resp = Response(err.message, status_code=err.code, media_type="text/plain")
    await ws.send_denial_response(resp)


async def _stream(ws: WebSocket, version: str, namespace: str, name: str, action: Action) -> None:
    st: ApiState = ws.app.state.api
    try:
        check_version(version)
        vmi = await st.get_object(VMIS, namespace, name, VMI_KIND)
        check(action, vmi)
        node = connectable(vmi)
        query = {}
        if action == Action.VNC and ws.query_params.get("preserveSession") == "true":
            query["preserveSession"] = "true"
        upstream = await st.handlers.stream(node, namespace, name, str(action), query)
    except (SubresourceError, PlainTextError) as e:
        await _deny(ws, e)
        return
    subprotocol = STREAM_SUBPROTOCOL if STREAM_SUBPROTOCOL in ws.scope.get("subprotocols", []) else None
    await ws.accept(subprotocol=subprotocol)
    await splice(ws, upstream)


@router.websocket(BASE + "/virtualmachineinstances/{name}/console")
async def console(ws: WebSocket, version: str, namespace: str, name: str) -> None:
    await _stream(ws, version, namespace, name, Action.CONSOLE)


@router.websocket(BASE + "/virtualmachineinstances/{name}/vnc")
async def vnc(ws: WebSocket, version: str, namespace: str, name: str) -> None:
    await _stream(ws, version, namespace, name, Action.VNC)
