"""virt-handler facing failures: a VMI the launcher refuses is reported not Synchronized, a launcher
killed with SIGKILL fails its VMI with a reason, and a handler restart re-adopts a running domain
without restarting it; a launcher Pod that ended fails its VMI with LauncherExited."""

from __future__ import annotations

import signal
from typing import Any

import aiohttp
import pytest

from tests.support.handler_node import NODE, HandlerNode, condition
from tests.support.wait import wait_for_async
from virt_client.launcher_protocol import LauncherClient
from virt_client.resources import NODES, PODS

pytestmark = pytest.mark.slow


def phase_is(phase: str) -> Any:
    return lambda vmi: (vmi.get("status") or {}).get("phase") == phase


async def running_vmi(node: HandlerNode, name: str) -> tuple[dict[str, Any], Any]:
    vmi = await node.create_scheduled_vmi(name)
    launcher = node.start_launcher(vmi["metadata"]["uid"])
    return await node.wait_vmi(name, phase_is("Running"), f"{name} Running"), launcher


async def test_killed_launcher_fails_its_vmi(handler_node: HandlerNode) -> None:
    node = handler_node
    await node.start_handler()
    _, launcher = await running_vmi(node, "doomed")
    launcher.stop(signal.SIGKILL)
    vmi = await node.wait_vmi("doomed", phase_is("Failed"), "VMI Failed after its launcher died")
    assert vmi["status"]["reason"] == "LauncherUnresponsive"
    assert condition(vmi, "Ready")["status"] == "False"  # type: ignore[index]
    assert [t["phase"] for t in vmi["status"]["phaseTransitionTimestamps"]] == ["Scheduled", "Running", "Failed"]
    await node.delete_vmi("doomed")
    await node.release_vmi("doomed")


async def test_restart_readopts_running_domain(handler_node: HandlerNode) -> None:
    node = handler_node
    handler = await node.start_handler()
    before, launcher = await running_vmi(node, "survivor")
    uid = before["metadata"]["uid"]

    assert handler.stop() == 0, handler.tail()

    async def unschedulable() -> bool:
        labels = (await node.kube.get(NODES, NODE))["metadata"].get("labels") or {}
        return labels.get("kubevirt.io/schedulable") == "false"
    await wait_for_async(unschedulable, message="node marked unschedulable on stop")
    assert launcher.alive()

    await node.start_handler()
    # the new handler manages the VMI: pausing it through the new server shows up in the status
    client_ssl = node.pki.client_ssl()
    async with aiohttp.ClientSession() as session, \
            session.put(f"{node.base_url}/survivor/pause", ssl=client_ssl) as resp:
        assert resp.status == 200, await resp.text()
    vmi = await node.wait_vmi("survivor", lambda v: (condition(v, "Paused") or {}).get("status") == "True",
                              "Paused after the restart")
    # ... and the domain was never restarted: same launcher process, one Running transition
    assert launcher.alive()
    assert [t["phase"] for t in vmi["status"]["phaseTransitionTimestamps"]] == ["Scheduled", "Running"]
    async with LauncherClient(str(node.run_dir / "sockets" / uid / "launcher.sock")) as client:
        assert (await client.ping())["pid"] == launcher.pid
        info = await client.domain_info()
    assert (info["state"], info["reason"]) == ("Paused", "User")
    await node.delete_vmi("survivor")
    vmi = await node.wait_vmi("survivor", lambda v: v["status"].get("phase") in ("Succeeded", "Failed"), "final")
    assert vmi["status"]["phase"] == "Succeeded", vmi["status"]
    await node.release_vmi("survivor")


async def test_refused_sync_is_reported(handler_node: HandlerNode) -> None:
    node = handler_node
    await node.start_handler()
    vmi = await node.create_scheduled_vmi("arm", architecture="arm64")
    node.start_launcher(vmi["metadata"]["uid"])
    vmi = await node.wait_vmi("arm", lambda v: condition(v, "Synchronized") is not None, "Synchronized condition")
    sync = condition(vmi, "Synchronized")
    assert sync is not None and (sync["status"], sync["reason"]) == ("False", "InvalidVMI")
    assert "arm64" in sync["message"]
    assert vmi["status"]["phase"] == "Scheduled"
    metrics = await node.metrics()
    assert 'kubevirt_virt_handler_sync_errors_total{reason="InvalidVMI"}' in metrics
    await node.delete_vmi("arm")
    await node.release_vmi("arm")


async def test_launcher_pod_that_ended_before_answering_fails_its_vmi(handler_node: HandlerNode) -> None:
    node = handler_node
    await node.start_handler()
    vmi = await node.create_scheduled_vmi("stillborn")
    uid = vmi["metadata"]["uid"]
    # the test plays the kubelet: the launcher Pod's compute container ended before its socket appeared
    await node.kube.create(PODS, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "virt-launcher-stillborn-x", "namespace": "default",
                     "labels": {"kubevirt.io/created-by": uid}},
        "spec": {"nodeName": NODE, "containers": [{"name": "compute", "image": "virt-launcher:test"}]}})
    await node.kube.patch(PODS, "virt-launcher-stillborn-x", {"status": {
        "phase": "Failed",
        "containerStatuses": [{"name": "compute", "ready": False, "restartCount": 0, "image": "virt-launcher:test",
                               "imageID": "", "state": {"terminated": {"exitCode": 1, "reason": "Error",
                                                                       "message": "libvirtd did not start"}}}]}},
        "default", subresource="status")
    vmi = await node.wait_vmi("stillborn", phase_is("Failed"), "VMI Failed after its launcher Pod ended")
    assert vmi["status"]["reason"] == "LauncherExited"
    assert [t["phase"] for t in vmi["status"]["phaseTransitionTimestamps"]] == ["Scheduled", "Failed"]
    await node.delete_vmi("stillborn")
    await node.release_vmi("stillborn")
