"""A Scheduled VMI runs through the real virt-handler and virt-launcher (test driver): it goes Running
with its conditions, the node is labelled, pause/unpause and the console work over mutual TLS, and a
deletion shuts the guest down to Succeeded."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.handler_node import NODE, HandlerNode, condition
from tests.support.wait import wait_for_async
from virt_client.resources import NODES

pytestmark = pytest.mark.slow


def running_and_ready(vmi: dict[str, Any]) -> bool:
    ready = condition(vmi, "Ready")
    return (vmi.get("status") or {}).get("phase") == "Running" and ready is not None and ready["status"] == "True"


async def put(node: HandlerNode, name: str, action: str, ssl_ctx: ssl.SSLContext) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, \
            session.put(f"{node.base_url}/{name}/{action}", ssl=ssl_ctx) as resp:
        return resp.status, await resp.text()


async def next_non_binary(ws: aiohttp.ClientWebSocketResponse) -> tuple[aiohttp.WSMsgType, Any]:
    """The next control message, skipping console bytes (the banner may arrive in any number of frames)."""
    msg = await asyncio.wait_for(ws.receive(), 10)
    while msg.type is aiohttp.WSMsgType.BINARY:
        msg = await asyncio.wait_for(ws.receive(), 10)
    return msg.type, msg.data


async def serve_fake_serial(path: Path, received: asyncio.Queue[bytes]) -> asyncio.AbstractServer:
    """Stands in for libvirt's serial console socket (the test driver has none)."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\r\nDebian GNU/Linux 12 vmi1 ttyS0\r\nvmi1 login: ")
        await writer.drain()
        while data := await reader.read(1024):
            await received.put(data)
            if data == b"exit\n":
                break  # the console side hangs up
            writer.write(data)
            await writer.drain()
        await received.put(b"<eof>")
        writer.close()

    return await asyncio.start_unix_server(on_connect, path=str(path))


async def test_vmi_runs_pauses_streams_and_stops(handler_node: HandlerNode) -> None:
    node = handler_node
    await node.start_handler()
    vmi = await node.create_scheduled_vmi("vmi1", grace=5)
    uid = vmi["metadata"]["uid"]
    launcher = node.start_launcher(uid)

    vmi = await node.wait_vmi("vmi1", running_and_ready, "VMI Running and Ready")
    status = vmi["status"]
    assert status["nodeName"] == NODE
    assert [t["phase"] for t in status["phaseTransitionTimestamps"]] == ["Scheduled", "Running"]
    assert status["migrationMethod"] == "BlockMigration"
    assert status["qosClass"] == "Burstable"
    assert condition(vmi, "LiveMigratable")["status"] == "True"  # type: ignore[index]
    assert condition(vmi, "Paused") is None and condition(vmi, "Synchronized") is None

    # the node: heartbeat, schedulable and capability labels, device resources
    async def labelled() -> dict[str, Any] | None:
        n = await node.kube.get(NODES, NODE)
        return n if (n["metadata"].get("labels") or {}).get("kubevirt.io/schedulable") == "true" else None
    n = await wait_for_async(labelled, message="node labelled schedulable")
    assert n["metadata"]["labels"]["node.kubevirt.io/hypervisor"] == "test"
    assert n["metadata"]["annotations"]["kubevirt.io/heartbeat"].endswith("Z")
    assert n["status"]["allocatable"]["devices.kubevirt.io/kvm"] == "1000"

    metrics = await node.metrics()
    assert f'kubevirt_vmi_phase_count{{node="{NODE}",phase="Running"}} 1.0' in metrics
    assert "kubevirt_virt_handler_sync_duration_seconds_count" in metrics

    # pause / unpause over mutual TLS
    client_ssl = node.pki.client_ssl()
    assert await put(node, "vmi1", "pause", client_ssl) == (200, "")
    vmi = await node.wait_vmi("vmi1", lambda v: (condition(v, "Paused") or {}).get("status") == "True",
                              "Paused condition")
    assert condition(vmi, "Paused")["reason"] == "PausedByUser"  # type: ignore[index]
    assert condition(vmi, "Ready")["status"] == "False"  # type: ignore[index]
    assert vmi["status"]["phase"] == "Running"
    assert await put(node, "vmi1", "unpause", client_ssl) == (200, "")
    await node.wait_vmi("vmi1", lambda v: condition(v, "Paused") is None and running_and_ready(v), "unpaused")
    status_code, body = await put(node, "nope", "pause", client_ssl)
    assert status_code == 404 and '"reason":"NotFound"' in body

    # without a client certificate the TLS handshake is refused
    with pytest.raises(aiohttp.ClientError):
        await put(node, "vmi1", "pause", node.pki.client_ssl(with_cert=False))

    # the serial console as a websocket with raw bytes
    received: asyncio.Queue[bytes] = asyncio.Queue()
    serial = await serve_fake_serial(node.run_dir / "sockets" / uid / "serial0", received)
    try:
        async with aiohttp.ClientSession() as session, session.ws_connect(
                f"{node.base_url}/vmi1/console", ssl=client_ssl, protocols=("plain.kubevirt.io",)) as ws:
            assert ws.protocol == "plain.kubevirt.io"
            banner = b""
            while not banner.endswith(b"login: "):
                msg = await asyncio.wait_for(ws.receive(), 10)
                assert msg.type is aiohttp.WSMsgType.BINARY
                banner += msg.data
            assert b"vmi1 login: " in banner
            await ws.send_bytes(b"root\n")
            assert await asyncio.wait_for(received.get(), 10) == b"root\n"
            echo = await asyncio.wait_for(ws.receive(), 10)
            assert echo.data == b"root\n"
        # closing the websocket closes the console connection
        assert await asyncio.wait_for(received.get(), 10) == b"<eof>"
        # keep-alive: a ping is answered; the console hanging up closes the websocket cleanly
        async with aiohttp.ClientSession() as session, session.ws_connect(
                f"{node.base_url}/vmi1/console", ssl=client_ssl, protocols=("plain.kubevirt.io",),
                autoping=False) as ws:
            await ws.ping(b"keep-alive")
            assert await next_non_binary(ws) == (aiohttp.WSMsgType.PONG, b"keep-alive")
            await ws.send_bytes(b"exit\n")
            assert await next_non_binary(ws) == (aiohttp.WSMsgType.CLOSE, 1000)
    finally:
        serial.close()
        await serial.wait_closed()

    # deletion: ACPI shutdown, the guest powers off, the VMI ends Succeeded and the launcher exits
    await node.delete_vmi("vmi1")
    vmi = await node.wait_vmi("vmi1", lambda v: v["status"].get("phase") in ("Succeeded", "Failed"), "final phase")
    assert vmi["status"]["phase"] == "Succeeded", vmi["status"]
    assert condition(vmi, "Ready")["status"] == "False"  # type: ignore[index]
    assert [t["phase"] for t in vmi["status"]["phaseTransitionTimestamps"]] == ["Scheduled", "Running", "Succeeded"]
    await wait_for_async(lambda: not launcher.alive(), message="launcher exit")
    assert launcher.stop() == 0, launcher.tail()
    await node.release_vmi("vmi1")
