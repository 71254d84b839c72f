"""API aggregation: APIServices with `spec.service` are proxied to their backend.

There is no service network on one machine: a Service port resolves to a static mapping from
`<data-dir>/services.yaml` (`"<namespace>/<name>:<port>": "127.0.0.1:<port>"`, re-read when it
changes) or `--service` flags, else to a ready address of the Service's Endpoints (kube-apiserver's
`--enable-aggregator-routing`), taken in turn. The proxy verifies the backend with the APIService's `caBundle`
against the name `<name>.<namespace>.svc`, presents the front-proxy client certificate and passes
the authenticated user in `X-Remote-User`, `X-Remote-Group` and `X-Remote-Extra-*`, as
kube-apiserver does. Upgrade requests (websockets) are spliced byte for byte after the backend's
`101 Switching Protocols`.

Proxied requests travel over keep-alive HTTP/1.1 connections, pooled per APIService and backend
address (`BackendPool`): each request is written in one write and the answer parsed with httptools;
a connection goes back to the pool only after its response was read to the end, and one that the
backend closed while idle is replaced, the request sent again once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httptools
import httpx
import orjson
import yaml

from virt_client.api.times import now_rfc3339

from . import errors
from .httpserver import Request, Response
from .rbac import UserInfo

if TYPE_CHECKING:
    from .server import ApiServer

log = logging.getLogger("virt_local.apiserver.aggregation")

HOP_HEADERS = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "host", "authorization", "content-length"}


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


def service_endpoint(svc: dict[str, Any], endpoints: dict[str, Any] | None, port: int, turn: int) -> str | None:
    """A ready `ip:port` of the Service's Endpoints for its port `port` (round robin by `turn`)."""
    svc_port = next((p for p in (svc.get("spec") or {}).get("ports") or []
                     if isinstance(p, dict) and p.get("port") == port), None)
    if svc_port is None:
        return None
    wanted = svc_port.get("name") or ""
    choices = []
    for subset in (endpoints or {}).get("subsets") or []:
        ep_port = next((p for p in subset.get("ports") or [] if (p.get("name") or "") == wanted), None)
        if ep_port is None:
            continue
        choices += [f"{a['ip']}:{ep_port['port']}" for a in subset.get("addresses") or [] if a.get("ip")]
    if not choices:
        return None
    choices.sort()
    return choices[turn % len(choices)]


class _Stale(Exception):
    pass


class Aggregator:
    def __init__(self, server: ApiServer) -> None:
        self.server = server
        self.apiservices: dict[tuple[str, str], dict[str, Any]] = {}
        self._file = server.settings.data_dir / "services.yaml"
        self._file_stamp = -1.0
        self._file_map: dict[str, str] = {}
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._pools: dict[tuple[str, str, str], BackendPool] = {}
        self._rotation = 0

    # ---- configuration -------------------------------------------------------------------
    def refresh(self) -> list[tuple[str, str, int, int]]:
        self.apiservices = {}
        out = []
        for e in self.server.store.list(("apiregistration.k8s.io", "apiservices"), None):
            obj = e.obj()
            spec = obj.get("spec") or {}
            if not spec.get("service"):
                continue
            g, v = spec.get("group", ""), spec.get("version", "")
            self.apiservices[(g, v)] = obj
            out.append((g, v, int(spec.get("groupPriorityMinimum") or 1000), int(spec.get("versionPriority") or 15)))
        return out

    def handles(self, group: str, version: str) -> bool:
        return bool(group) and (group, version) in self.apiservices

    def _service_map(self) -> dict[str, str]:
        try:
            stamp = self._file.stat().st_mtime
        except FileNotFoundError:
            stamp = 0.0
            self._file_map = {}
        if stamp and stamp != self._file_stamp:
            try:
                data = yaml.safe_load(self._file.read_text()) or {}
                self._file_map = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
            except (OSError, yaml.YAMLError):
                log.warning("cannot read %s", self._file)
        self._file_stamp = stamp
        return {**self._file_map, **self.server.settings.service_map}

    def resolve(self, namespace: str, name: str, port: int) -> str:
        """`host:port` behind a Service port: a static mapping, else a ready endpoint of the Service."""
        key = f"{namespace}/{name}:{port}"
        target = self._service_map().get(key)
        if target is not None:
            return target
        svc = self.server.store.get(("", "services"), namespace, name)
        if svc is None:
            raise errors.service_unavailable(f'service "{namespace}/{name}" not found')
        eps = self.server.store.get(("", "endpoints"), namespace, name)
        target = service_endpoint(svc.obj(), eps.obj() if eps else None, port, self._rotation)
        self._rotation += 1
        if target is None:
            raise errors.service_unavailable(f'no endpoints available for service "{namespace}/{name}" '
                                             f"(port {port})")
        return target

    def webhook_url(self, cc: dict[str, Any]) -> tuple[str, str]:
        """URL to call a webhook and the TLS name to verify."""
        if cc.get("url"):
            return str(cc["url"]), ""
        svc = cc.get("service") or {}
        ns, name, port = svc.get("namespace", ""), svc.get("name", ""), int(svc.get("port") or 443)
        target = self.resolve(ns, name, port)
        path = svc.get("path") or "/"
        return f"https://{target}{path}", f"{name}.{ns}.svc"

    def _ssl(self, apiservice: dict[str, Any]) -> ssl.SSLContext:
        spec = apiservice.get("spec") or {}
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if spec.get("insecureSkipTLSVerify"):
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif spec.get("caBundle"):
            ctx.load_verify_locations(cadata=base64.b64decode(spec["caBundle"]).decode())
        else:
            ctx.load_default_certs()
        certs = self.server.certs
        ctx.load_cert_chain(str(certs.path("front-proxy-client.crt")), str(certs.path("front-proxy-client.key")))
        return ctx

    def _client(self, apiservice: dict[str, Any]) -> httpx.AsyncClient:
        key = orjson.dumps(apiservice.get("spec") or {}, option=orjson.OPT_SORT_KEYS).decode()
        client = self._clients.get(key)
        if client is None:
            client = httpx.AsyncClient(verify=self._ssl(apiservice), trust_env=False, timeout=None)
            self._clients[key] = client
        return client

    def _pool(self, apiservice: dict[str, Any], target: str, sni: str) -> BackendPool:
        spec = apiservice.get("spec") or {}
        key = (f"{spec.get('caBundle')}|{spec.get('insecureSkipTLSVerify')}", target, sni)
        pool = self._pools.get(key)
        if pool is None:
            host, _, port = target.rpartition(":")
            pool = BackendPool(host.strip("[]"), int(port), self._ssl(apiservice), sni)
            self._pools[key] = pool
        return pool

    async def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        for c in self._clients.values():
            await c.aclose()
        self._clients.clear()
        await self.server.admission.close()

    @staticmethod
    def _backend(apiservice: dict[str, Any]) -> tuple[str, str, int]:
        svc = apiservice["spec"]["service"]
        return svc.get("namespace", ""), svc.get("name", ""), int(svc.get("port") or 443)

    @staticmethod
    def identity_headers(user: UserInfo) -> list[tuple[str, str]]:
        h = [("X-Remote-User", user.username)]
        h += [("X-Remote-Group", g) for g in user.groups]
        if user.uid:
            h.append(("X-Remote-Uid", user.uid))
        for k, vals in user.extra.items():
            h += [(f"X-Remote-Extra-{quote(k, safe='')}", v) for v in vals]
        return h

    # ---- proxy ---------------------------------------------------------------------------
    async def proxy(self, req: Request, user: UserInfo) -> Response:
        parts = req.path.strip("/").split("/")
        apiservice = self.apiservices.get((parts[1], parts[2])) if len(parts) >= 3 else None
        if apiservice is None:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource", details={})
        ns, name, port = self._backend(apiservice)
        target = self.resolve(ns, name, port)
        headers = [(k, v) for k, v in req.header_list
                   if k not in HOP_HEADERS and not k.startswith("impersonate-") and not k.startswith("x-remote-")]
        headers += self.identity_headers(user)
        if req.upgrade:
            return Response(hijack=lambda r, w: self._splice(req, r, w, apiservice, target, headers,
                                                            f"{name}.{ns}.svc"))
        target_path = req.path + (f"?{req.raw_query}" if req.raw_query else "")
        pool = self._pool(apiservice, target, f"{name}.{ns}.svc")
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

    async def _splice(self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      apiservice: dict[str, Any], target: str, headers: list[tuple[str, str]], sni: str) -> None:
        host, _, port = target.rpartition(":")
        try:
            b_reader, b_writer = await asyncio.open_connection(host, int(port), ssl=self._ssl(apiservice),
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
        b_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await b_writer.drain()

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                if dst.can_write_eof():
                    dst.write_eof()

        t1 = asyncio.ensure_future(pump(reader, b_writer))
        t2 = asyncio.ensure_future(pump(b_reader, writer))
        try:
            await asyncio.wait({t1, t2}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (t1, t2):
                t.cancel()
                with contextlib.suppress(BaseException):
                    await t
            b_writer.close()

    # ---- availability --------------------------------------------------------------------
    async def check_availability(self) -> None:
        for (g, v), apiservice in list(self.apiservices.items()):
            ns, name, port = self._backend(apiservice)
            ok, reason, message = True, "Passed", "all checks passed"
            try:
                target = self.resolve(ns, name, port)
                resp = await self._client(apiservice).get(f"https://{target}/apis/{g}/{v}", timeout=5,
                                                          extensions={"sni_hostname": f"{name}.{ns}.svc"})
                if resp.status_code >= 300:
                    ok, reason = False, "FailedDiscoveryCheck"
                    message = f"failing or missing response from https://{target}/apis/{g}/{v}: " \
                              f"bad status from https://{target}/apis/{g}/{v}: {resp.status_code}"
            except errors.ApiError as e:
                ok, reason, message = False, "ServiceNotFound", e.message
            except httpx.HTTPError as e:
                ok, reason, message = False, "FailedDiscoveryCheck", f"failing or missing response: {e}"
            await self._set_available(apiservice["metadata"]["name"], ok, reason, message)

    async def _set_available(self, name: str, ok: bool, reason: str, message: str) -> None:
        e = self.server.store.get(("apiregistration.k8s.io", "apiservices"), "", name)
        if e is None:
            return
        obj = e.obj()
        want = "True" if ok else "False"
        conds = (obj.get("status") or {}).get("conditions") or []
        cur = next((c for c in conds if c.get("type") == "Available"), None)
        if cur and cur.get("status") == want and cur.get("reason") == reason:
            return
        obj["status"] = {"conditions": [{"type": "Available", "status": want, "reason": reason, "message": message,
                                         "lastTransitionTime": now_rfc3339()}]}
        await self.server.store.put(("apiregistration.k8s.io", "apiservices"), obj)
