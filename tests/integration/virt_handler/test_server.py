"""virt-handler's mutual-TLS server serves only virt-api: other certificates of the same CA get 403,
a certificate of another CA gets a TLS alert, and neither reaches the VMI."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.support.handler_node import HandlerNode, condition
from virt_client.peer_names import MIGRATION_CLIENT_CN
from virt_client.tls import KeyPair, client_context, generate_ca, issue_certificate

pytestmark = pytest.mark.slow


def client_with(node: HandlerNode, ca: KeyPair, cn: str, name: str) -> ssl.SSLContext:
    pair = issue_certificate(ca, cn, client=True)
    cert, key = node.run_dir.parent / f"{name}.crt", node.run_dir.parent / f"{name}.key"
    pair.write(cert, key)
    return client_context(node.pki.ca, cert_file=cert, key_file=key)


async def put(node: HandlerNode, path: str, ctx: ssl.SSLContext) -> tuple[int, dict[str, object] | None]:
    async with aiohttp.ClientSession() as session, session.put(f"{node.base_url}/{path}", ssl=ctx) as resp:
        body = await resp.read()
        return resp.status, orjson.loads(body) if body else None


def tls_error(port: int, ctx: ssl.SSLContext) -> str:
    """The TLS error a request on a fresh connection ends with ('' when it got an answer)."""
    ctx.check_hostname = False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock, \
                ctx.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"PUT /v1/namespaces/default/virtualmachineinstances/vmi1/pause HTTP/1.1\r\n"
                        b"Host: x\r\nContent-Length: 0\r\n\r\n")
            return "" if tls.recv(100) else "EOF"
    except ssl.SSLError as exc:
        return str(exc.reason)


async def test_only_virt_api_certificate_is_served(handler_node: HandlerNode, tmp_path: Path) -> None:
    node = handler_node
    await node.start_handler()
    vmi = await node.create_scheduled_vmi("vmi1")
    node.start_launcher(vmi["metadata"]["uid"])
    await node.wait_vmi("vmi1", lambda v: (v.get("status") or {}).get("phase") == "Running", "VMI Running")
    ca = KeyPair.read(node.pki.ca, node.pki.ca.with_name("ca.key"))

    for cn in ("alice", MIGRATION_CLIENT_CN, "kubevirt.io:system:client:virt-api"):
        code, status = await put(node, "vmi1/pause", client_with(node, ca, cn, "other"))
        assert code == 403, (cn, status)
        assert status is not None and status["reason"] == "Forbidden" and status["kind"] == "Status"
        assert status["message"] == f"client certificate refused: common name is invalid, got {cn!r}"

    rogue = client_with(node, generate_ca("kubevirt.io"), "kubevirt.io:system:client:virt-handler", "rogue")
    assert await asyncio.to_thread(tls_error, node.port, rogue) == "TLSV1_ALERT_UNKNOWN_CA"
    assert (await node.vmi("vmi1"))["status"]["phase"] == "Running"
    assert condition(await node.vmi("vmi1"), "Paused") is None  # none of them paused it

    assert (await put(node, "vmi1/pause", node.pki.client_ssl()))[0] == 200  # virt-api's certificate
    await node.wait_vmi("vmi1", lambda v: (condition(v, "Paused") or {}).get("status") == "True", "Paused")
