"""Real guests under emulation: the launcher, its own libvirtd and QEMU boot the tiny guest."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.launcher import domain_event
from tests.support.wait import wait_for_async
from virt_client.launcher_protocol import LauncherClient, LauncherError

CAPABILITIES_CACHE = Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "kubevirt-py" / "qemu-capabilities"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def tiny_vmi(*, kernel_boot: bool, kernel_args: str = "console=ttyS0 quiet panic=-1", grace: int = 30) -> dict[str, Any]:
    domain: dict[str, Any] = {"resources": {"requests": {"memory": "256Mi"}}, "devices": {}}
    volumes: list[dict[str, Any]] = []
    if kernel_boot:
        domain["firmware"] = {"kernelBoot": {"kernelArgs": kernel_args, "container": {
            "image": "tiny-kernel", "kernelPath": "/boot/vmlinuz", "initrdPath": "/boot/initrd.gz"}}}
    else:
        domain["devices"]["disks"] = [{"name": "root", "disk": {"bus": "virtio"}, "bootOrder": 1}]
        volumes.append({"name": "root", "containerDisk": {"image": "tiny-disk"}})
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": "tiny", "namespace": "e2e", "uid": "e2e-uid"},
            "spec": {"terminationGracePeriodSeconds": grace, "domain": domain, "volumes": volumes}}


def launcher_event(kind: str) -> Any:
    return lambda e: e["type"] == "launcher" and e["event"] == kind


async def test_kernel_boot_marker_then_sigterm_is_an_acpi_shutdown(launch: Any) -> None:
    async with launch(tiny_vmi(kernel_boot=True)) as la:
        await la.events.wait_for(domain_event("Modified", "Running"))
        await la.wait_for_serial(b"GUEST-BOOTED")
        la.proc.send_signal(signal.SIGTERM)
        code, err = await la.wait_for_exit()
        assert code == 0, err
        deleted = await la.events.wait_for(domain_event("Deleted"))
        assert (deleted["domain"]["state"], deleted["domain"]["reason"]) == ("Shutoff", "Shutdown")
        assert b"GUEST-ACPI-POWERBUTTON" in (la.dir / "serial0.log").read_bytes()


async def test_container_disk_boots_and_kill_destroys(launch: Any) -> None:
    async with launch(tiny_vmi(kernel_boot=False)) as la:
        await la.events.wait_for(domain_event("Modified", "Running"))
        await la.wait_for_serial(b"GUEST-BOOTED")
        await la.client.kill()
        deleted = await la.events.wait_for(domain_event("Deleted"))
        assert (deleted["domain"]["state"], deleted["domain"]["reason"]) == ("Shutoff", "Destroyed")
        code, err = await la.wait_for_exit()
        assert code == 0, err


async def test_guest_ignoring_acpi_is_destroyed_when_grace_period_ends(launch: Any) -> None:
    vmi = tiny_vmi(kernel_boot=True, kernel_args="console=ttyS0 quiet panic=-1 guest.ignore-acpi", grace=2)
    async with launch(vmi) as la:
        await la.wait_for_serial(b"GUEST-BOOTED")
        la.proc.send_signal(signal.SIGTERM)
        code, err = await la.wait_for_exit()
        assert code == 0, err
        deleted = await la.events.wait_for(domain_event("Deleted"))
        assert (deleted["domain"]["state"], deleted["domain"]["reason"]) == ("Shutoff", "Destroyed")
        assert b"GUEST-ACPI-POWERBUTTON" not in (la.dir / "serial0.log").read_bytes()


async def test_killed_libvirtd_is_detected_restarted_and_reattached(launch: Any) -> None:
    async with launch(tiny_vmi(kernel_boot=True)) as la:
        await la.events.wait_for(domain_event("Modified", "Running"))
        await la.wait_for_socket()
        daemon_pid = (await la.client.ping())["daemonPid"]
        os.kill(daemon_pid, signal.SIGKILL)
        died = await la.events.wait_for(launcher_event("DaemonDied"))
        assert "exited with status -9" in died["message"]
        restarted: dict[str, Any] = await la.events.wait_for(launcher_event("DaemonRestarted"))
        assert "domain Running" in restarted["message"]
        assert (await la.client.ping())["daemonPid"] != daemon_pid
        assert (await la.client.domain_info())["state"] == "Running"
        await la.wait_for_serial(b"GUEST-ALIVE")
        await la.client.kill()
        code, err = await la.wait_for_exit()
        assert code == 0, err


async def test_killed_libvirtd_without_restarts_fails_the_vm(launch: Any) -> None:
    async with launch(tiny_vmi(kernel_boot=True), "--daemon-restarts", "0") as la:
        await la.events.wait_for(domain_event("Modified", "Running"))
        await la.wait_for_socket()
        os.kill((await la.client.ping())["daemonPid"], signal.SIGKILL)
        failed = await la.events.wait_for(launcher_event("Failed"))
        assert failed["reason"] == "DaemonFailed"
        code, err = await la.wait_for_exit()
        assert code == 1
        assert "DaemonFailed" in err



async def test_sigterm_after_a_failed_start_exits_at_once(tmp_path: Path) -> None:
    """A domain QEMU could not start (its kernel file missing) must not keep the launcher, and its Pod, alive."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "virt_launcher.main", "--dir", str(tmp_path / "l"), "--hypervisor", "emulation",
        "--kernel-boot-dir", str(tmp_path / "missing"), "--capabilities-cache", str(CAPABILITIES_CACHE),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    client = LauncherClient(str(tmp_path / "l" / "launcher.sock"), timeout=60)
    try:
        def ready() -> bool:
            assert proc.returncode is None, "launcher exited early"
            return (tmp_path / "l" / "launcher.sock").exists()
        await wait_for_async(ready, timeout=60, message="the launcher's command socket")
        with pytest.raises(LauncherError) as excinfo:
            await client.sync(tiny_vmi(kernel_boot=True))
        assert "kernel" in str(excinfo.value)
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            await proc.communicate()
        assert proc.returncode == 0
    finally:
        await client.close()
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()


async def test_pod_log_has_the_lifecycle_and_qemus_lines(launch: Any) -> None:
    async with launch(tiny_vmi(kernel_boot=True)) as la:
        await la.events.wait_for(domain_event("Modified", "Running"))
        await la.wait_for_serial(b"GUEST-BOOTED")
        la.proc.send_signal(signal.SIGTERM)
        code, err = await la.wait_for_exit()
    assert code == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    messages = [line["msg"] for line in lines if "subcomponent" not in line]
    for expected in ("virt-launcher started", "libvirtd started (pid ", "domain e2e_tiny defined",
                     "domain e2e_tiny started", "domain e2e_tiny is Running", "received a stop signal",
                     "domain e2e_tiny is Shutoff (reason Shutdown)", "virt-launcher exiting: the domain ended as asked"):
        assert any(m.startswith(expected) for m in messages), (expected, messages)
    qemu = [line["msg"] for line in lines if line.get("subcomponent") == "qemu"]
    assert any("qemu-system" in m for m in qemu), qemu  # libvirt's record of the QEMU command line
    assert any("shutting down, reason=shutdown" in m for m in qemu), qemu  # QEMU's exit, after the last poll
