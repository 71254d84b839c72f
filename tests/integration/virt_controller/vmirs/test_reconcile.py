"""VirtualMachineInstanceReplicaSet through the real virt-controller: create, `kubectl scale` up and
down (VMIs that are not running go first), replacement of finished VMIs, status and scale."""

from __future__ import annotations

from typing import Any

from tests.support.controller import KV, Cluster, ControllerProcess
from tests.support.wait import wait_for


def rs_manifest(name: str, replicas: int) -> dict[str, Any]:
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceReplicaSet",
            "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"rs": name}},
                     "template": {"metadata": {"labels": {"rs": name}}, "spec": {
                         "domain": {"devices": {}, "resources": {"requests": {"memory": "64Mi"}}}}}}}


def live(cluster: Cluster, ns: str) -> list[Any]:
    return [v for v in cluster.api.vmis(ns) if not v["metadata"].get("deletionTimestamp")
            and (v.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]


def run_vmi(cluster: Cluster, ns: str, vmi: Any) -> None:
    """Scheduler, pod runner and handler for one VMI: bind and run its Pod, VMI Running."""
    api = cluster.api
    pod = wait_for(lambda: api.launcher_pods(ns, vmi["metadata"]["uid"]), message="the Pod")[0]
    api.bind_pod(ns, pod["metadata"]["name"])
    api.run_pod(ns, pod["metadata"]["name"])
    name = vmi["metadata"]["name"]
    wait_for(lambda: api.vmi(ns, name)["status"].get("phase") == "Scheduled", message="Scheduled")
    api.set_vmi_phase(ns, name, "Running")


def test_scale_up_down_and_replace(cluster: Cluster, controller: ControllerProcess) -> None:
    api, ns = cluster.api, cluster.namespace()
    api.call("POST", f"{KV}/{ns}/virtualmachineinstancereplicasets", rs_manifest("rs1", 2))
    vmis = wait_for(lambda: len(v := live(cluster, ns)) == 2 and v, message="2 VMIs")
    for v in vmis:
        assert v["metadata"]["name"].startswith("rs1")
        assert v["metadata"]["ownerReferences"][0]["kind"] == "VirtualMachineInstanceReplicaSet"
    status = wait_for(lambda: (r := api.get(f"{KV}/{ns}/virtualmachineinstancereplicasets/rs1"))
                      .get("status", {}).get("replicas") == 2 and r["status"], message="status")
    assert status["labelSelector"] == "rs=rs1"

    running = vmis[0]
    run_vmi(cluster, ns, running)
    cluster.srv.kubectl("scale", "-n", ns, "vmirs", "rs1", "--replicas=3")
    wait_for(lambda: len(live(cluster, ns)) == 3, message="3 VMIs")

    cluster.srv.kubectl("scale", "-n", ns, "vmirs", "rs1", "--replicas=1")
    remaining = wait_for(lambda: len(v := live(cluster, ns)) == 1 and v, message="1 VMI")
    assert remaining[0]["metadata"]["uid"] == running["metadata"]["uid"], "the running VMI must be kept"
    scale = api.get(f"{KV}/{ns}/virtualmachineinstancereplicasets/rs1/scale")
    assert scale["spec"]["replicas"] == 1
    wait_for(lambda: api.get(
        f"{KV}/{ns}/virtualmachineinstancereplicasets/rs1/scale")["status"]["replicas"] == 1, message="status.replicas 1")

    # a VMI that ends is replaced
    api.set_vmi_phase(ns, running["metadata"]["name"], "Failed")
    replacement = wait_for(lambda: [
        v for v in live(cluster, ns) if v["metadata"]["uid"] != running["metadata"]["uid"]], message="a replacement VMI")
    assert len(replacement) == 1
