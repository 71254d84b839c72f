"""The console and VNC websockets over the in-memory API server and a real handler websocket on loopback.

A refused stream is an HTTP answer before the upgrade (the `Status` of the refusal); an accepted one
is spliced byte for byte to the virt-handler of the VMI's node, which sees the VMI's stream path.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve

from virt_api.app import create_app
from virt_api.guard import ASGIApp, Message
from virt_api.handler import HandlerConnector, HandlerTLS
from virt_api.settings import Settings
from virt_api.state import ApiState
from virt_client.api.constants import STREAM_SUBPROTOCOL
from virt_client.kube_fake import FakeKube
from virt_client.resources import VMIS
from virt_client.tls import generate_ca, issue_certificate

from .conftest import NODE, NS, SUB, vmi

DEADLINE = 30.0  # generous: a busy machine is slow, a hang still ends


class Denied(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(status)
        self.status, self.body = status, body


class AsgiWebsocket:
    """One websocket request driven through an ASGI app in the test's event loop."""

    def __init__(self, app: ASGIApp, path: str, subprotocols: list[str]) -> None:
        self.scope: dict[str, Any] = {
            "type": "websocket", "asgi": {"version": "3.0"}, "scheme": "wss", "path": path, "raw_path": path.encode(),
            "root_path": "", "query_string": b"", "headers": [(b"host", b"virt-api")], "subprotocols": subprotocols,
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8443),
            "extensions": {"websocket.http.response": {}}}
        self.app = app
        self.to_app: asyncio.Queue[Message] = asyncio.Queue()
        self.from_app: asyncio.Queue[Message] = asyncio.Queue()
        self.accepted_subprotocol: str | None = None
        self.task: asyncio.Task[None] | None = None

    async def _next(self) -> Message:
        return await asyncio.wait_for(self.from_app.get(), DEADLINE)

    async def __aenter__(self) -> AsgiWebsocket:
        self.task = asyncio.create_task(self.app(self.scope, self.to_app.get, self.from_app.put))
        await self.to_app.put({"type": "websocket.connect"})
        first = await self._next()
        if first["type"] == "websocket.accept":
            self.accepted_subprotocol = first.get("subprotocol")
            return self
        assert first["type"] == "websocket.http.response.start", first
        body = b""
        while True:
            part = await self._next()
            body += part.get("body", b"")
            if not part.get("more_body"):
                break
        await asyncio.wait_for(self.task, DEADLINE)
        raise Denied(int(first["status"]), body)

    async def send(self, data: bytes | str) -> None:
        key = "bytes" if isinstance(data, bytes) else "text"
        await self.to_app.put({"type": "websocket.receive", key: data})

    async def receive_bytes(self) -> bytes:
        message = await self._next()
        assert message["type"] == "websocket.send", message
        return bytes(message["bytes"])

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.to_app.put({"type": "websocket.disconnect", "code": 1000})
        assert self.task is not None
        await asyncio.wait_for(self.task, DEADLINE)


@dataclass
class HandlerStreams:
    """A virt-handler's websocket endpoint on loopback: records each stream's path, echoes what it gets."""

    address: str = ""
    paths: list[str] = field(default_factory=list)


@pytest.fixture
async def handler_streams(tmp_path: Path) -> AsyncIterator[HandlerStreams]:
    ca = generate_ca("handler-ca")
    issue_certificate(ca, "virt-handler", ip_addresses=("127.0.0.1",), server=True).write(
        tmp_path / "tls.crt", tmp_path / "tls.key")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    streams = HandlerStreams()

    async def echo(conn: ServerConnection) -> None:
        streams.paths.append(conn.request.path if conn.request is not None else "")
        async for data in conn:
            await conn.send(b"echo:" + (data if isinstance(data, bytes) else data.encode()))

    async with serve(echo, "127.0.0.1", 0, ssl=ctx, subprotocols=[STREAM_SUBPROTOCOL]) as server:  # type: ignore[list-item]
        port = next(iter(server.sockets)).getsockname()[1]
        streams.address = f"127.0.0.1:{port}"
        yield streams


@pytest.fixture
async def kube() -> FakeKube:
    return FakeKube()


@pytest.fixture
async def connectors() -> AsyncIterator[list[HandlerConnector]]:
    made: list[HandlerConnector] = []
    yield made
    for connector in made:
        await connector.close()


def routes(kube: FakeKube, address: str, connectors: list[HandlerConnector]) -> ASGIApp:
    connector = HandlerConnector(kube, addresses={NODE: address}, tls=HandlerTLS())
    connectors.append(connector)

    async def version() -> object:
        return {}

    state = ApiState(kube=kube, handlers=connector, settings=Settings(), server_version=version)
    return create_app(state).app  # the guard in front is tested on its own


def stream_path(action: str) -> str:
    return f"{SUB}/virtualmachineinstances/vm1/{action}"


@pytest.mark.parametrize("action", ["console", "vnc"])
async def test_stream_is_spliced_to_the_handler_of_the_node(kube: FakeKube, handler_streams: HandlerStreams,
                                                            connectors: list[HandlerConnector], action: str) -> None:
    kube.seed(VMIS, vmi())
    app = routes(kube, handler_streams.address, connectors)
    async with AsgiWebsocket(app, stream_path(action), [STREAM_SUBPROTOCOL]) as ws:
        assert ws.accepted_subprotocol == STREAM_SUBPROTOCOL
        await ws.send(b"hello")
        assert await ws.receive_bytes() == b"echo:hello"
        await ws.send("text passes as bytes")
        assert await ws.receive_bytes() == b"echo:text passes as bytes"
    assert handler_streams.paths == [f"/v1/namespaces/{NS}/virtualmachineinstances/vm1/{action}"]
    assert kube.writes == []


async def _denial(app: ASGIApp, path: str) -> tuple[int, dict[str, Any]]:
    with pytest.raises(Denied) as err:
        async with AsgiWebsocket(app, path, [STREAM_SUBPROTOCOL]):
            pass
    return err.value.status, orjson.loads(err.value.body)


@pytest.mark.parametrize(("action", "seed_vmi", "code", "message"), [
    ("console", None, 404, 'virtualmachineinstance.kubevirt.io "vm1" not found'),
    ("console", vmi(domain={"devices": {"autoattachSerialConsole": False}}), 400, "No serial consoles are present."),
    ("console", vmi(phase="Failed"), 409,
     'Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "vm1": VMI is not running'),
    ("console", vmi(phase="Pending", node=None), 400, "VMI is not running"),
    ("vnc", vmi(domain={"devices": {"autoattachGraphicsDevice": False}}), 400, "No graphics devices are present."),
    ("vnc", vmi(phase="Scheduling", node=None), 400, "VMI is not running"),
], ids=["no-vmi", "no-serial-console", "console-failed", "console-pending", "no-graphics", "vnc-scheduling"])
async def test_refused_stream_is_a_status_before_the_upgrade(kube: FakeKube, connectors: list[HandlerConnector],
                                                             action: str, seed_vmi: dict[str, Any] | None,
                                                             code: int, message: str) -> None:
    if seed_vmi is not None:
        kube.seed(VMIS, seed_vmi)
    status, body = await _denial(routes(kube, "127.0.0.1:9", connectors), stream_path(action))
    assert (status, body["code"], body["message"]) == (code, code, message)


async def test_unreachable_handler_is_500_before_the_upgrade(kube: FakeKube,
                                                             connectors: list[HandlerConnector]) -> None:
    kube.seed(VMIS, vmi())
    # A port nothing listens on: the one a just-closed server had.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    status, body = await _denial(routes(kube, f"127.0.0.1:{port}", connectors), stream_path("console"))
    assert (status, body["reason"]) == (500, "InternalError")
    assert body["message"].startswith(f"Internal error occurred: error dialing virt-handler at 127.0.0.1:{port}")
