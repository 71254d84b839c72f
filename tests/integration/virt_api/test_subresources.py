"""Subresources through the embedded API server's aggregation: codes, state changes, handler calls."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.virt_api import VirtApiStack, virt_api_stack, vm, vmi
from tests.support.wait import wait_for

BASE = "/apis/subresources.kubevirt.io/v1/namespaces/demo"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtApiStack]:
    with virt_api_stack(tmp_path_factory.mktemp("virtapi")) as s:
        yield s


def status_of(res: object) -> str:
    return str(getattr(res, "stderr", "")) + str(getattr(res, "stdout", ""))


def test_discovery_documents(stack: VirtApiStack) -> None:
    resources = json.loads(stack.raw("get", "/apis/subresources.kubevirt.io/v1", check=True).stdout)
    names = {r["name"] for r in resources["resources"]}
    assert {"virtualmachines/start", "virtualmachineinstances/pause", "virtualmachineinstances/console"} <= names
    version = json.loads(stack.raw("get", "/apis/subresources.kubevirt.io/v1/version", check=True).stdout)
    assert version["gitVersion"]
    health = json.loads(stack.raw("get", "/apis/subresources.kubevirt.io/v1/healthz", check=True).stdout)
    assert health["apiserver"]["connectivity"] == "ok"


def test_start_manual_vm_queues_start_request_then_conflicts(stack: VirtApiStack) -> None:
    stack.apply(vm("manual1"))
    res = stack.raw("replace", f"{BASE}/virtualmachines/manual1/start")
    assert res.returncode == 0, status_of(res)
    requests = stack.get_json("vm", "-n", "demo", "manual1")["status"]["stateChangeRequests"]
    assert requests == [{"action": "Start"}]
    again = stack.raw("replace", f"{BASE}/virtualmachines/manual1/start")
    assert again.returncode != 0 and "already underway" in again.stderr


def test_start_halted_vm_rewrites_run_strategy_and_stop_reverts(stack: VirtApiStack) -> None:
    stack.apply(vm("halted1", run_strategy="Halted"))
    assert stack.raw("replace", f"{BASE}/virtualmachines/halted1/start").returncode == 0
    assert stack.get_json("vm", "-n", "demo", "halted1")["spec"]["runStrategy"] == "Always"
    start_again = stack.raw("replace", f"{BASE}/virtualmachines/halted1/start")
    assert start_again.returncode != 0 and "Always does not support manual start requests" in start_again.stderr
    assert stack.raw("replace", f"{BASE}/virtualmachines/halted1/stop").returncode == 0
    assert stack.get_json("vm", "-n", "demo", "halted1")["spec"]["runStrategy"] == "Halted"


def test_dry_run_changes_nothing(stack: VirtApiStack) -> None:
    stack.apply(vm("dry1", run_strategy="Halted"))
    res = stack.raw("replace", f"{BASE}/virtualmachines/dry1/start", body='{"dryRun":["All"]}')
    assert res.returncode == 0, status_of(res)
    assert stack.get_json("vm", "-n", "demo", "dry1")["spec"]["runStrategy"] == "Halted"


def test_stop_and_restart_need_a_running_vmi(stack: VirtApiStack) -> None:
    stack.apply(vm("idle1"))
    stop = stack.raw("replace", f"{BASE}/virtualmachines/idle1/stop")
    assert stop.returncode != 0 and "VM is not running" in stop.stderr
    restart = stack.raw("replace", f"{BASE}/virtualmachines/idle1/restart")
    assert restart.returncode != 0 and "VM is not running" in restart.stderr
    stack.apply(vmi("idle1"))
    uid = stack.get_json("vmi", "-n", "demo", "idle1")["metadata"]["uid"]
    assert stack.raw("replace", f"{BASE}/virtualmachines/idle1/restart").returncode == 0
    requests = stack.get_json("vm", "-n", "demo", "idle1")["status"]["stateChangeRequests"]
    assert requests == [{"action": "Stop", "uid": uid}, {"action": "Start"}]


def test_missing_vm_is_404(stack: VirtApiStack) -> None:
    res = stack.raw("replace", f"{BASE}/virtualmachines/nope/start")
    assert res.returncode != 0 and "NotFound" in res.stderr or "not found" in res.stderr


def test_pause_and_unpause_reach_the_handler(stack: VirtApiStack) -> None:
    stack.apply(vmi("run1"))
    stack.handler.calls.clear()
    assert stack.raw("replace", f"{BASE}/virtualmachineinstances/run1/pause").returncode == 0
    wait_for(lambda: stack.handler.calls, timeout=5, message="the handler call")
    method, path, _ = stack.handler.calls[-1]
    assert (method, path) == ("PUT", "/v1/namespaces/demo/virtualmachineinstances/run1/pause")
    not_paused = stack.raw("replace", f"{BASE}/virtualmachineinstances/run1/unpause")
    assert not_paused.returncode != 0 and "VMI is not paused" in not_paused.stderr
    stack.apply(vmi("paused1", paused=True))
    assert stack.raw("replace", f"{BASE}/virtualmachineinstances/paused1/unpause").returncode == 0
    assert stack.handler.calls[-1][1].endswith("/paused1/unpause")


def test_pause_of_a_stopped_vmi_is_conflict(stack: VirtApiStack) -> None:
    stack.apply(vmi("sched1", phase="Scheduled"))
    res = stack.raw("replace", f"{BASE}/virtualmachineinstances/sched1/pause")
    assert res.returncode != 0 and "VM is not running" in res.stderr


def test_guest_agent_get_goes_to_handler(stack: VirtApiStack) -> None:
    stack.apply(vmi("agent1"))
    res = stack.raw("get", f"{BASE}/virtualmachineinstances/agent1/guestosinfo")
    assert res.returncode != 0 and "guest agent" in res.stderr
