"""Unix stream sockets at paths of any length.

The kernel limits a socket address to 107 bytes (`sun_path`). On a virt-local node the node's
`/var/run/kubevirt` lives under the data dir, so `.../sockets/<vmi-uid>/launcher.sock` easily exceeds
it. Linux resolves `/proc/self/fd/<dir-fd>/<name>` like any other path, so connecting to (or binding) a
socket through an open descriptor of its directory works whatever the directory's length.

Invariants: short paths take asyncio's ordinary route; the directory descriptor is closed before
returning; the returned streams and servers are asyncio's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

SUN_PATH_MAX = 107


@contextlib.contextmanager
def short_path(path: str) -> Iterator[str]:
    """A path of at most SUN_PATH_MAX bytes naming the same socket, valid inside the block."""
    if len(os.fsencode(path)) <= SUN_PATH_MAX:
        yield path
        return
    directory, name = os.path.split(path)
    fd = os.open(directory or ".", os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{name}"
    finally:
        os.close(fd)


async def open_unix_connection(path: str, **kwargs: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """`asyncio.open_unix_connection` for a path of any length."""
    if len(os.fsencode(path)) <= SUN_PATH_MAX:
        return await asyncio.open_unix_connection(path, **kwargs)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        with short_path(path) as short:
            await asyncio.get_running_loop().sock_connect(sock, short)
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_unix_connection(sock=sock, **kwargs)


async def start_unix_server(callback: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
                            path: str, **kwargs: Any) -> asyncio.Server:
    """`asyncio.start_unix_server` for a path of any length (a stale socket file is replaced)."""
    if len(os.fsencode(path)) <= SUN_PATH_MAX:
        return await asyncio.start_unix_server(callback, path=path, **kwargs)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with short_path(path) as short:
            sock.bind(short)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return await asyncio.start_unix_server(callback, sock=sock, **kwargs)
