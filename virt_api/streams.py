"""Console and VNC websockets: the client's stream spliced to the handler's, raw bytes both ways.

Upstream (`rest/streamer.go`): subprotocol `plain.kubevirt.io`, binary frames, origin not checked.
virt-api validates the VMI, dials the handler's websocket first (so a failure is an HTTP error
before the upgrade), then accepts the client and splices the two (`virt_client.splice`) until
either side closes. Keep-alive pings to the client are sent by the server (uvicorn
`ws_ping_interval`), as upstream pings every second.
"""

from __future__ import annotations

import contextlib

import orjson
from fastapi import APIRouter, WebSocket
from starlette.responses import Response
from starlette.websockets import WebSocketDisconnect

from virt_client.api.constants import STREAM_SUBPROTOCOL
from virt_client.resources import VMIS
from virt_client.splice import StreamClosed, WebsocketEndpoint, splice

from .errors import PlainTextError, SubresourceError
from .state import ApiState
from .subresources import BASE, VMI_KIND, check_version
from .vmi_actions import Action, check, connectable

router = APIRouter()


class StarletteEndpoint:
    """The client's websocket (starlette, server side) as a `splice` endpoint; text frames pass as bytes."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws

    async def receive(self) -> bytes | None:
        try:
            message = await self.ws.receive()
        except (WebSocketDisconnect, RuntimeError):
            return None
        if message["type"] == "websocket.disconnect":
            return None
        data = message.get("bytes")
        if data is None and message.get("text") is not None:
            data = str(message["text"]).encode()
        return data or b""

    async def send(self, data: bytes) -> None:
        try:
            await self.ws.send_bytes(data)
        except (WebSocketDisconnect, RuntimeError) as e:
            raise StreamClosed(str(e)) from None

    async def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            await self.ws.close()


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
    await splice(WebsocketEndpoint(upstream), StarletteEndpoint(ws))


@router.websocket(BASE + "/virtualmachineinstances/{name}/console")
async def console(ws: WebSocket, version: str, namespace: str, name: str) -> None:
    await _stream(ws, version, namespace, name, Action.CONSOLE)


@router.websocket(BASE + "/virtualmachineinstances/{name}/vnc")
async def vnc(ws: WebSocket, version: str, namespace: str, name: str) -> None:
    await _stream(ws, version, namespace, name, Action.VNC)
