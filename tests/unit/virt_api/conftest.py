"""virt-api's routes over the in-memory `KubeApi` fake and a stand-in for the virt-handlers.

`api` serves the FastAPI app of `virt_api.app.create_app` (the routes behind the guard; the guard has
its own tests) with `FakeKube` as the API server, and every virt-handler answered by `FakeHandlers`,
an ASGI app plugged in as the handler connector's transport. Tests assert what a user sees: the HTTP
status and body, the writes recorded by the fake, and the calls that reached a handler.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from virt_api.app import create_app
from virt_api.guard import Message, Receive, Scope, Send
from virt_api.handler import HandlerConnector, HandlerTLS
from virt_api.settings import Settings
from virt_api.state import ApiState
from virt_client.kube_fake import FakeKube

NS = "demo"
NODE = "node-a"
HANDLER = "10.0.0.1:8186"
SUB = f"/apis/subresources.kubevirt.io/v1/namespaces/{NS}"


@dataclass(frozen=True)
class HandlerCall:
    host: str
    method: str
    path: str
    query: str
    body: bytes


@dataclass
class FakeHandlers:
    """Every node's virt-handler: records each request and answers from `answers` (by action)."""

    calls: list[HandlerCall] = field(default_factory=list)
    answers: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, more = b"", True
        while more:
            message: Message = await receive()
            body += message.get("body", b"")
            more = bool(message.get("more_body", False))
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        path: str = scope["path"]
        action = path.split("/virtualmachineinstances/", 1)[1].split("/", 1)[1]
        self.calls.append(HandlerCall(headers["host"], scope["method"], path, scope["query_string"].decode(), body))
        code, content, content_type = self.answers.get(action, (200, b"", "application/json"))
        await send({"type": "http.response.start", "status": code,
                    "headers": [(b"content-type", content_type.encode())]})
        await send({"type": "http.response.body", "body": content})


@dataclass
class VirtApi:
    kube: FakeKube
    handlers: FakeHandlers
    state: ApiState
    client: httpx.AsyncClient
    version: dict[str, Any] | Exception = field(default_factory=lambda: {"gitVersion": "v1.31.0"})

    async def server_version(self) -> object:
        if isinstance(self.version, Exception):
            raise self.version
        return self.version


def status_body(resp: httpx.Response) -> dict[str, Any]:
    """The `Status` of an error answer (checked to be one)."""
    assert resp.headers["content-type"] == "application/json", resp.text
    body: dict[str, Any] = orjson.loads(resp.content)
    assert (body["kind"], body["status"], body["code"]) == ("Status", "Failure", resp.status_code), body
    return body


def vm(name: str = "vm1", *, strategy: str | None = "Always", status: dict[str, Any] | None = None,
       **spec: Any) -> dict[str, Any]:
    s: dict[str, Any] = {"template": {"spec": {"domain": {"devices": {}}}}, **spec}
    if strategy is not None:
        s["runStrategy"] = strategy
    out: dict[str, Any] = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                           "metadata": {"name": name, "namespace": NS}, "spec": s}
    if status is not None:
        out["status"] = status
    return out


def vmi(name: str = "vm1", *, phase: str = "Running", node: str | None = NODE, conditions: tuple[str, ...] = (),
        uid: str = "vmi-uid-1", **spec: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "conditions": [{"type": c, "status": "True"} for c in conditions]}
    if node is not None:
        status["nodeName"] = node
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": name, "namespace": NS, "uid": uid},
            "spec": {"domain": {"devices": {}}, **spec}, "status": status}


@pytest.fixture
async def api() -> AsyncIterator[VirtApi]:
    kube = FakeKube()
    handlers = FakeHandlers()
    connector = HandlerConnector(kube, addresses={NODE: HANDLER}, tls=HandlerTLS(),
                                 transport=httpx.ASGITransport(app=handlers))
    holder: list[VirtApi] = []

    async def probe() -> object:
        return await holder[0].server_version()

    state = ApiState(kube=kube, handlers=connector, settings=Settings(), server_version=probe)
    routes = create_app(state).app  # the guard in front is tested on its own
    transport = httpx.ASGITransport(app=routes, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://virt-api") as client:
        holder.append(VirtApi(kube, handlers, state, client))
        yield holder[0]
    await connector.close()
