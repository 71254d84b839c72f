"""The VM controller's shell against the in-memory API: the writes a user sees for one reconcile."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.virt_controller.fake_cluster import NS, FakeCluster
from virt_client import errors
from virt_client import resources as r
from virt_client.controller import DONE
from virt_client.kube_fake import FakeKube
from virt_client.reconcile import ReconcileError

FIN = "kubevirt.io/virtualMachineControllerFinalize"


def vm(name: str = "vm1", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": name, "namespace": NS},
            "spec": {"template": {"metadata": {"labels": {"app": name}}, "spec": {"domain": {"devices": {}}}},
                     **spec}}


def conditions(obj: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    assert obj is not None
    return {c["type"]: c for c in obj["status"].get("conditions") or []}


async def test_an_always_vm_gets_its_finalizer_a_vmi_and_a_starting_status() -> None:
    kube = FakeKube()
    kube.seed(r.VMS, vm(runStrategy="Always"))
    async with FakeCluster(kube) as cluster:
        assert await cluster.reconcile(cluster.vm.reconcile, f"{NS}/vm1") is DONE
    assert [(w.verb, w.ref.plural) for w in kube.writes if w.ref != r.EVENTS] == [
        ("patch", "virtualmachines"), ("create", "virtualmachineinstances"), ("update_status", "virtualmachines")]
    stored = kube.stored(r.VMS, "vm1", NS)
    assert stored is not None and stored["metadata"]["finalizers"] == [FIN]
    assert stored["status"]["printableStatus"] == "Starting" and stored["status"]["runStrategy"] == "Always"
    vmi = kube.stored(r.VMIS, "vm1", NS)
    assert vmi is not None and vmi["metadata"]["ownerReferences"][0]["uid"] == stored["metadata"]["uid"]
    [event] = cluster.events()
    assert (event["type"], event["reason"]) == ("Normal", "SuccessfulCreate")
    assert event["involvedObject"]["name"] == "vm1"


async def test_a_refused_vmi_create_is_a_warning_and_the_failure_condition() -> None:
    kube = FakeKube()
    kube.seed(r.VMS, {**vm(runStrategy="Always"), "metadata": {"name": "vm1", "namespace": NS,
                                                               "finalizers": [FIN]}})
    kube.fail("create", r.VMIS, errors.Forbidden(403, message="exceeded quota"))
    async with FakeCluster(kube) as cluster:
        with pytest.raises(ReconcileError) as e:
            await cluster.reconcile(cluster.vm.reconcile, f"{NS}/vm1")
    assert e.value.reason == "FailedCreate"
    assert kube.objects(r.VMIS) == []
    failure = conditions(kube.stored(r.VMS, "vm1", NS))["Failure"]
    assert (failure["status"], failure["reason"]) == ("True", "FailedCreate")
    assert failure["message"] == "Error creating virtual machine instance: exceeded quota"
    [event] = cluster.events()
    assert (event["type"], event["reason"], event["message"]) == ("Warning", "FailedCreate", failure["message"])


async def test_the_next_pass_that_succeeds_clears_the_failure_condition() -> None:
    kube = FakeKube()
    kube.seed(r.VMS, {**vm(runStrategy="Always"), "metadata": {"name": "vm1", "namespace": NS, "finalizers": [FIN]}})
    kube.fail("create", r.VMIS, errors.Forbidden(403, message="exceeded quota"))
    async with FakeCluster(kube) as cluster:
        with pytest.raises(ReconcileError):
            await cluster.reconcile(cluster.vm.reconcile, f"{NS}/vm1")
        await cluster.reconcile(cluster.vm.reconcile, f"{NS}/vm1")
    assert "Failure" not in conditions(kube.stored(r.VMS, "vm1", NS))
    assert [v["metadata"]["name"] for v in kube.objects(r.VMIS)] == ["vm1"]


async def test_both_running_and_run_strategy_is_explained_on_the_vm() -> None:
    kube = FakeKube()
    kube.seed(r.VMS, vm(runStrategy="Always", running=True))
    async with FakeCluster(kube) as cluster:
        with pytest.raises(ReconcileError):
            await cluster.reconcile(cluster.vm.reconcile, f"{NS}/vm1")
    failure = conditions(kube.stored(r.VMS, "vm1", NS))["Failure"]
    assert failure["reason"] == "InvalidRunStrategy" and "mutually exclusive" in failure["message"]
    assert [e["reason"] for e in cluster.events()] == ["InvalidRunStrategy"]
    assert kube.objects(r.VMIS) == []


async def test_a_start_request_on_a_halted_vm_patches_its_spec_only() -> None:
    kube = FakeKube()
    kube.seed(r.VMS, {**vm(runStrategy="Halted"), "metadata": {"name": "vm1", "namespace": NS, "finalizers": [FIN]},
                      "status": {"stateChangeRequests": [{"action": "Start"}]}})
    async with FakeCluster(kube) as cluster:
        await cluster.reconcile(cluster.vm.reconcile, f"{NS}/vm1")
    [write] = kube.writes
    assert (write.verb, write.patch_type, write.body) == (
        "patch", "json", [{"op": "add", "path": "/spec/runStrategy", "value": "Always"}])


async def test_a_final_vmi_is_deleted_and_the_vm_is_stopped() -> None:
    kube = FakeKube()
    owner = kube.seed(r.VMS, {**vm(runStrategy="Always"),
                              "metadata": {"name": "vm1", "namespace": NS, "finalizers": [FIN]}})
    kube.seed(r.VMIS, {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                       "metadata": {"name": "vm1", "namespace": NS, "ownerReferences": [
                           {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "name": "vm1",
                            "uid": owner["metadata"]["uid"], "controller": True}]},
                       "spec": {}, "status": {"phase": "Failed",
                                              "phaseTransitionTimestamps": [{"phase": "Running"}]}})
    async with FakeCluster(kube) as cluster:
        await cluster.reconcile(cluster.vm.reconcile, f"{NS}/vm1")
    assert [(w.verb, w.ref.plural) for w in kube.writes if w.ref != r.EVENTS] == [
        ("delete", "virtualmachineinstances"), ("update_status", "virtualmachines")]
    stored = kube.stored(r.VMS, "vm1", NS)
    assert stored is not None and stored["status"]["printableStatus"] == "Stopped"
    assert [e["reason"] for e in cluster.events()] == ["SuccessfulDelete"]
