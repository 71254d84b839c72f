"""Removal of launcher directories nobody needs any more.

Each launcher keeps its private directory (command socket, serial console socket and log, daemon
state, ephemeral disks) at `<run-dir>/sockets/<vmi-uid>/` on the node. When the VMI has left this
node and its launcher has ended, the directory is left behind; upstream's virt-handler cleans such
"ghost" records up, and so does this sweep, at start and then every `interval` seconds.

A directory is removed only when all of these hold: its uid belongs to no VMI this handler knows (on
this node or arriving by migration), nothing answers on its `launcher.sock`, and it has not changed
for `min_age` seconds (a launcher that has just started may not listen yet, and its VMI reaches this
node's cache only once it is Scheduled).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from virt_client import unix_sockets
from virt_client.launcher_protocol import LAUNCHER_SOCKET_NAME

log = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 60.0
MIN_AGE_SECONDS = 120.0


async def _answers(socket_path: Path) -> bool:
    """Something accepts connections on the socket (a launcher that is still alive)."""
    try:
        async with asyncio.timeout(2.0):
            _, writer = await unix_sockets.open_unix_connection(str(socket_path))
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


async def sweep_once(sockets_dir: Path, live_uids: set[str], min_age: float = MIN_AGE_SECONDS) -> list[str]:
    """Remove the abandoned launcher directories under `sockets_dir`; the uids removed."""
    try:
        entries = await asyncio.to_thread(lambda: [p for p in sockets_dir.iterdir() if p.is_dir()])
    except FileNotFoundError:
        return []
    removed = []
    for directory in entries:
        uid = directory.name
        if uid in live_uids or _age(directory) < min_age:
            continue
        if await _answers(directory / LAUNCHER_SOCKET_NAME):
            continue
        await asyncio.to_thread(shutil.rmtree, directory, True)
        log.info("removed the directory of the launcher of VMI uid %s: no VMI and no launcher left", uid)
        removed.append(uid)
    return removed


async def sweep_forever(sockets_dir: Path, live_uids: Callable[[], set[str]],
                        interval: float = SWEEP_INTERVAL_SECONDS) -> None:
    while True:
        try:
            await sweep_once(sockets_dir, live_uids())
        except OSError as e:
            log.warning("sweeping %s: %s", sockets_dir, e)
        await asyncio.sleep(interval)
