"""APIService availability: a discovery request to each backend over the proxy's pools (front-proxy
client certificate, the APIService's TLS settings) sets its `Available` condition, written only
when it changes. The backend is a real TLS server on loopback."""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from virt_local.apiserver.apiservices import APIServices, ClientCertificate
from virt_local.apiserver.backend_pool import BackendPools
from virt_local.apiserver.certs import ServerCertificates
from virt_local.apiserver.controllers import APISERVICES, APIServiceAvailability
from virt_local.apiserver.service_resolver import ServiceResolver
from virt_local.apiserver.store import Store


class Backend:
    """Answers `GET /apis/good.io/v1` with 200 and anything else with 503, to clients presenting a
    certificate of the front-proxy CA only."""

    def __init__(self, certs: ServerCertificates) -> None:
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certs.path("apiserver.crt"), certs.path("apiserver.key"))
        self.ctx.load_verify_locations(certs.path("front-proxy-ca.crt"))
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.paths: list[str] = []
        self.connections = 0
        self.port = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                path = head.split(b" ", 2)[1].decode()
                self.paths.append(path)
                status = b"200 OK" if path == "/apis/good.io/v1" else b"503 Service Unavailable"
                writer.write(b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}" % status)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()


def _apiservice(group: str, service: str, **tls: Any) -> dict[str, Any]:
    spec = {"group": group, "version": "v1", "service": {"namespace": "demo", "name": service, "port": 443},
            "groupPriorityMinimum": 1000, "versionPriority": 15, **tls}
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": f"v1.{group}"},
            "spec": spec}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def checked(store: Store, tmp_path: Path) -> AsyncIterator[tuple[APIServiceAvailability, Backend]]:
    certs = ServerCertificates(tmp_path, "127.0.0.1")
    backend = Backend(certs)
    server = await asyncio.start_server(backend.serve, "127.0.0.1", 0, ssl=backend.ctx)
    port = backend.port = server.sockets[0].getsockname()[1]
    wrong_ca = base64.b64encode(certs.front_proxy_ca.cert_pem).decode()
    objs = [_apiservice("good.io", "up", insecureSkipTLSVerify=True),
            _apiservice("bad.io", "up", insecureSkipTLSVerify=True),
            _apiservice("missing.io", "gone", insecureSkipTLSVerify=True),
            _apiservice("closed.io", "down", insecureSkipTLSVerify=True),
            _apiservice("untrusted.io", "up", caBundle=wrong_ca)]
    for obj in objs:
        await store.put(APISERVICES, obj)
    pools = BackendPools()
    apiservices = APIServices(pools=pools, client_cert=ClientCertificate(certs.path("front-proxy-client.crt"),
                                                                         certs.path("front-proxy-client.key")))
    apiservices.refresh(objs)
    resolver = ServiceResolver(store=store, services_file=tmp_path / "services.yaml", static_map={
        "demo/up:443": f"127.0.0.1:{port}", "demo/down:443": f"127.0.0.1:{_closed_port()}"})
    try:
        yield APIServiceAvailability(store=store, apiservices=apiservices, resolver=resolver), backend
    finally:
        pools.close()
        server.close()
        await server.wait_closed()


def _available(store: Store, group: str) -> dict[str, Any]:
    e = store.get(APISERVICES, "", f"v1.{group}")
    assert e is not None
    conditions: list[dict[str, Any]] = e.obj()["status"]["conditions"]
    return next(c for c in conditions if c["type"] == "Available")


@pytest.mark.parametrize("group, status, reason, message", [
    ("good.io", "True", "Passed", "all checks passed"),
    ("bad.io", "False", "FailedDiscoveryCheck", "bad status from https://127.0.0.1:{port}/apis/bad.io/v1: 503"),
    ("missing.io", "False", "ServiceNotFound", 'service "demo/gone" not found'),
    ("closed.io", "False", "FailedDiscoveryCheck", "failing or missing response: "),
    ("untrusted.io", "False", "FailedDiscoveryCheck", "CERTIFICATE_VERIFY_FAILED"),
], ids=lambda v: v if isinstance(v, str) and v.endswith(".io") else None)
async def test_available_condition(checked: tuple[APIServiceAvailability, Backend], store: Store, group: str,
                                   status: str, reason: str, message: str) -> None:
    availability, backend = checked
    await availability.check()
    cond = _available(store, group)
    assert (cond["status"], cond["reason"]) == (status, reason)
    assert message.format(port=backend.port) in cond["message"]


async def test_unchanged_condition_is_not_rewritten(checked: tuple[APIServiceAvailability, Backend],
                                                    store: Store) -> None:
    availability, backend = checked
    await availability.check()
    first = store.get(APISERVICES, "", "v1.good.io")
    await availability.check()
    again = store.get(APISERVICES, "", "v1.good.io")
    assert first is not None and again is not None and again.rv == first.rv
    assert backend.paths.count("/apis/good.io/v1") == 2  # asked each time ...
    assert backend.connections == 1  # ... over one pooled connection (good.io and bad.io share the backend)
