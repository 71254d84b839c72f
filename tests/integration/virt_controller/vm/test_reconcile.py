"""A VirtualMachine through the real virt-controller: start, schedule, run, stop, delete.

The test plays the scheduler (Pod binding), the pod runner (Pod status, removal) and virt-handler
(VMI phase) by writing objects the way they do.
"""

from __future__ import annotations

from tests.support.controller import KV, Cluster, ControllerProcess, vm_manifest
from tests.support.wait import wait_for
from virt_controller.vm.vmi_build import firmware_uuid


def printable(cluster: Cluster, ns: str, name: str) -> str:
    return str(((cluster.api.vm(ns, name) or {}).get("status") or {}).get("printableStatus"))


def test_always_vm_runs_and_stops(cluster: Cluster, controller: ControllerProcess) -> None:
    api, ns = cluster.api, cluster.namespace()
    vm = api.call("POST", f"{KV}/{ns}/virtualmachines", vm_manifest("vm1", runStrategy="Always"))

    vmi = wait_for(lambda: api.vmi(ns, "vm1"), message="the VMI")
    owner = vmi["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "VirtualMachine", "vm1", vm["metadata"]["uid"], True)
    assert vmi["metadata"]["labels"]["app"] == "vm1"
    assert vmi["spec"]["domain"]["firmware"]["uuid"] == firmware_uuid("vm1")
    assert "kubevirt.io/foregroundDeleteVirtualMachine" in wait_for(lambda: api.vmi(ns, "vm1")["metadata"].get("finalizers"), message="the VMI finalizer")

    pods = wait_for(lambda: api.launcher_pods(ns, vmi["metadata"]["uid"]), message="one launcher Pod")
    pod = pods[0]
    uid = vmi["metadata"]["uid"]
    assert pod["metadata"]["name"].startswith("virt-launcher-vm1-")
    assert pod["metadata"]["labels"]["kubevirt.io/created-by"] == uid
    assert pod["metadata"]["labels"]["vm.kubevirt.io/name"] == "vm1"
    assert pod["metadata"]["ownerReferences"][0]["uid"] == uid
    assert pod["spec"]["containers"][0]["args"] == [
        "--dir", f"/var/run/kubevirt/sockets/{uid}", "--hypervisor", "test",
        "--notify-socket", "/var/run/kubevirt/handler/notify.sock", "--grace-period", "5",
        "--container-disk-dir", "/var/run/kubevirt/container-disks", "--pvc-dir", "/var/run/kubevirt-private/vmi-disks",
        "--capabilities-cache", "/var/run/kubevirt/capabilities-cache"]
    assert pod["spec"]["nodeSelector"] == {"kubevirt.io/schedulable": "true"}
    assert pod["spec"]["terminationGracePeriodSeconds"] == 35
    wait_for(lambda: api.vmi(ns, "vm1")["status"].get("phase") == "Scheduling", message="phase Scheduling")
    assert printable(cluster, ns, "vm1") == "Starting"

    pod_name = pod["metadata"]["name"]
    api.bind_pod(ns, pod_name, "node01")
    api.run_pod(ns, pod_name)
    vmi = wait_for(lambda: (v := api.vmi(ns, "vm1"))["status"].get("phase") == "Scheduled" and v, message="phase Scheduled")
    assert vmi["status"]["nodeName"] == "node01"
    assert vmi["metadata"]["labels"]["kubevirt.io/nodeName"] == "node01"

    api.set_vmi_phase(ns, "vm1", "Running")
    wait_for(lambda: printable(cluster, ns, "vm1") == "Running"
             and api.vm(ns, "vm1")["status"].get("ready") is True, message="VM Running and ready")
    assert len(api.launcher_pods(ns, uid)) == 1

    # stop: runStrategy Halted → the VMI is deleted gracefully; the handler shuts the guest down
    api.merge(f"{KV}/{ns}/virtualmachines/vm1", {"spec": {"runStrategy": "Halted"}})
    wait_for(lambda: api.vmi(ns, "vm1")["metadata"].get("deletionTimestamp"), message="the VMI marked for deletion")
    wait_for(lambda: printable(cluster, ns, "vm1") == "Stopping", message="VM Stopping")
    assert not api.launcher_pods(ns, uid)[0]["metadata"].get("deletionTimestamp"), "Pod deleted before the handler"
    api.set_vmi_phase(ns, "vm1", "Succeeded")
    wait_for(lambda: api.launcher_pods(ns, uid)[0]["metadata"].get("deletionTimestamp"), message="the launcher Pod deleted")
    api.finish_pod(ns, pod_name)
    wait_for(lambda: api.vmi(ns, "vm1") is None, message="the VMI gone")
    status = wait_for(lambda: (s := api.vm(ns, "vm1")["status"])
                      .get("printableStatus") == "Stopped" and s["created"] is False and s, message="VM Stopped without a VMI")
    assert status["ready"] is False and status["conditions"][0]["reason"] == "VMINotExists"
    events = api.get(f"/api/v1/namespaces/{ns}/events")["items"]
    reasons = {(e["involvedObject"]["kind"], e["reason"]) for e in events}
    assert ("VirtualMachine", "SuccessfulCreate") in reasons
    assert ("VirtualMachineInstance", "SuccessfulCreate") in reasons


def test_manual_start_request_and_vm_deletion(cluster: Cluster, controller: ControllerProcess) -> None:
    api, ns = cluster.api, cluster.namespace()
    api.call("POST", f"{KV}/{ns}/virtualmachines", vm_manifest("vm2", runStrategy="Manual"))
    wait_for(lambda: printable(cluster, ns, "vm2") == "Stopped", message="VM Stopped")
    assert api.vmi(ns, "vm2") is None
    assert "kubevirt.io/virtualMachineControllerFinalize" in api.vm(ns, "vm2")["metadata"]["finalizers"]

    # what virt-api's start subresource writes for a Manual VM
    api.call("PATCH", f"{KV}/{ns}/virtualmachines/vm2/status",
             [{"op": "add", "path": "/status/stateChangeRequests", "value": [{"action": "Start"}]}],
             "application/json-patch+json")
    wait_for(lambda: api.vmi(ns, "vm2"), message="the VMI")
    wait_for(lambda: not api.vm(ns, "vm2")["status"].get("stateChangeRequests"), message="the Start request trimmed")

    # deleting the VM stops its VMI first; the VM goes once the VMI is gone
    api.call("DELETE", f"{KV}/{ns}/virtualmachines/vm2")
    wait_for(lambda: api.vmi(ns, "vm2") is None, message="the VMI gone")  # never scheduled: Pod removed at once
    wait_for(lambda: api.vm(ns, "vm2") is None, message="the VM gone")


def test_failed_launcher_pod_fails_vmi_and_always_restarts_with_backoff(
        cluster: Cluster, controller: ControllerProcess) -> None:
    api, ns = cluster.api, cluster.namespace()
    api.call("POST", f"{KV}/{ns}/virtualmachines", vm_manifest("vm3", runStrategy="Always"))
    vmi = wait_for(lambda: api.vmi(ns, "vm3"), message="the VMI")
    pod = wait_for(lambda: api.launcher_pods(ns, vmi["metadata"]["uid"]), message="the Pod")[0]
    api.bind_pod(ns, pod["metadata"]["name"])
    api.merge(f"/api/v1/namespaces/{ns}/pods/{pod['metadata']['name']}/status", {"status": {
        "phase": "Failed", "reason": "ErrImagePull"}})
    wait_for(lambda: (api.vmi(ns, "vm3") or {}).get("status", {}).get("reason") == "ErrImagePull"
             or api.vmi(ns, "vm3") is None, message="VMI Failed with the Pod's reason")
    failure = wait_for(lambda: api.vm(ns, "vm3")["status"].get("startFailure"), message="startFailure recorded")
    assert failure["consecutiveFailCount"] == 1
    wait_for(lambda: printable(cluster, ns, "vm3") == "CrashLoopBackOff", message="CrashLoopBackOff")
