"""Unix sockets at paths longer than the kernel's 107-byte limit (virt-local node roots are deep)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from virt_client import launcher_protocol, unix_sockets


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(await reader.readline())
    await writer.drain()
    writer.close()


@pytest.mark.parametrize("depth", [1, 12], ids=["short-path", "long-path"])
async def test_server_and_client_at_any_path_length(tmp_path: Path, depth: int) -> None:
    directory = tmp_path.joinpath(*["sockets-directory"] * depth)
    directory.mkdir(parents=True)
    path = str(directory / "launcher.sock")
    assert (len(path) > unix_sockets.SUN_PATH_MAX) == (depth > 1)
    server = await unix_sockets.start_unix_server(_echo, path)
    try:
        assert await asyncio.to_thread(Path(path).is_socket)
        reader, writer = await unix_sockets.open_unix_connection(path)
        writer.write(b"hello\n")
        assert await reader.readline() == b"hello\n"
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()


async def test_long_path_without_a_server_is_unreachable(tmp_path: Path) -> None:
    directory = tmp_path.joinpath(*["sockets-directory"] * 12)
    directory.mkdir(parents=True)
    client = launcher_protocol.LauncherClient(str(directory / "launcher.sock"))
    with pytest.raises(launcher_protocol.LauncherUnreachable):
        await client.ping()
