"""The aggregation proxy: requests for an aggregated group version go to the APIService's backend.

The backend is the APIService's Service, resolved by `service_resolver` and reached over the
keep-alive pools of `apiservices` (TLS verified with the `caBundle`, front-proxy client
certificate). The authenticated user travels in `X-Remote-User`, `X-Remote-Group`, `X-Remote-Uid`
and `X-Remote-Extra-*`, as kube-apiserver passes it; hop-by-hop, credential, impersonation and
client-sent `X-Remote-*` headers never do. A chunked answer (a watch) is streamed through as it
comes. Upgrade requests (websockets) are spliced byte for byte after the backend's answer
(`virt_client.splice`), on a connection of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from virt_client.splice import StreamEndpoint, splice

from . import errors
from .apiservices import APIServices, backend
from .backend_pool import BackendError, split_host_port
from .httpserver import Request, Response
from .rbac import UserInfo
from .service_resolver import ServiceResolver

HOP_HEADERS = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "host", "authorization", "content-length"}


def identity_headers(user: UserInfo) -> list[tuple[str, str]]:
    h = [("X-Remote-User", user.username)]
    h += [("X-Remote-Group", g) for g in user.groups]
    if user.uid:
        h.append(("X-Remote-Uid", user.uid))
    for k, vals in user.extra.items():
        h += [(f"X-Remote-Extra-{quote(k, safe='')}", v) for v in vals]
    return h


class AggregationProxy:
    def __init__(self, *, apiservices: APIServices, resolver: ServiceResolver) -> None:
        self._apiservices = apiservices
        self._resolver = resolver

    async def proxy(self, req: Request, user: UserInfo) -> Response:
        parts = req.path.strip("/").split("/")
        apiservice = self._apiservices.get(parts[1], parts[2]) if len(parts) >= 3 else None
        if apiservice is None:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource", details={})
        svc = backend(apiservice)
        target = self._resolver.resolve(svc.namespace, svc.name, svc.port)
        headers = [(k, v) for k, v in req.header_list
                   if k not in HOP_HEADERS and not k.startswith("impersonate-") and not k.startswith("x-remote-")]
        headers += identity_headers(user)
        if req.upgrade:
            return Response(hijack=lambda r, w: self._upgrade(req, r, w, apiservice, target, headers,
                                                             svc.server_name))
        target_path = req.path + (f"?{req.raw_query}" if req.raw_query else "")
        pool = self._apiservices.pool(apiservice, target, svc.server_name)
        try:
            resp = await pool.request(req.method, target_path, headers, req.body)
        except BackendError as e:
            raise errors.service_unavailable(f"error trying to reach service: {e}") from None
        out_headers = [(k, v) for k, v in resp.headers
                       if k.lower() not in HOP_HEADERS and k.lower() != "content-type"]
        ctype = resp.header("content-type", "application/json")
        if "chunked" in resp.header("transfer-encoding"):
            async def body() -> AsyncIterator[bytes]:
                with contextlib.suppress(BackendError):
                    async for chunk in resp.chunks():
                        yield chunk
            return Response(status=resp.status, headers=out_headers, content_type=ctype, stream=body())
        try:
            data = await resp.read()
        except BackendError as e:
            raise errors.service_unavailable(f"error trying to reach service: {e}") from None
        return Response(status=resp.status, body=data, headers=out_headers, content_type=ctype)

    async def _upgrade(self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       apiservice: dict[str, Any], target: str, headers: list[tuple[str, str]], sni: str) -> None:
        host, port = split_host_port(target)
        try:
            b_reader, b_writer = await asyncio.open_connection(host, port, ssl=self._apiservices.ssl_context(apiservice),
                                                               server_hostname=sni)
        except (OSError, ssl.SSLError) as e:
            err = errors.service_unavailable(f"error trying to reach service: {e}").body()
            writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(err), err))
            await writer.drain()
            return
        target_path = req.path + (f"?{req.raw_query}" if req.raw_query else "")
        lines = [f"{req.method} {target_path} HTTP/1.1", f"Host: {sni}", "Connection: Upgrade",
                 f"Upgrade: {req.headers.get('upgrade', 'websocket')}"]
        lines += [f"{k}: {v}" for k, v in headers]
        try:
            b_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            await b_writer.drain()
        except (OSError, ssl.SSLError):
            b_writer.close()
            return
        await splice(StreamEndpoint(reader, writer), StreamEndpoint(b_reader, b_writer))
