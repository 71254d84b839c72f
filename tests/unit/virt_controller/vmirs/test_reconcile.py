"""The replica-set controller's shell against the in-memory API: VMIs created, a refused create explained."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.virt_controller.fake_cluster import NS, FakeCluster
from virt_client import errors
from virt_client import resources as r
from virt_client.kube_fake import FakeKube
from virt_client.reconcile import ReconcileError


def rs(replicas: int) -> dict[str, Any]:
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceReplicaSet",
            "metadata": {"name": "rs1", "namespace": NS},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"domain": {"devices": {}}}}}}


async def test_missing_replicas_are_created_and_counted() -> None:
    kube = FakeKube()
    owner = kube.seed(r.VMIRSS, rs(2))
    async with FakeCluster(kube) as cluster:
        await cluster.reconcile(cluster.vmirs.reconcile, f"{NS}/rs1")
        vmis = kube.objects(r.VMIS, NS)
        assert len(vmis) == 2
        assert all(v["metadata"]["name"].startswith("rs1") and v["metadata"]["labels"] == {"app": "web"}
                   and v["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"] for v in vmis)
        stored = kube.stored(r.VMIRSS, "rs1", NS)
        assert stored is not None and stored["status"]["labelSelector"] == "app=web"
        assert sorted(e["message"] for e in cluster.events("SuccessfulCreate")) == sorted(
            f"Created virtual machine instance: {v['metadata']['name']}" for v in vmis)
        await cluster.reconcile(cluster.vmirs.reconcile, f"{NS}/rs1")  # the VMIs are seen: counted, no more made
    stored = kube.stored(r.VMIRSS, "rs1", NS)
    assert stored is not None and stored["status"]["replicas"] == 2 and len(kube.objects(r.VMIS, NS)) == 2


async def test_a_refused_create_is_a_warning_and_replica_failure() -> None:
    kube = FakeKube()
    kube.seed(r.VMIRSS, rs(1))
    kube.fail("create", r.VMIS, errors.Invalid(422, message="spec.domain: required"))
    async with FakeCluster(kube) as cluster:
        with pytest.raises(ReconcileError) as e:
            await cluster.reconcile(cluster.vmirs.reconcile, f"{NS}/rs1")
    assert e.value.reason == "FailedCreate"
    stored = kube.stored(r.VMIRSS, "rs1", NS)
    assert stored is not None
    [failure] = [c for c in stored["status"]["conditions"] if c["type"] == "ReplicaFailure"]
    assert (failure["status"], failure["reason"], failure["message"]) == (
        "True", "FailedCreate", "Error creating VMI: spec.domain: required")
    [event] = cluster.events()
    assert (event["type"], event["reason"]) == ("Warning", "FailedCreate")
