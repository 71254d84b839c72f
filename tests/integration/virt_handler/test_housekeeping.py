"""The sweep of abandoned launcher directories: only a directory of no known VMI, with no launcher
answering on its socket and unchanged for a while, is removed."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from virt_client import unix_sockets
from virt_handler.housekeeping import sweep_once


def launcher_dir(root: Path, uid: str, age: float, socket_file: bool = False) -> Path:
    d = root / uid
    d.mkdir(parents=True)
    (d / "serial0.log").write_text("GUEST-BOOTED\n")
    if socket_file:
        (d / "launcher.sock").touch()  # a socket file left behind, nobody listening
    then = time.time() - age
    os.utime(d, (then, then))
    return d


async def test_only_abandoned_directories_are_removed(tmp_path: Path) -> None:
    root = tmp_path / "sockets"
    live = launcher_dir(root, "uid-live", age=600)
    gone = launcher_dir(root, "uid-gone", age=600, socket_file=True)
    young = launcher_dir(root, "uid-young", age=5)
    serving = launcher_dir(root, "uid-serving", age=600)
    async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()
    server = await unix_sockets.start_unix_server(hang_up, str(serving / "launcher.sock"))
    os.utime(serving, (time.time() - 600, time.time() - 600))
    try:
        removed = await sweep_once(root, {"uid-live"}, min_age=60)
    finally:
        server.close()
        await server.wait_closed()
    assert removed == ["uid-gone"]
    assert not gone.exists()
    assert live.exists() and young.exists() and serving.exists()


async def test_a_missing_sockets_directory_is_nothing_to_do(tmp_path: Path) -> None:
    assert await sweep_once(tmp_path / "absent", set()) == []
