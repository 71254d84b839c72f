"""The launcher process with libvirt's test driver: command socket, notify stream, signals, timeouts.

No daemon and no QEMU: these run in well under a second each and exercise the same command server and
notify stream as real guests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.launcher import RunningLauncher, domain_event, launcher_argv, running_launcher
from virt_client import launcher_protocol as proto
from virt_client.launcher_protocol import LauncherError


def make_vmi(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": "vm1", "namespace": "demo", "uid": "uid-1"},
            "spec": {"domain": {"resources": {"requests": {"memory": "64Mi"}},
                                "devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}]}},
                     "volumes": [{"name": "root", "containerDisk": {"image": "tiny"}}], **spec}}


@contextlib.asynccontextmanager
async def launcher(tmp_path: Path, *args: str) -> AsyncIterator[RunningLauncher]:
    async def kill(proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            proc.kill()
        await proc.communicate()

    argv = launcher_argv(tmp_path / "l", "test", tmp_path, *args)
    async with running_launcher(tmp_path, argv, tmp_path / "l", reap=kill) as la:
        yield la


async def test_lifecycle_commands_and_events_in_wait_for_sync_mode(tmp_path: Path) -> None:
    async with launcher(tmp_path) as la:
        await la.wait_for_socket()
        ping = await la.client.ping()
        assert (ping["version"], ping["hypervisor"], ping["hasDomain"]) == (1, "test", False)
        assert await la.client.domain_info() == {"exists": False}
        info = await la.client.sync(make_vmi())
        assert (info["name"], info["state"], info["vmiUID"]) == ("demo_vm1", "Running", "uid-1")
        await la.events.wait_for(domain_event("Added"))
        await la.events.wait_for(domain_event("Modified", "Running"))
        assert (await la.client.pause())["state"] == "Paused"
        await la.events.wait_for(domain_event("Modified", "Paused", "User"))
        assert (await la.client.unpause())["state"] == "Running"
        assert (await la.client.soft_reboot())["state"] == "Running"
        assert (await la.client.reset())["state"] == "Running"
        assert (await la.client.sync(make_vmi()))["state"] == "Running"  # idempotent
        await la.client.shutdown()
        deleted = await la.events.wait_for(domain_event("Deleted"))
        assert (deleted["domain"]["state"], deleted["domain"]["reason"]) == ("Shutoff", "Shutdown")
        await la.events.wait_for(lambda e: e["type"] == "launcher" and e["event"] == "Exiting")
        code, err = await la.wait_for_exit()
        assert code == 0
        assert "Traceback" not in err, err  # a client still connected at exit is closed quietly


async def test_sigterm_shuts_the_domain_down_and_exits_zero(tmp_path: Path) -> None:
    vmi_file = tmp_path / "vmi.json"
    vmi_file.write_bytes(proto.encode(make_vmi()))
    async with launcher(tmp_path, "--vmi-file", str(vmi_file)) as la:
        await la.events.wait_for(domain_event("Modified", "Running"))
        la.proc.send_signal(signal.SIGTERM)
        code, _ = await la.wait_for_exit()
        assert code == 0
        deleted = await la.events.wait_for(domain_event("Deleted"))
        assert deleted["domain"]["reason"] == "Shutdown"


async def test_kill_destroys_the_domain(tmp_path: Path) -> None:
    async with launcher(tmp_path) as la:
        await la.wait_for_socket()
        await la.client.sync(make_vmi())
        await la.client.kill()
        deleted = await la.events.wait_for(domain_event("Deleted"))
        assert (deleted["domain"]["state"], deleted["domain"]["reason"]) == ("Shutoff", "Destroyed")
        code, _ = await la.wait_for_exit()
        assert code == 0


async def test_start_strategy_paused(tmp_path: Path) -> None:
    async with launcher(tmp_path) as la:
        await la.wait_for_socket()
        info = await la.client.sync(make_vmi(startStrategy="Paused"))
        assert info["state"] == "Paused"
        assert (await la.client.unpause())["state"] == "Running"


async def test_unsupported_field_is_answered_with_its_name(tmp_path: Path) -> None:
    vmi = make_vmi()
    vmi["spec"]["domain"]["devices"]["gpus"] = [{"name": "g", "deviceName": "nvidia"}]
    async with launcher(tmp_path) as la:
        await la.wait_for_socket()
        with pytest.raises(LauncherError) as excinfo:
            await la.client.sync(vmi)
        assert excinfo.value.reason == "InvalidVMI"
        assert "spec.domain.devices.gpus" in excinfo.value.message
        assert (await la.client.ping())["hasDomain"] is False  # still serving


async def test_protocol_errors(tmp_path: Path) -> None:
    async with launcher(tmp_path) as la:
        await la.wait_for_socket()
        with pytest.raises(LauncherError) as excinfo:
            await la.client.call("migrate")
        assert excinfo.value.reason == "UnknownCommand"
        with pytest.raises(LauncherError) as excinfo:
            await la.client.pause()
        assert excinfo.value.reason == "NoDomain"
        reader, writer = await asyncio.open_unix_connection(str(la.dir / "launcher.sock"))
        writer.write(b'{"v":99,"id":1,"cmd":"ping"}\n')
        reply = json.loads(await reader.readline())
        writer.close()
        assert (reply["ok"], reply["error"]["reason"]) == (False, "UnsupportedVersion")


async def test_no_domain_within_timeout_exits_non_zero_with_reason(tmp_path: Path) -> None:
    async with launcher(tmp_path, "--domain-timeout", "0.3") as la:
        code, err = await la.wait_for_exit()
        assert code == 1
        assert "DomainTimeout: no domain started within 0.3s" in err
        failed = await la.events.wait_for(lambda e: e["type"] == "launcher" and e["event"] == "Failed")
        assert failed["reason"] == "DomainTimeout"


def pod_log(stderr: str) -> list[dict[str, Any]]:
    """The launcher's stderr as JSON lines (every line must be one)."""
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


async def test_pod_log_tells_the_lifecycle_as_json_lines(tmp_path: Path) -> None:
    vmi_file = tmp_path / "vmi.json"
    vmi_file.write_bytes(proto.encode(make_vmi()))
    async with launcher(tmp_path, "--vmi-file", str(vmi_file)) as la:
        await la.events.wait_for(domain_event("Modified", "Running"))
        await la.client.pause()
        await la.events.wait_for(domain_event("Modified", "Paused", "User"))
        with pytest.raises(LauncherError):
            await la.client.pause()  # libvirt refuses to pause a paused domain
        la.proc.send_signal(signal.SIGTERM)
        code, err = await la.wait_for_exit()
    assert code == 0
    lines = pod_log(err)
    assert {line["component"] for line in lines} == {"virt-launcher"}
    assert all(line["timestamp"].endswith("Z") and ":" in line["pos"] for line in lines)
    messages = [line["msg"] for line in lines]
    assert messages[0].startswith("virt-launcher started (pid ")
    for expected in ("domain demo_vm1 defined", "domain demo_vm1 started", "domain demo_vm1 is Running (reason Booted)",
                     "command pause on domain demo_vm1", "domain demo_vm1 is Paused (reason User)",
                     "received a stop signal: shutting the domain down",
                     "virt-launcher exiting: the domain ended as asked"):
        assert any(m.startswith(expected) for m in messages), (expected, messages)
    failed = next(line for line in lines if line["level"] == "error")
    assert failed["msg"].startswith("command pause failed: ") and failed["command"] == "pause"
    assert (failed["namespace"], failed["name"], failed["uid"]) == ("demo", "vm1", "uid-1")
    assert lines[-1]["exitCode"] == 0


async def test_pod_log_says_why_the_launcher_failed(tmp_path: Path) -> None:
    async with launcher(tmp_path, "--domain-timeout", "0.5") as la:
        code, err = await la.wait_for_exit()
    assert code == 1
    last = pod_log(err)[-1]
    assert (last["level"], last["exitCode"]) == ("error", 1)
    assert last["msg"] == "virt-launcher exiting: DomainTimeout: no domain started within 0.5s"
