"""A launcher killed under `virt-local up --hypervisor test`: its Pod's compute container ends, and the
VMI fails with the reason at once (virt-handler's LauncherExited, or virt-controller's reading of the
compute container, whichever sees it first) instead of waiting for the launcher socket to time out."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.process import descendants
from tests.support.virtlocal import VirtLocal, virt_local_up
from tests.support.wait import wait_for
from virt_client.launcher_protocol import LauncherClient

pytestmark = pytest.mark.slow

VMI = """
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: doomed}
spec:
  domain:
    devices: {}
    resources: {requests: {memory: 64Mi}}
"""


async def _launcher_pid(socket: Path) -> int:
    async with LauncherClient(str(socket)) as client:
        return int((await client.ping())["pid"])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtLocal]:
    with virt_local_up(tmp_path_factory.mktemp("stack") / "d", "test") as vl:
        yield vl


def test_killed_launcher_fails_its_vmi_with_the_launchers_exit(stack: VirtLocal) -> None:
    stack.kubectl("apply", "-f", "-", input=VMI)
    wait_for(lambda: stack.phase("vmi", "doomed") == "Running", timeout=60, message="VMI doomed Running")
    vmi = stack.get("vmi", "doomed")
    assert vmi is not None
    uid = vmi["metadata"]["uid"]
    socket = stack.data_dir / "nodes" / "node-1" / "root" / "var" / "run" / "kubevirt" / "sockets" / uid / "launcher.sock"
    pid = asyncio.run(_launcher_pid(socket))
    assert pid in descendants(stack.pid), "the launcher runs under virt-local up"
    os.kill(pid, signal.SIGKILL)

    failed = wait_for(lambda: (v := stack.get("vmi", "doomed")) and v["status"].get("phase") == "Failed" and v,
                      timeout=60, message="VMI doomed Failed")
    # virt-handler (LauncherExited) or virt-controller (the compute container's reason) tells first
    assert failed["status"]["reason"] in ("LauncherExited", "Error"), failed["status"]
    stack.kubectl("delete", "vmi", "doomed", "--wait=false")
