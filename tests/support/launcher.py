"""A real `virt-launcher` process and the notify stream it reports to, for launcher tests.

`running_launcher(work, argv)` serves a notify socket in `work`, starts the launcher command line `argv`
(its `--notify-socket` is `notify_socket(work)`), and yields a `RunningLauncher`: its command client,
the `Events` it sent, and waits for its socket, its serial console and its exit. On exit the launcher is
terminated (SIGTERM, then SIGKILL) and the socket closed. `build_guest()` builds (or reuses) the tiny
guest of the e2e tests with `hack/build_guest.py`.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.support.process import REPO
from tests.support.wait import wait_for_async
from virt_client import launcher_protocol as proto
from virt_client.launcher_protocol import LauncherClient

Event = dict[str, Any]


def build_guest() -> dict[str, str]:
    out = subprocess.run([sys.executable, str(REPO / "hack" / "build_guest.py")], capture_output=True, text=True,
                         check=False, timeout=600)
    assert out.returncode == 0, f"hack/build_guest.py failed:\n{out.stderr[-3000:]}"
    paths: dict[str, str] = json.loads(out.stdout)
    return paths


def domain_event(kind: str, state: str | None = None, reason: str | None = None) -> Callable[[Event], bool]:
    return lambda e: (e["type"] == "domain" and e["event"] == kind
                      and (state is None or e["domain"]["state"] == state)
                      and (reason is None or e["domain"]["reason"] == reason))


class Events:
    """Every notify event a launcher sent, in order."""

    def __init__(self) -> None:
        self.items: list[Event] = []
        self.changed = asyncio.Event()

    async def add(self, event: Event) -> None:
        self.items.append(event)
        self.changed.set()

    async def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 60.0) -> Event:  # noqa: ASYNC109
        """The first event matching `predicate`, waiting for it to arrive; fails listing what did."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for e in self.items:
                        if predicate(e):
                            return e
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise AssertionError(f"no matching launcher event within {timeout:g}s; got {self.items}") from None


class RunningLauncher:
    def __init__(self, proc: asyncio.subprocess.Process, directory: Path, events: Events, timeout: float) -> None:
        self.proc = proc
        self.dir = directory
        self.events = events
        self.client = LauncherClient(str(directory / "launcher.sock"), timeout=timeout)

    async def wait_for_socket(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        def ready() -> bool:
            assert self.proc.returncode is None, "launcher exited early"
            return (self.dir / "launcher.sock").exists()
        await wait_for_async(ready, timeout=timeout, interval=0.02, message="the launcher's command socket")

    async def wait_for_exit(self, timeout: float = 60.0) -> tuple[int, str]:  # noqa: ASYNC109
        try:
            async with asyncio.timeout(timeout):
                _, err = await self.proc.communicate()
        except TimeoutError:
            raise AssertionError(f"the launcher did not exit within {timeout:g}s") from None
        assert self.proc.returncode is not None
        return self.proc.returncode, err.decode()

    async def wait_for_serial(self, marker: bytes, timeout: float = 120.0) -> bytes:  # noqa: ASYNC109
        """Read the serial console socket until `marker` appears; returns everything read."""
        seen = b""
        try:
            async with asyncio.timeout(timeout):
                socket = self.dir / "serial0"
                await wait_for_async(socket.exists, timeout=timeout, interval=0.02, message="the serial socket")
                reader, writer = await asyncio.open_unix_connection(str(socket))
                try:
                    while marker not in seen:
                        chunk = await reader.read(4096)
                        assert chunk, f"serial console closed before {marker!r}; got {seen[-500:]!r}"
                        seen += chunk
                finally:
                    writer.close()
                    await writer.wait_closed()
        except TimeoutError:
            raise AssertionError(f"no {marker!r} on the serial console within {timeout:g}s; got {seen[-500:]!r}") from None
        return seen


def notify_socket(work: Path) -> Path:
    return work / "notify.sock"


@asynccontextmanager
async def running_launcher(work: Path, argv: Sequence[str], directory: Path, *, cwd: Path | None = None,
                           env: dict[str, str] | None = None, notify_mode: int | None = None,
                           client_timeout: float = 60.0,
                           reap: Callable[[asyncio.subprocess.Process], Any] | None = None,
                           ) -> AsyncIterator[RunningLauncher]:
    """Start `argv` (a launcher whose private dir is `directory`) with the notify socket served.

    `reap(proc)`, when given, ends the process instead of SIGTERM-then-SIGKILL (a coroutine function).
    """
    events = Events()
    notify = notify_socket(work)
    server = await proto.serve_notify(str(notify), events.add)
    try:
        if notify_mode is not None:
            notify.chmod(notify_mode)
        proc = await asyncio.create_subprocess_exec(*argv, cwd=None if cwd is None else str(cwd), env=env,
                                                    stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.PIPE)
        la = RunningLauncher(proc, directory, events, client_timeout)
        try:
            yield la
        finally:
            await la.client.close()
            if reap is not None:
                await reap(proc)
            elif proc.returncode is None:
                proc.terminate()
                try:
                    async with asyncio.timeout(30):
                        await proc.communicate()
                except TimeoutError:
                    proc.kill()
                    await proc.communicate()
            else:
                await proc.communicate()
    finally:
        server.close()
        await server.wait_closed()


def launcher_argv(directory: Path, hypervisor: str, work: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "virt_launcher.main", "--dir", str(directory), "--hypervisor", hypervisor,
            "--notify-socket", str(notify_socket(work)), *args]
