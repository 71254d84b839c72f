"""Launcher e2e fixtures: the tiny guest (built by hack/build_guest.py) and a launcher booting it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.launcher import RunningLauncher, build_guest, launcher_argv, running_launcher
from virt_client import launcher_protocol as proto

CAPABILITIES_CACHE = Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "kubevirt-py" / "qemu-capabilities"

Launch = Callable[..., contextlib.AbstractAsyncContextManager[RunningLauncher]]


@pytest.fixture(scope="session")
def guest() -> dict[str, str]:
    return build_guest()


@pytest.fixture
def launch(tmp_path: Path, guest: dict[str, str]) -> Launch:
    """launch(vmi, *args) starts a launcher (emulation) with the guest's images mounted as containers."""
    cd_dir = tmp_path / "container-disks"
    cd_dir.mkdir()
    (cd_dir / "kernel-boot").symlink_to(guest["kernel_boot_dir"])
    (cd_dir / "root").symlink_to(guest["container_disk_dir"])

    @contextlib.asynccontextmanager
    async def start(vmi: dict[str, Any], *args: str) -> AsyncIterator[RunningLauncher]:
        vmi_file = tmp_path / "vmi.json"
        vmi_file.write_bytes(proto.encode(vmi))
        argv = launcher_argv(tmp_path / "l", "emulation", tmp_path, "--vmi-file", str(vmi_file),
                             "--container-disk-dir", str(cd_dir), "--capabilities-cache", str(CAPABILITIES_CACHE),
                             *args)
        async with running_launcher(tmp_path, argv, tmp_path / "l") as la:
            yield la

    return start
