"""The subresource routes against the in-memory API server: what each answers and what it writes.

VM actions (start, stop, restart, migrate, expand-spec) write JSON patches guarded by `test`
operations or create a migration; VMI actions (pause, unpause, softreboot, reset, guest-agent GETs,
screenshot) are checked against the VMI and forwarded to the virt-handler of its node. Every refusal
is a `Status` naming the object, with the code and reason a client acts on.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from virt_client.api.json_patch import failed_test_message, patch_apply_failure
from virt_client.errors import Invalid, error_from_status
from virt_client.resources import NODES, PODS, VMIMS, VMIS, VMS

from .conftest import HANDLER, NS, SUB, HandlerCall, VirtApi, status_body, vm, vmi


def vm_path(name: str, action: str, version: str = "v1") -> str:
    return f"{SUB}/virtualmachines/{name}/{action}".replace("/v1/", f"/{version}/", 1)


def vmi_path(name: str, action: str) -> str:
    return f"{SUB}/virtualmachineinstances/{name}/{action}"


def patches(api: VirtApi) -> list[tuple[str, str | None, Any]]:
    """(plural, subresource, operations) of each patch written, dry runs included."""
    return [(w.ref.plural, w.subresource, w.body) for w in api.kube.writes if w.verb == "patch"]


# --- start -----------------------------------------------------------------------------------


async def test_start_halted_vm_rewrites_the_run_strategy(api: VirtApi) -> None:
    api.kube.seed(VMS, vm(strategy="Halted"))
    resp = await api.client.put(vm_path("vm1", "start"))
    assert (resp.status_code, resp.content) == (202, b"")
    assert patches(api) == [("virtualmachines", None, [
        {"op": "test", "path": "/spec/runStrategy", "value": "Halted"},
        {"op": "replace", "path": "/spec/runStrategy", "value": "Always"}])]
    stored = api.kube.stored(VMS, "vm1", NS)
    assert stored is not None and stored["spec"]["runStrategy"] == "Always"


async def test_start_manual_vm_queues_a_start_request_on_the_status(api: VirtApi) -> None:
    api.kube.seed(VMS, vm(strategy="Manual", status={"printableStatus": "Stopped"}))
    resp = await api.client.put(vm_path("vm1", "start"), content=b'{"paused": true}')
    assert resp.status_code == 202
    assert [(w.verb, w.subresource) for w in api.kube.writes] == [("patch", "status")]
    stored = api.kube.stored(VMS, "vm1", NS)
    assert stored is not None
    assert stored["status"]["stateChangeRequests"] == [{"action": "Start", "data": {"paused": "true"}}]
    assert stored["spec"]["runStrategy"] == "Manual"


@pytest.mark.parametrize("body", [b'{"dryRun": ["All"]}', b"dryRun:\n- All\n"], ids=["json", "yaml"])
async def test_start_dry_run_writes_nothing(api: VirtApi, body: bytes) -> None:
    api.kube.seed(VMS, vm(strategy="Halted"))
    resp = await api.client.put(vm_path("vm1", "start"), content=body)
    assert resp.status_code == 202
    assert [(w.verb, w.dry_run) for w in api.kube.writes] == [("patch", True)]
    stored = api.kube.stored(VMS, "vm1", NS)
    assert stored is not None and stored["spec"]["runStrategy"] == "Halted"


@pytest.mark.parametrize(("seed_vm", "seed_vmi", "code", "reason", "message"), [
    (None, None, 404, "NotFound", 'virtualmachine.kubevirt.io "vm1" not found'),
    (vm(strategy="Manual"), vmi(), 409, "Conflict",
     'Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": VM is already running'),
    (vm(strategy="Always"), None, 409, "Conflict",
     'Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": Always does not support manual start '
     'requests'),
    (vm(strategy="Manual", status={"stateChangeRequests": [{"action": "Stop"}]}), None, 409, "Conflict",
     'Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": unable to complete request: stop/start '
     'already underway'),
    (vm(strategy="Halted", running=True), None, 500, "InternalError",
     "Internal error occurred: running and runstrategy are mutually exclusive"),
], ids=["no-vm", "already-running", "always", "underway", "running-and-strategy"])
async def test_start_refusals(api: VirtApi, seed_vm: dict[str, Any] | None, seed_vmi: dict[str, Any] | None,
                              code: int, reason: str, message: str) -> None:
    if seed_vm is not None:
        api.kube.seed(VMS, seed_vm)
    if seed_vmi is not None:
        api.kube.seed(VMIS, seed_vmi)
    resp = await api.client.put(vm_path("vm1", "start"))
    body = status_body(resp)
    assert (resp.status_code, body["reason"], body["message"]) == (code, reason, message)
    assert body["details"] == {"name": "vm1", "group": "kubevirt.io", "kind": "virtualmachine"}
    assert api.kube.writes == []


@pytest.mark.parametrize(("body", "message"), [
    (b"[1, 2]", "Can not unmarshal Request body to struct, error: the body must be an object"),
    (b'{"paused": "maybe"}', "Can not unmarshal Request body to struct, error: paused: "),
    (b"paused: [", "Can not unmarshal Request body to struct, error: "),
], ids=["not-an-object", "wrong-type", "not-yaml"])
async def test_start_with_a_bad_body_is_400(api: VirtApi, body: bytes, message: str) -> None:
    api.kube.seed(VMS, vm(strategy="Halted"))
    resp = await api.client.put(vm_path("vm1", "start"), content=body)
    status = status_body(resp)
    assert (resp.status_code, status["reason"]) == (400, "BadRequest")
    assert status["message"].startswith(message)
    assert api.kube.writes == []


async def test_start_lost_to_a_concurrent_change_is_409(api: VirtApi) -> None:
    api.kube.seed(VMS, vm(strategy="Halted"))
    changed = error_from_status(422, patch_apply_failure(failed_test_message("/spec/runStrategy")))
    api.kube.fail("patch", VMS, changed, name="vm1")
    resp = await api.client.put(vm_path("vm1", "start"))
    body = status_body(resp)
    assert (resp.status_code, body["reason"]) == (409, "Conflict")
    assert body["message"].startswith('Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": '
                                      "jsonpatch test operation does not apply")
    assert api.kube.writes == []


async def test_unknown_version_is_404(api: VirtApi) -> None:
    api.kube.seed(VMS, vm(strategy="Halted"))
    resp = await api.client.put(vm_path("vm1", "start", version="v2"))
    assert (resp.status_code, status_body(resp)["reason"]) == (404, "NotFound")
    assert api.kube.writes == []


# --- stop ------------------------------------------------------------------------------------


async def test_stop_with_grace_period_patches_the_vmi_then_the_vm(api: VirtApi) -> None:
    api.kube.seed(VMS, vm(strategy="Always"))
    api.kube.seed(VMIS, vmi(terminationGracePeriodSeconds=30))
    resp = await api.client.put(vm_path("vm1", "stop"), content=b'{"gracePeriod": 0}')
    assert resp.status_code == 202
    assert patches(api) == [
        ("virtualmachineinstances", None, [
            {"op": "test", "path": "/spec/terminationGracePeriodSeconds", "value": 30},
            {"op": "add", "path": "/spec/terminationGracePeriodSeconds", "value": 0}]),
        ("virtualmachines", None, [
            {"op": "test", "path": "/spec/runStrategy", "value": "Always"},
            {"op": "replace", "path": "/spec/runStrategy", "value": "Halted"}])]
    stored_vmi, stored_vm = api.kube.stored(VMIS, "vm1", NS), api.kube.stored(VMS, "vm1", NS)
    assert stored_vmi is not None and stored_vmi["spec"]["terminationGracePeriodSeconds"] == 0
    assert stored_vm is not None and stored_vm["spec"]["runStrategy"] == "Halted"


async def test_stop_that_fails_on_the_vm_puts_the_grace_period_back(api: VirtApi) -> None:
    api.kube.seed(VMS, vm(strategy="Always"))
    api.kube.seed(VMIS, vmi(terminationGracePeriodSeconds=30))
    api.kube.fail("patch", VMS, Invalid(422, message="refused by a webhook"), name="vm1")
    resp = await api.client.put(vm_path("vm1", "stop"), content=b'{"gracePeriod": 0}')
    body = status_body(resp)
    assert (resp.status_code, body["message"]) == (500, "Internal error occurred: refused by a webhook")
    assert [(plural, ops[-1]) for plural, _, ops in patches(api)] == [
        ("virtualmachineinstances", {"op": "add", "path": "/spec/terminationGracePeriodSeconds", "value": 0}),
        ("virtualmachineinstances", {"op": "replace", "path": "/spec/terminationGracePeriodSeconds", "value": 30})]
    stored_vmi = api.kube.stored(VMIS, "vm1", NS)
    assert stored_vmi is not None and stored_vmi["spec"]["terminationGracePeriodSeconds"] == 30


async def test_stop_manual_vm_queues_a_stop_request_with_the_vmi_uid(api: VirtApi) -> None:
    api.kube.seed(VMS, vm(strategy="Manual", status={"printableStatus": "Running"}))
    api.kube.seed(VMIS, vmi())
    resp = await api.client.put(vm_path("vm1", "stop"))
    assert resp.status_code == 202
    stored = api.kube.stored(VMS, "vm1", NS)
    assert stored is not None and stored["status"]["stateChangeRequests"] == [{"action": "Stop", "uid": "vmi-uid-1"}]


@pytest.mark.parametrize(("seed_vm", "body", "code", "message"), [
    (vm(strategy="Halted"), b"", 409, 'Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": '
                                      "VM is not running"),
    (vm(strategy="Manual"), b"", 409, 'Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": '
                                      "VM is not running"),
    (vm(strategy="Always"), b'{"gracePeriod": -1}', 400, "gracePeriod has to be greater or equal to 0"),
], ids=["halted", "manual-without-vmi", "negative-grace"])
async def test_stop_refusals(api: VirtApi, seed_vm: dict[str, Any], body: bytes, code: int, message: str) -> None:
    api.kube.seed(VMS, seed_vm)
    resp = await api.client.put(vm_path("vm1", "stop"), content=body)
    assert (resp.status_code, status_body(resp)["message"]) == (code, message)
    assert api.kube.writes == []


# --- restart ---------------------------------------------------------------------------------


async def test_restart_queues_stop_then_start(api: VirtApi) -> None:
    api.kube.seed(VMS, vm(strategy="Always", status={"printableStatus": "Running"}))
    api.kube.seed(VMIS, vmi())
    resp = await api.client.put(vm_path("vm1", "restart"))
    assert resp.status_code == 202
    stored = api.kube.stored(VMS, "vm1", NS)
    assert stored is not None
    assert stored["status"]["stateChangeRequests"] == [{"action": "Stop", "uid": "vmi-uid-1"}, {"action": "Start"}]
    assert api.kube.writes_of("delete") == []


async def test_force_restart_shortens_the_grace_period_and_deletes_the_launcher_pod(api: VirtApi) -> None:
    api.kube.seed(VMS, vm(strategy="Always", status={"printableStatus": "Running"}))
    api.kube.seed(VMIS, vmi(terminationGracePeriodSeconds=30))
    api.kube.seed(PODS, {"metadata": {"name": "virt-launcher-vm1-abcde", "namespace": NS,
                                      "labels": {"kubevirt.io/created-by": "vmi-uid-1"}}})
    api.kube.seed(PODS, {"metadata": {"name": "virt-launcher-other-fghij", "namespace": NS,
                                      "labels": {"kubevirt.io/created-by": "vmi-uid-2"}}})
    resp = await api.client.put(vm_path("vm1", "restart"), content=b'{"gracePeriodSeconds": 0}')
    assert resp.status_code == 202
    stored_vmi = api.kube.stored(VMIS, "vm1", NS)
    assert stored_vmi is not None and stored_vmi["spec"]["terminationGracePeriodSeconds"] == 1
    assert [w.name for w in api.kube.writes_of("delete", PODS)] == ["virt-launcher-vm1-abcde"]
    assert [p["metadata"]["name"] for p in api.kube.objects(PODS, NS)] == ["virt-launcher-other-fghij"]


@pytest.mark.parametrize(("seed_vm", "seed_vmi", "body", "code", "message"), [
    (vm(strategy="Always"), vmi(), b'{"gracePeriodSeconds": 5}', 400,
     "For force restart, only gracePeriod=0 is supported for now"),
    (vm(strategy="Halted"), None, b"", 409,
     'Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": Halted does not support manual restart '
     'requests'),
    (vm(strategy="Always"), None, b"", 409,
     'Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": VM is not running'),
], ids=["positive-grace", "halted", "no-vmi"])
async def test_restart_refusals(api: VirtApi, seed_vm: dict[str, Any], seed_vmi: dict[str, Any] | None,
                                body: bytes, code: int, message: str) -> None:
    api.kube.seed(VMS, seed_vm)
    if seed_vmi is not None:
        api.kube.seed(VMIS, seed_vmi)
    resp = await api.client.put(vm_path("vm1", "restart"), content=body)
    assert (resp.status_code, status_body(resp)["message"]) == (code, message)
    assert api.kube.writes == []


# --- migrate and expand-spec -----------------------------------------------------------------


async def test_migrate_creates_a_migration_for_the_vmi(api: VirtApi) -> None:
    api.kube.seed(VMS, vm())
    api.kube.seed(VMIS, vmi())
    resp = await api.client.put(vm_path("vm1", "migrate"), content=b'{"addedNodeSelector": {"zone": "b"}}')
    assert resp.status_code == 202
    [vmim] = api.kube.objects(VMIMS, NS)
    assert vmim["metadata"]["name"].startswith("kubevirt-migrate-vm-")
    assert vmim["spec"] == {"vmiName": "vm1", "addedNodeSelector": {"zone": "b"}}


async def test_migrate_dry_run_stores_no_migration(api: VirtApi) -> None:
    api.kube.seed(VMS, vm())
    api.kube.seed(VMIS, vmi())
    resp = await api.client.put(vm_path("vm1", "migrate"), content=b'{"dryRun": ["All"]}')
    assert resp.status_code == 202
    assert [(w.verb, w.ref, w.dry_run) for w in api.kube.writes] == [("create", VMIMS, True)]
    assert api.kube.objects(VMIMS, NS) == []


async def test_migrate_needs_a_running_vmi(api: VirtApi) -> None:
    api.kube.seed(VMS, vm())
    api.kube.seed(VMIS, vmi(phase="Scheduled"))
    resp = await api.client.put(vm_path("vm1", "migrate"))
    assert (resp.status_code, status_body(resp)["message"]) == (
        409, 'Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": VM is not running')
    assert api.kube.writes == []


async def test_migrate_refused_by_the_api_server_is_500_with_its_message(api: VirtApi) -> None:
    api.kube.seed(VMS, vm())
    api.kube.seed(VMIS, vmi())
    api.kube.fail("create", VMIMS, Invalid(422, message="in-flight migration detected"))
    resp = await api.client.put(vm_path("vm1", "migrate"))
    assert (resp.status_code, status_body(resp)["message"]) == (
        500, "Internal error occurred: unable to create the migration: in-flight migration detected")
    assert api.kube.objects(VMIMS, NS) == []


async def test_expand_spec_answers_the_vm(api: VirtApi) -> None:
    stored = api.kube.seed(VMS, vm())
    resp = await api.client.get(vm_path("vm1", "expand-spec"))
    assert (resp.status_code, resp.headers["content-type"]) == (200, "application/json")
    assert orjson.loads(resp.content) == stored
    missing = await api.client.get(vm_path("vm2", "expand-spec"))
    assert (missing.status_code, status_body(missing)["message"]) == (404, 'virtualmachine.kubevirt.io "vm2" not found')
    assert api.kube.writes == []


async def test_an_unexpected_failure_is_a_500_status(api: VirtApi) -> None:
    api.kube.fail("get", VMS, RuntimeError("boom"))
    resp = await api.client.get(vm_path("vm1", "expand-spec"))
    assert (resp.status_code, status_body(resp)["message"]) == (500, "Internal error occurred: RuntimeError")


# --- VMI actions forwarded to virt-handler ---------------------------------------------------


def handler_call(method: str, action: str, body: bytes = b"", query: str = "") -> HandlerCall:
    return HandlerCall(HANDLER, method, f"/v1/namespaces/{NS}/virtualmachineinstances/vm1/{action}", query, body)


@pytest.mark.parametrize(("action", "seed_vmi", "body"), [
    ("pause", vmi(), b""),
    ("unpause", vmi(conditions=("Paused",)), b"{}"),
    ("softreboot", vmi(), b""),
    ("reset", vmi(), b""),
], ids=["pause", "unpause", "softreboot", "reset"])
async def test_vmi_put_actions_reach_the_handler_of_the_node(api: VirtApi, action: str, seed_vmi: dict[str, Any],
                                                            body: bytes) -> None:
    api.kube.seed(VMIS, seed_vmi)
    resp = await api.client.put(vmi_path("vm1", action), content=body)
    assert (resp.status_code, resp.content) == (200, b"")
    assert api.handlers.calls == [handler_call("PUT", action, body)]
    assert api.kube.writes == []


async def test_pause_dry_run_does_not_call_the_handler(api: VirtApi) -> None:
    api.kube.seed(VMIS, vmi())
    resp = await api.client.put(vmi_path("vm1", "pause"), content=b'{"dryRun": ["All"]}')
    assert resp.status_code == 200
    assert api.handlers.calls == []


@pytest.mark.parametrize(("action", "seed_vmi", "seed_vm", "code", "message"), [
    ("pause", vmi(conditions=("Paused",)), None, 409,
     'Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "vm1": VMI is already paused'),
    ("pause", vmi(phase="Scheduled"), None, 409,
     'Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "vm1": VM is not running'),
    ("pause", vmi(livenessProbe={"httpGet": {"port": 80}}), None, 403,
     'virtualmachineinstance.kubevirt.io "vm1" is forbidden: Pausing VMIs with LivenessProbe is currently not '
     'supported'),
    ("unpause", vmi(), None, 409,
     'Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "vm1": VMI is not paused'),
    ("unpause", vmi(conditions=("Paused",)), vm(status={"snapshotInProgress": "snap1"}), 409,
     'Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "vm1": VM snapshot is in progress'),
    ("softreboot", vmi(conditions=("Paused",)), None, 409,
     'Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "vm1": VMI is paused'),
    ("softreboot", vmi(domain={"features": {"acpi": {"enabled": False}}}), None, 409,
     'Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "vm1": VMI neither have the agent '
     'connected nor the ACPI feature enabled'),
    ("reset", vmi(phase="Pending", node=None), None, 409,
     'Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "vm1": Failed to reset non-running VMI '
     'with phase Pending'),
    ("pause", None, None, 404, 'virtualmachineinstance.kubevirt.io "vm1" not found'),
], ids=["already-paused", "pause-not-running", "liveness-probe", "not-paused", "snapshot", "softreboot-paused",
        "no-agent-no-acpi", "reset-pending", "no-vmi"])
async def test_vmi_put_refusals_do_not_reach_the_handler(api: VirtApi, action: str, seed_vmi: dict[str, Any] | None,
                                                         seed_vm: dict[str, Any] | None, code: int,
                                                         message: str) -> None:
    if seed_vmi is not None:
        api.kube.seed(VMIS, seed_vmi)
    if seed_vm is not None:
        api.kube.seed(VMS, seed_vm)
    resp = await api.client.put(vmi_path("vm1", action))
    body = status_body(resp)
    assert (resp.status_code, body["message"]) == (code, message)
    assert body["details"] == {"name": "vm1", "group": "kubevirt.io", "kind": "virtualmachineinstance"}
    assert api.handlers.calls == []


async def test_vmi_not_on_a_node_cannot_be_reached(api: VirtApi) -> None:
    api.kube.seed(VMIS, vmi(node=None))
    resp = await api.client.put(vmi_path("vm1", "pause"))
    assert (resp.status_code, status_body(resp)["message"]) == (
        400, "Unable to connect to VirtualMachineInstance because phase is Running instead of Running")
    assert api.handlers.calls == []


@pytest.mark.parametrize(("action", "answer"), [
    ("guestosinfo", (200, b'{"hostname": "guest1"}', "application/json")),
    ("userlist", (200, b'{"items": [{"userName": "root"}]}', "application/json")),
    ("filesystemlist", (200, b'{"items": []}', "application/json")),
    ("vnc/screenshot", (200, b"\x89PNG-data", "image/png")),
], ids=["guestosinfo", "userlist", "filesystemlist", "screenshot"])
async def test_vmi_gets_answer_what_the_handler_answered(api: VirtApi, action: str,
                                                        answer: tuple[int, bytes, str]) -> None:
    api.kube.seed(VMIS, vmi(conditions=("AgentConnected",)))
    api.handlers.answers[action] = answer
    resp = await api.client.get(vmi_path("vm1", action), params={"moveCursor": "true"} if "vnc" in action else None)
    assert (resp.status_code, resp.content, resp.headers["content-type"]) == answer
    assert api.handlers.calls == [handler_call("GET", action, query="moveCursor=true" if "vnc" in action else "")]


@pytest.mark.parametrize(("seed_vmi", "message"), [
    (vmi(), 'Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "vm1": VMI does not have guest '
            'agent connected'),
    (None, 'virtualmachineinstance.kubevirt.io "vm1" not found'),
], ids=["no-agent", "no-vmi"])
async def test_guest_agent_gets_fail_as_plain_text_500(api: VirtApi, seed_vmi: dict[str, Any] | None,
                                                       message: str) -> None:
    if seed_vmi is not None:
        api.kube.seed(VMIS, seed_vmi)
    resp = await api.client.get(vmi_path("vm1", "guestosinfo"))
    assert (resp.status_code, resp.headers["content-type"], resp.text) == (500, "text/plain; charset=utf-8",
                                                                           message)
    assert api.handlers.calls == []


async def test_a_handler_failure_is_500_with_its_answer(api: VirtApi) -> None:
    api.kube.seed(VMIS, vmi())
    api.handlers.answers["pause"] = (503, b"domain busy\n", "text/plain")
    resp = await api.client.put(vmi_path("vm1", "pause"))
    assert (resp.status_code, status_body(resp)["message"]) == (
        500, "Internal error occurred: unexpected return code 503 (Service Unavailable), message: domain busy")


# --- finding the handler of a node -----------------------------------------------------------


async def test_handler_found_by_node_annotation_then_by_pod(api: VirtApi) -> None:
    api.kube.seed(VMIS, vmi(node="node-b"))
    api.kube.seed(NODES, {"metadata": {"name": "node-b",
                                       "annotations": {"kubevirt.io/virt-handler-address": "10.0.0.2:9000"}}})
    assert (await api.client.put(vmi_path("vm1", "pause"))).status_code == 200
    api.kube.seed(VMIS, vmi("vm2", node="node-c"))
    api.kube.seed(PODS, {"metadata": {"name": "virt-handler-x1", "namespace": "kubevirt",
                                      "labels": {"kubevirt.io": "virt-handler"}},
                         "spec": {"nodeName": "node-c"}, "status": {"podIP": "fd00::3"}})
    assert (await api.client.put(vmi_path("vm2", "pause"))).status_code == 200
    assert [c.host for c in api.handlers.calls] == ["10.0.0.2:9000", "[fd00::3]:8186"]


async def test_node_without_a_handler_is_400(api: VirtApi) -> None:
    api.kube.seed(VMIS, vmi(node="node-d"))
    resp = await api.client.put(vmi_path("vm1", "pause"))
    assert (resp.status_code, status_body(resp)["message"]) == (400, "No virt-handler on node node-d found")
    assert api.handlers.calls == []

