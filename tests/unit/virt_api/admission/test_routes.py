"""Every admission webhook route over the in-memory API server: the AdmissionReview it answers.

Allowed answers carry the request uid; refusals are 422 Invalid with one cause per wrong field;
mutations are a base64 JSONPatch of the changed sections; a body that is not an AdmissionReview is
400. The migration-create validator reads the VMI and its migrations through the `KubeApi` fake,
and refuses (500) when it cannot.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from virt_client.errors import ServerError
from virt_client.resources import VMIMS, VMIS

from ..conftest import NS, VirtApi, vmi

VALID_SPEC: dict[str, Any] = {
    "domain": {"devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}]},
               "resources": {"requests": {"memory": "64Mi"}}},
    "volumes": [{"name": "root", "containerDisk": {"image": "img:1"}}]}


def review(obj: dict[str, Any], *, operation: str = "CREATE", old: dict[str, Any] | None = None,
           user: str = "alice", resource: str = "virtualmachineinstances") -> dict[str, Any]:
    request: dict[str, Any] = {"uid": "req-1", "operation": operation, "userInfo": {"username": user},
                               "namespace": NS, "resource": {"resource": resource}, "object": obj}
    if old is not None:
        request["oldObject"] = old
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


async def answer(api: VirtApi, path: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = await api.client.post(path, content=orjson.dumps(body))
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = orjson.loads(resp.content)["response"]
    assert out["uid"] == "req-1"
    return out


def obj(kind: str, spec: dict[str, Any], name: str = "vm1", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "kubevirt.io/v1", "kind": kind, "metadata": {"name": name, "namespace": NS, **meta},
            "spec": spec}


VM_SPEC = {"runStrategy": "Always", "template": {"spec": VALID_SPEC}}
VMIRS_SPEC = {"replicas": 2, "selector": {"matchLabels": {"app": "a"}},
              "template": {"metadata": {"labels": {"app": "a"}}, "spec": VALID_SPEC}}


@pytest.mark.parametrize(("path", "body", "fields"), [
    ("/virtualmachineinstances-validate-create", review(obj("VirtualMachineInstance", VALID_SPEC)), []),
    ("/virtualmachineinstances-validate-create", review(obj("VirtualMachineInstance", {"domain": {"devices": {}}})),
     ["spec.domain.resources.requests.memory"]),
    ("/virtualmachineinstances-validate-update",
     review(obj("VirtualMachineInstance", {**VALID_SPEC, "hostname": "h"}), operation="UPDATE",
            old=obj("VirtualMachineInstance", VALID_SPEC)), ["spec"]),
    ("/virtualmachines-validate", review(obj("VirtualMachine", VM_SPEC), resource="virtualmachines"), []),
    ("/virtualmachines-validate",
     review(obj("VirtualMachine", {**VM_SPEC, "runStrategy": "Sometimes"}), resource="virtualmachines"),
     ["spec.runStrategy"]),
    ("/virtualmachinereplicaset-validate", review(obj("VirtualMachineInstanceReplicaSet", VMIRS_SPEC)), []),
    ("/virtualmachinereplicaset-validate",
     review(obj("VirtualMachineInstanceReplicaSet", {**VMIRS_SPEC, "selector": {"matchLabels": {"app": "b"}}})),
     ["spec.selector"]),
    ("/migration-validate-update",
     review(obj("VirtualMachineInstanceMigration", {"vmiName": "vm2"}), operation="UPDATE",
            old=obj("VirtualMachineInstanceMigration", {"vmiName": "vm1"})), ["spec"]),
    ("/status-validate",
     review({"status": {"stateChangeRequests": [{"action": "Explode"}]}}, operation="UPDATE",
            resource="virtualmachines"), ["status.stateChangeRequests[0].action"]),
], ids=["vmi-create", "vmi-create-no-memory", "vmi-update-by-user", "vm", "vm-bad-strategy", "vmirs",
        "vmirs-selector", "migration-update", "status"])
async def test_validating_webhooks(api: VirtApi, path: str, body: dict[str, Any], fields: list[str]) -> None:
    out = await answer(api, path, body)
    if not fields:
        assert out == {"uid": "req-1", "allowed": True}
        return
    assert out["allowed"] is False
    status = out["status"]
    assert (status["code"], status["reason"]) == (422, "Invalid")
    assert [c["field"] for c in status["details"]["causes"]] == fields
    assert status["message"] == ", ".join(c["message"] for c in status["details"]["causes"])
    assert api.kube.writes == []


def migration(name: str = "m2", vmi_name: str = "vm1") -> dict[str, Any]:
    return obj("VirtualMachineInstanceMigration", {"vmiName": vmi_name}, name=name)


async def test_migration_create_is_allowed_for_a_running_vmi(api: VirtApi) -> None:
    api.kube.seed(VMIS, vmi())
    out = await answer(api, "/migration-validate-create", review(migration()))
    assert out == {"uid": "req-1", "allowed": True}
    assert api.kube.writes == []


@pytest.mark.parametrize(("seed_vmi", "others", "message"), [
    (None, [], 'the VMI "vm1" does not exist'),
    (vmi(phase="Scheduled"), [], "Cannot migrate VMI vm1: it is not running"),
    (vmi(), [{**migration("m1"), "metadata": {"name": "m1", "namespace": NS,
                                               "labels": {"kubevirt.io/vmi-name": "vm1"}},
              "status": {"phase": "Running"}}],
     "in-flight migration detected. Active migration job (m1) is currently already in progress for VMI vm1."),
], ids=["no-vmi", "not-running", "in-flight"])
async def test_migration_create_refusals(api: VirtApi, seed_vmi: dict[str, Any] | None,
                                         others: list[dict[str, Any]], message: str) -> None:
    if seed_vmi is not None:
        api.kube.seed(VMIS, seed_vmi)
    for other in others:
        api.kube.seed(VMIMS, other)
    out = await answer(api, "/migration-validate-create", review(migration()))
    assert out["allowed"] is False
    assert (out["status"]["code"], out["status"]["message"]) == (422, message)


async def test_migration_create_refused_when_the_migrations_cannot_be_read(api: VirtApi) -> None:
    api.kube.seed(VMIS, vmi())
    api.kube.fail("list", VMIMS, ServerError(503, message="etcd unavailable"))
    out = await answer(api, "/migration-validate-create", review(migration()))
    assert out["allowed"] is False
    assert (out["status"]["code"], out["status"]["reason"]) == (500, "InternalError")
    assert out["status"]["message"].startswith("cannot list migrations: ")


def patch_of(out: dict[str, Any]) -> dict[str, Any]:
    assert (out["allowed"], out["patchType"]) == (True, "JSONPatch")
    return {op["path"]: op for op in orjson.loads(base64.b64decode(out["patch"]))}


async def test_vmi_mutator_defaults_the_vmi(api: VirtApi) -> None:
    out = await answer(api, "/virtualmachineinstances-mutate", review(obj("VirtualMachineInstance", VALID_SPEC)))
    ops = patch_of(out)
    assert set(ops) == {"/metadata", "/spec", "/status"}
    assert ops["/metadata"]["value"]["finalizers"] == ["kubevirt.io/foregroundDeleteVirtualMachine"]
    assert ops["/spec"]["value"]["domain"]["machine"] == {"type": "q35"}
    assert ops["/status"]["value"]["phase"] == "Pending"


async def test_vm_mutator_defaults_the_template(api: VirtApi) -> None:
    out = await answer(api, "/virtualmachines-mutate", review(obj("VirtualMachine", VM_SPEC),
                                                              resource="virtualmachines"))
    ops = patch_of(out)
    assert list(ops) == ["/spec"]
    assert ops["/spec"]["value"]["template"]["spec"]["architecture"] == "amd64"


async def test_migration_mutator_labels_the_migration(api: VirtApi) -> None:
    out = await answer(api, "/migration-mutate-create", review(migration()))
    meta = patch_of(out)["/metadata"]["value"]
    assert meta["labels"] == {"kubevirt.io/vmi-name": "vm1"}
    assert meta["finalizers"] == ["kubevirt.io/migrationJobFinalize"]


async def test_a_mutator_with_nothing_to_change_allows_without_a_patch(api: VirtApi) -> None:
    out = await answer(api, "/migration-mutate-create", review(migration(), operation="UPDATE"))
    assert out == {"uid": "req-1", "allowed": True}


@pytest.mark.parametrize("path", ["/virtualmachineinstances-mutate", "/virtualmachines-validate",
                                  "/migration-validate-create"])
@pytest.mark.parametrize("body", [b"not json", b'{"kind": "AdmissionReview"}', b"[]"],
                         ids=["not-json", "no-request", "not-an-object"])
async def test_a_body_that_is_not_an_admission_review_is_400(api: VirtApi, path: str, body: bytes) -> None:
    resp = await api.client.post(path, content=body)
    assert resp.status_code == 400
    status = orjson.loads(resp.content)["response"]["status"]
    assert (status["code"], status["reason"]) == (400, "BadRequest")
    assert status["message"].startswith("invalid AdmissionReview: ")
