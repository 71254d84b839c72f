"""ASGI middleware in front of every route: request metrics, authentication and authorization.

Order of checks on a non-public path (upstream `Compose` filter): a verified front-proxy client
certificate (else 401 "request is not authenticated"), the identity from the X-Remote-* headers, a
SubjectAccessReview for the subresource (denied: 403 with a `Status` in kube-apiserver's words, see
`authz.forbidden`; the review failed: 500). Public paths (discovery, health, metrics, OpenAPI) and the admission webhook
paths pass without either, as upstream; nothing on them reads the identity headers.
Websocket requests are refused with an HTTP answer before the upgrade.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from prometheus_client import Counter, Histogram

from virt_client.metrics import REGISTRY

from .authn import authenticate, peer_certificate
from .authz import forbidden, resource_attributes
from .discovery import is_public
from .errors import PlainTextError, SubresourceError
from .state import ApiState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUESTS = Counter("kubevirt_virt_api_requests_total", "Requests served by virt-api, by kind of path and code.",
                   ["kind", "method", "code"], registry=REGISTRY)
LATENCY = Histogram("kubevirt_virt_api_request_duration_seconds", "Request latency of virt-api by kind of path.",
                    ["kind"], registry=REGISTRY)


def path_kind(path: str) -> str:
    """A bounded label for a path: the subresource, `webhook`, `discovery` or `other`."""
    parts = path.strip("/").split("/")
    if len(parts) >= 8 and parts[0] == "apis" and parts[3] == "namespaces":
        return f"{parts[5]}/{'/'.join(parts[7:9])}"[:64]
    if len(parts) == 1 and (parts[0].endswith("-validate") or "-validate-" in parts[0] or "-mutate" in parts[0]):
        return "webhook"
    return "discovery" if is_public(path) else "other"


async def send_plain(send: Send, status: int, body: bytes, content_type: bytes, websocket: bool) -> None:
    prefix = "websocket.http.response" if websocket else "http.response"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": f"{prefix}.start", "status": status, "headers": headers})
    await send({"type": f"{prefix}.body", "body": body})


async def send_error(send: Send, err: Exception, websocket: bool) -> None:
    if isinstance(err, SubresourceError):
        await send_plain(send, err.code, orjson.dumps(err.status()), b"application/json", websocket)
    elif isinstance(err, PlainTextError):
        await send_plain(send, err.code, err.message.encode(), b"text/plain; charset=utf-8", websocket)


class Guard:
    """Authentication, authorization and metrics for every request."""

    def __init__(self, app: ASGIApp, state: ApiState, webhook_paths: frozenset[str]) -> None:
        self.app = app
        self.state = state
        self.webhook_paths = webhook_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        websocket = scope["type"] == "websocket"
        method = "GET" if websocket else str(scope["method"])
        kind = path_kind(path)
        started = time.monotonic()
        code = {"value": 0}

        async def recording_send(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                code["value"] = int(message["status"])
            elif message["type"] == "websocket.accept":
                code["value"] = 101
            await send(message)

        try:
            if not (is_public(path) or path in self.webhook_paths):
                denial = await self._check(scope, method, path)
                if denial is not None:
                    if websocket:
                        await receive()  # the websocket.connect event precedes any answer
                    await send_error(recording_send, denial, websocket)
                    return
            await self.app(scope, receive, recording_send)
        finally:
            REQUESTS.labels(kind, method, str(code["value"] or 500)).inc()
            LATENCY.labels(kind).observe(time.monotonic() - started)

    async def _check(self, scope: Scope, method: str, path: str) -> Exception | None:
        try:
            user = authenticate(self.state.auth, peer_certificate(scope), scope.get("headers") or [])
            attributes = resource_attributes(method, path)
            if attributes is None:
                return SubresourceError(404, "the server could not find the requested resource")
            allowed, reason = await self.state.authorize(user, attributes)
            if not allowed:
                return forbidden(user, attributes, reason)
            scope.setdefault("state", {})["user"] = user
        except (SubresourceError, PlainTextError) as e:
            return e
        return None
