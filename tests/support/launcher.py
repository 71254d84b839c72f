"""Fixtures for launcher e2e tests: the tiny guest (built by hack/build_guest.py) and a running launcher."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from virt_client import launcher_protocol as proto
from virt_client.launcher_protocol import LauncherClient

REPO = Path(__file__).resolve().parents[3]
CAPABILITIES_CACHE = Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "kubevirt-py" / "qemu-capabilities"


@pytest.fixture(scope="session")
def guest() -> dict[str, str]:
    out = subprocess.run([sys.executable, str(REPO / "hack" / "build_guest.py")], capture_output=True, text=True,
                         check=False, timeout=600)
    assert out.returncode == 0, f"guest build failed: {out.stderr}"
    paths: dict[str, str] = json.loads(out.stdout)
    return paths


class Events:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.changed = asyncio.Event()

    async def add(self, event: dict[str, Any]) -> None:
        self.items.append(event)
        self.changed.set()

    async def wait_for(self, predicate: Any, timeout: float = 60.0) -> dict[str, Any]:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while True:
                for e in self.items:
                    if predicate(e):
                        return e
                self.changed.clear()
                await self.changed.wait()


class RunningLauncher:
    def __init__(self, proc: asyncio.subprocess.Process, directory: Path, events: Events) -> None:
        self.proc = proc
        self.dir = directory
        self.events = events
        self.client = LauncherClient(str(directory / "launcher.sock"), timeout=60.0)

    async def wait_for_socket(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while not (self.dir / "launcher.sock").exists():
                assert self.proc.returncode is None, "launcher exited early"
                await asyncio.sleep(0.02)

    async def wait_for_exit(self, timeout: float = 60.0) -> tuple[int, str]:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            _, err = await self.proc.communicate()
        assert self.proc.returncode is not None
        return self.proc.returncode, err.decode()

    async def wait_for_serial(self, marker: bytes, timeout: float = 60.0) -> bytes:  # noqa: ASYNC109
        """Read the serial console socket until marker appears; returns everything read."""
        seen = b""
        async with asyncio.timeout(timeout):
            while not (self.dir / "serial0").exists():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            reader, writer = await asyncio.open_unix_connection(str(self.dir / "serial0"))
            try:
                while marker not in seen:
                    chunk = await reader.read(4096)
                    assert chunk, f"serial console closed before {marker!r}; got {seen[-500:]!r}"
                    seen += chunk
            finally:
                writer.close()
        return seen


@pytest.fixture
def launch(tmp_path: Path, guest: dict[str, str]) -> Any:
    """launch(vmi, *args) starts a launcher (emulation) with the guest's images mounted as containers."""
    cd_dir = tmp_path / "container-disks"
    cd_dir.mkdir()
    (cd_dir / "kernel-boot").symlink_to(guest["kernel_boot_dir"])
    (cd_dir / "root").symlink_to(guest["container_disk_dir"])

    @contextlib.asynccontextmanager
    async def start(vmi: dict[str, Any], *args: str) -> AsyncIterator[RunningLauncher]:
        events = Events()
        notify = tmp_path / "notify.sock"
        server = await proto.serve_notify(str(notify), events.add)
        vmi_file = tmp_path / "vmi.json"
        vmi_file.write_bytes(proto.encode(vmi))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "virt_launcher.main", "--dir", str(tmp_path / "l"), "--hypervisor", "emulation",
            "--vmi-file", str(vmi_file), "--notify-socket", str(notify), "--container-disk-dir", str(cd_dir),
            "--capabilities-cache", str(CAPABILITIES_CACHE), *args,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        la = RunningLauncher(proc, tmp_path / "l", events)
        try:
            yield la
        finally:
            await la.client.close()
            if proc.returncode is None:
                proc.terminate()
                try:
                    async with asyncio.timeout(30):
                        await proc.communicate()
                except TimeoutError:
                    proc.kill()
                    await proc.communicate()
            server.close()
            await server.wait_closed()

    return start
