"""The VMI controller's shell against the in-memory API: launcher Pods, a missing PVC, a launcher that dies."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.wait import wait_for_async
from tests.unit.virt_controller.fake_cluster import NS, FakeCluster
from virt_client import errors
from virt_client import resources as r
from virt_client.kube_fake import FakeKube
from virt_client.reconcile import ReconcileError

FIN = "kubevirt.io/foregroundDeleteVirtualMachine"
KEY = f"{NS}/vm1"


def vmi(*volumes: dict[str, Any], finalizers: list[str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": "vm1", "namespace": NS, "finalizers": [FIN] if finalizers is None else finalizers},
            "spec": {"domain": {"devices": {}}, "volumes": list(volumes)}, "status": {"phase": "Pending"}}


def pvc(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": NS},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Bound"}}


def conditions(obj: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    assert obj is not None
    return {c["type"]: c for c in obj["status"].get("conditions") or []}


def launchers(kube: FakeKube) -> list[dict[str, Any]]:
    return kube.objects(r.PODS, NS)


async def test_a_pending_vmi_gets_one_launcher_pod_and_an_event() -> None:
    kube = FakeKube()
    stored = kube.seed(r.VMIS, vmi())
    async with FakeCluster(kube) as cluster:
        await cluster.reconcile(cluster.vmi.reconcile, KEY)
    [create] = [w for w in kube.writes if w.ref != r.EVENTS]
    assert (create.verb, create.ref) == ("create", r.PODS)  # Pending with its finalizer: no VMI write
    [pod] = launchers(kube)
    assert pod["metadata"]["labels"]["kubevirt.io/created-by"] == stored["metadata"]["uid"]
    assert pod["metadata"]["ownerReferences"][0]["name"] == "vm1"
    [event] = cluster.events()
    assert (event["reason"], event["message"]) == ("SuccessfulCreate",
                                                   f"Created virtual machine pod {pod['metadata']['name']}")


async def test_a_vmi_without_its_finalizer_gets_it_before_its_pod() -> None:
    kube = FakeKube()
    kube.seed(r.VMIS, {**vmi(finalizers=[]), "status": {}})
    async with FakeCluster(kube) as cluster:
        await cluster.reconcile(cluster.vmi.reconcile, KEY)
    assert [(w.verb, w.ref.plural) for w in kube.writes if w.ref != r.EVENTS] == [
        ("update", "virtualmachineinstances"), ("create", "pods")]
    stored = kube.stored(r.VMIS, "vm1", NS)
    assert stored is not None and stored["metadata"]["finalizers"] == [FIN] and stored["status"]["phase"] == "Pending"


@pytest.mark.parametrize("volume", [{"name": "disk", "persistentVolumeClaim": {"claimName": "data"}},
                                    {"name": "disk", "dataVolume": {"name": "data"}}], ids=["pvc", "datavolume"])
async def test_a_missing_pvc_is_a_condition_and_a_warning_until_it_appears(volume: dict[str, Any]) -> None:
    kube = FakeKube()
    kube.seed(r.VMIS, vmi(volume))
    message = f"PVC {NS}/data does not exist, waiting for it to appear"
    async with FakeCluster(kube) as cluster:
        with pytest.raises(ReconcileError) as e:
            await cluster.reconcile(cluster.vmi.reconcile, KEY)
        assert (e.value.reason, e.value.message) == ("FailedPvcNotFound", message)
        assert launchers(kube) == []
        stored = kube.stored(r.VMIS, "vm1", NS)
        assert stored is not None and stored["status"]["phase"] == "Pending"
        conds = conditions(stored)
        assert (conds["Synchronized"]["status"], conds["Synchronized"]["reason"],
                conds["Synchronized"]["message"]) == ("False", "FailedPvcNotFound", message)
        assert (conds["PodScheduled"]["status"], conds["PodScheduled"]["reason"]) == ("False", "Unschedulable")
        [event] = cluster.events()
        assert (event["type"], event["reason"], event["message"]) == ("Warning", "FailedPvcNotFound", message)
        assert event["involvedObject"]["kind"] == "VirtualMachineInstance"

        cluster.start()  # the PVC's arrival requeues the VMI at once
        await kube.create(r.PVCS, pvc("data"))
        [pod] = await wait_for_async(lambda: launchers(kube), interval=0.005, message="the launcher Pod")
    assert pod["spec"]["volumes"][-1]["persistentVolumeClaim"] == {"claimName": "data"}
    stored = kube.stored(r.VMIS, "vm1", NS)
    assert {"Synchronized", "PodScheduled"}.isdisjoint(conditions(stored))


async def test_a_refused_pod_create_is_a_warning_and_synchronized_false() -> None:
    kube = FakeKube()
    kube.seed(r.VMIS, vmi())
    kube.fail("create", r.PODS, errors.Forbidden(403, message="pods are not allowed here"))
    async with FakeCluster(kube) as cluster:
        with pytest.raises(ReconcileError):
            await cluster.reconcile(cluster.vmi.reconcile, KEY)
    sync = conditions(kube.stored(r.VMIS, "vm1", NS))["Synchronized"]
    assert (sync["reason"], sync["message"]) == ("FailedCreate", "Error creating pod: pods are not allowed here")
    assert [(e["type"], e["reason"]) for e in cluster.events()] == [("Warning", "FailedCreate")]


async def bind_and_run(kube: FakeKube, pod: dict[str, Any]) -> None:
    """What the scheduler and the node do: bind the Pod and report it running."""
    name = pod["metadata"]["name"]
    await kube.create_subresource(r.PODS, name, "binding", {
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": NS},
        "target": {"kind": "Node", "name": "node1"}}, NS)
    await set_pod_status(kube, name, {"phase": "Running", "containerStatuses": [
        {"name": "compute", "ready": True, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]})


async def set_pod_status(kube: FakeKube, name: str, status: dict[str, Any]) -> None:
    current = kube.stored(r.PODS, name, NS)
    assert current is not None
    await kube.update_status(r.PODS, {**current, "status": status})


def vm_always() -> dict[str, Any]:
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "vm1", "namespace": NS},
            "spec": {"runStrategy": "Always", "template": {"spec": {"domain": {"devices": {}}}}}}


async def start_running_vm(kube: FakeKube, cluster: FakeCluster) -> tuple[dict[str, Any], dict[str, Any]]:
    """A VM whose VMI runs on node1 (its Pod bound and running, the handler's Running written)."""
    await kube.create(r.VMS, vm_always())
    [pod] = await wait_for_async(lambda: launchers(kube), interval=0.005, message="the first launcher Pod")
    await bind_and_run(kube, pod)
    first = await wait_for_async(lambda: (v := kube.stored(r.VMIS, "vm1", NS)) is not None
                             and v["status"].get("phase") == "Scheduled" and v, interval=0.005, message="the VMI Scheduled")
    stamps = [*first["status"]["phaseTransitionTimestamps"],
              {"phase": "Running", "phaseTransitionTimestamp": "2026-01-01T00:00:01Z"}]
    await kube.update(r.VMIS, {**first, "status": {**first["status"], "phase": "Running",
                                                   "phaseTransitionTimestamps": stamps}})
    return first, pod


async def test_a_dead_launcher_fails_the_vmi_and_the_vm_starts_a_new_one_after_the_old_pod_is_gone() -> None:
    kube = FakeKube()
    async with FakeCluster(kube) as cluster:
        cluster.start()
        first, pod = await start_running_vm(kube, cluster)
        name = pod["metadata"]["name"]
        # the node reports the launcher killed; the Pod is not marked ended yet
        await set_pod_status(kube, name, {"phase": "Running", "containerStatuses": [
            {"name": "compute", "state": {"terminated": {"exitCode": 137, "reason": "Error"}}}]})
        failed = await wait_for_async(lambda: (v := kube.stored(r.VMIS, "vm1", NS)) is not None
                                  and v["status"].get("phase") == "Failed" and v, interval=0.005, message="the VMI Failed")
        assert failed["status"]["reason"] == "Error"
        warning = await wait_for_async(lambda: cluster.events("Error"), interval=0.005, message="the Warning Event")
        assert warning[0]["type"] == "Warning"
        assert "container compute exited with code 137 (Error)" in warning[0]["message"]
        # the Pod is being deleted (the node still stops it): the VMI keeps its finalizer, no second Pod
        await wait_for_async(lambda: (p := kube.stored(r.PODS, name, NS)) is not None
                         and p["metadata"].get("deletionTimestamp"), interval=0.005, message="the old Pod terminating")
        await cluster.caught_up()
        assert [p["metadata"]["name"] for p in launchers(kube)] == [name]
        old = kube.stored(r.VMIS, "vm1", NS)
        assert old is not None and old["metadata"]["uid"] == first["metadata"]["uid"]
        # the node finishes: the Pod goes, then the VMI, then the VM's run strategy starts a new one
        await kube.delete(r.PODS, name, NS, grace_period_seconds=0)
        second = await wait_for_async(lambda: (v := kube.stored(r.VMIS, "vm1", NS)) is not None
                                  and v["metadata"]["uid"] != first["metadata"]["uid"] and v, interval=0.005, message="the new VMI")
        [new_pod] = await wait_for_async(lambda: launchers(kube), interval=0.005, message="the new launcher Pod")
    assert new_pod["metadata"]["labels"]["kubevirt.io/created-by"] == second["metadata"]["uid"]
    pod_writes = [(w.verb, w.name) for w in kube.writes_of(ref=r.PODS) if w.verb in ("create", "delete")]
    assert pod_writes.index(("delete", name)) < pod_writes.index(("create", new_pod["metadata"]["name"]))


async def test_no_new_launcher_while_an_earlier_vmis_pod_still_runs() -> None:
    kube = FakeKube()
    async with FakeCluster(kube) as cluster:
        cluster.start()
        first, pod = await start_running_vm(kube, cluster)
        name = pod["metadata"]["name"]
        # someone removes the old VMI for good while its launcher still runs (a forced deletion)
        await kube.patch(r.VMIS, "vm1", {"metadata": {"finalizers": []}}, NS)
        await kube.delete(r.VMIS, "vm1", NS)
        second = await wait_for_async(lambda: (v := kube.stored(r.VMIS, "vm1", NS)) is not None
                                  and v["metadata"]["uid"] != first["metadata"]["uid"] and v, interval=0.005, message="the new VMI")
        await cluster.caught_up()
        await cluster.vmi.reconcile(KEY)
        assert [p["metadata"]["name"] for p in launchers(kube)] == [name]
        await set_pod_status(kube, name, {"phase": "Failed"})  # the old launcher ended
        await wait_for_async(lambda: any(
            p["metadata"]["labels"]["kubevirt.io/created-by"] == second["metadata"]["uid"] for p in launchers(kube)), interval=0.005, message="the new VMI's launcher")
