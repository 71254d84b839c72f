"""virtctl console and vnc through the API server's aggregation, virt-api and virt-handler (mutual TLS)
down to the VMI's serial and VNC sockets (stand-ins bound where libvirt puts them: the test driver
has none). Bytes must travel unchanged both ways; the console must wait for a VMI that is not
running yet; the VNC proxy prints its port as upstream and serves one viewer.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
from typing import Any

import pytest

from tests.support.virtlocal import BANNER, RFB_VERSION, VIRTCTL, VirtLocal, fake_guest_sockets, vm_manifest
from tests.support.wait import wait_for

pytestmark = pytest.mark.slow


async def read_until(stream: asyncio.StreamReader, marker: bytes, seconds: float = 60.0) -> bytes:
    data = b""
    try:
        async with asyncio.timeout(seconds):
            while marker not in data:
                chunk = await stream.read(4096)
                if not chunk:
                    raise AssertionError(f"stream ended before {marker!r}; got {data!r}")
                data += chunk
    except TimeoutError:
        raise AssertionError(f"no {marker!r} within {seconds:g}s; got {data!r}") from None
    return data


async def started_vmi_uid(stack: VirtLocal, name: str) -> str:
    """Start VM `name` (Manual) and return its VMI's uid as soon as the VMI exists."""
    await asyncio.to_thread(stack.kubectl, "apply", "-f", "-", input=vm_manifest(name, "Manual"))
    res = await asyncio.to_thread(stack.virtctl, "start", name)
    assert res.returncode == 0, res.stderr
    vmi: dict[str, Any] = await asyncio.to_thread(lambda: wait_for(lambda: stack.get("vmi", name), timeout=60, message=f"VMI {name}"))
    return str(vmi["metadata"]["uid"])


async def test_console_streams_bytes_both_ways(stack: VirtLocal) -> None:
    uid = await started_vmi_uid(stack, "talker")
    received: asyncio.Queue[bytes] = asyncio.Queue()
    servers = await fake_guest_sockets(stack.socket_dir(uid), received)
    proc = await asyncio.create_subprocess_exec(VIRTCTL, "console", "talker", "--timeout", "1", env=stack.env,
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        assert BANNER in await read_until(proc.stdout, BANNER, 60)
        proc.stdin.write(b"hello\x1d\x00\xff\n")  # raw bytes, ^] included: no escape without a terminal
        await proc.stdin.drain()
        assert b"HELLO\x1d\x00\xff\n" in await read_until(proc.stdout, b"HELLO")
        got = b""
        async with asyncio.timeout(60):
            while not got.endswith(b"\n"):
                got += await received.get()
        assert got == b"hello\x1d\x00\xff\n"
        proc.stdin.close()
        async with asyncio.timeout(60):
            assert await proc.wait() == 0
        assert b"Successfully connected to talker console" in await proc.stderr.read()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for server in servers:
            server.close()


async def test_console_on_a_terminal_is_raw_and_leaves_on_escape(stack: VirtLocal) -> None:
    uid = await started_vmi_uid(stack, "typist")
    received: asyncio.Queue[bytes] = asyncio.Queue()
    servers = await fake_guest_sockets(stack.socket_dir(uid), received)
    master, slave = pty.openpty()
    proc = await asyncio.create_subprocess_exec(VIRTCTL, "console", "typist", env=stack.env, stdin=slave,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    os.close(slave)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        await read_until(proc.stdout, BANNER, 60)
        os.write(master, b"root\r")  # raw mode: the carriage return is not turned into a newline
        got = b""
        async with asyncio.timeout(60):
            while not got.endswith(b"\r"):
                got += await received.get()
        assert got == b"root\r"
        os.write(master, b"\x1d")  # ^] leaves
        async with asyncio.timeout(60):
            assert await proc.wait() == 0
        assert b"The escape sequence is ^]" in await proc.stderr.read()
    finally:
        os.close(master)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for server in servers:
            server.close()


async def test_vnc_proxy_prints_its_port_and_splices_one_viewer(stack: VirtLocal) -> None:
    uid = await started_vmi_uid(stack, "viewer")
    received: asyncio.Queue[bytes] = asyncio.Queue()
    servers = await fake_guest_sockets(stack.socket_dir(uid), received)
    await asyncio.to_thread(lambda: wait_for(lambda: (stack.get("vmi", "viewer") or {}).get("status", {}).get("phase") == "Running", timeout=60, message="VMI Running"))
    proc = await asyncio.create_subprocess_exec(VIRTCTL, "vnc", "viewer", "--proxy-only", env=stack.env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            line = await proc.stdout.readline()
        port = json.loads(line)["port"]
        assert line.decode().strip() == f'{{"port":{port}}}'
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await read_until(reader, RFB_VERSION) == RFB_VERSION
        writer.write(b"RFB 003.008\n")
        await writer.drain()
        assert b"RFB 003.008\n" == await read_until(reader, b"RFB 003.008\n")
        writer.close()
        async with asyncio.timeout(60):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for server in servers:
            server.close()


async def test_console_of_a_missing_vmi_fails_at_once(stack: VirtLocal) -> None:
    res = await asyncio.to_thread(stack.virtctl, "console", "nobody", "--timeout", "1", input="")
    assert res.returncode == 1
    assert "Can't connect to websocket (404)" in res.stderr and '"nobody" not found' in res.stderr
