"""The workload controllers' pure plans: ReplicaSet scaling, Deployment rollout and scaling,
DaemonSet placement (incl. a new Node, taints and a template change), Endpoints rendering."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from virt_local.workloads import daemonset, deployment, endpoints, replicaset
from virt_local.workloads.pods import deletion_order, template_hash

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
TEMPLATE: dict[str, Any] = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}


def _owner(kind: str, name: str, uid: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": name, "namespace": "ns", "uid": uid, "generation": 1},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE, **spec}}


def _pod(name: str, owner_uid: str, *, ready: bool = True, phase: str = "Running", node: str = "node-1",
         labels: dict[str, str] | None = None, created: str = "2026-01-01T00:00:00Z",
         deleting: bool = False, kind: str = "ReplicaSet", ip: str = "127.1.0.9") -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "creationTimestamp": created,
                          "labels": labels or {"app": "web"},
                          "ownerReferences": [{"kind": kind, "name": "x", "uid": owner_uid, "controller": True}]}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": md, "spec": {"nodeName": node, "containers": [
                {"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"phase": phase, "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": "2025-12-31T00:00:00Z"}]}}


# ---- ReplicaSet ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("replicas", "pods", "create", "delete"), [
    (2, [], 2, 0),
    (3, ["a"], 2, 0),
    (2, ["a", "b"], 0, 0),
    (1, ["a", "b", "c"], 0, 2),
    (0, ["a"], 0, 1),
], ids=["from-zero", "scale-up", "steady", "scale-down", "to-zero"])
def test_replicaset_counts(replicas: int, pods: list[str], create: int, delete: int) -> None:
    rs = _owner("ReplicaSet", "web-1", "rs1", replicas=replicas)
    plan = replicaset.plan(rs, [_pod(n, "rs1") for n in pods], NOW)
    assert (plan.create, len(plan.delete)) == (create, delete)
    assert plan.status["replicas"] == len(pods)


def test_replicaset_ignores_pods_it_does_not_control_and_terminating_ones() -> None:
    rs = _owner("ReplicaSet", "web-1", "rs1", replicas=2)
    pods = [_pod("mine", "rs1"), _pod("other", "rs2"), _pod("going", "rs1", deleting=True),
            _pod("done", "rs1", phase="Succeeded")]
    plan = replicaset.plan(rs, pods, NOW)
    assert plan.create == 1
    assert plan.status == {"replicas": 1, "fullyLabeledReplicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                           "observedGeneration": 1}


def test_replicaset_scale_down_removes_unready_and_newest_first() -> None:
    rs = _owner("ReplicaSet", "web-1", "rs1", replicas=1)
    pods = [_pod("old", "rs1", created="2026-01-01T00:00:00Z"), _pod("new", "rs1", created="2026-01-01T00:01:00Z"),
            _pod("unready", "rs1", ready=False)]
    assert [p["metadata"]["name"] for p in replicaset.plan(rs, pods, NOW).delete] == ["unready", "new"]
    assert [p["metadata"]["name"] for p in deletion_order(pods)][:1] == ["unready"]


def test_replicaset_min_ready_seconds_delays_availability() -> None:
    rs = _owner("ReplicaSet", "web-1", "rs1", replicas=1, minReadySeconds=10 * 86400)
    status = replicaset.plan(rs, [_pod("a", "rs1")], NOW).status
    assert (status["readyReplicas"], status["availableReplicas"]) == (1, 0)


# ---- Deployment ---------------------------------------------------------------------------------
def _rs_of(deploy: dict[str, Any], plan: deployment.DeploymentPlan, *, ready: int) -> dict[str, Any]:
    """The ReplicaSet the plan created, as the ReplicaSet controller would report it."""
    assert plan.create is not None
    rs = dict(plan.create)
    rs["metadata"] = {**rs["metadata"], "uid": f"uid-{rs['metadata']['name']}"}
    n = rs["spec"]["replicas"]
    rs["status"] = {"replicas": n, "readyReplicas": min(ready, n), "availableReplicas": min(ready, n)}
    return rs


def _with(rs: dict[str, Any], replicas: int, ready: int) -> dict[str, Any]:
    return {**rs, "spec": {**rs["spec"], "replicas": replicas},
            "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready}}


def test_deployment_creates_its_replicaset_with_hash_and_revision() -> None:
    d = _owner("Deployment", "web", "d1", replicas=2)
    plan = deployment.plan(d, [], "2026-01-01T00:00:00Z")
    assert plan.create is not None
    h = template_hash(TEMPLATE)
    assert plan.create["metadata"]["name"] == f"web-{h}"
    assert plan.create["metadata"]["annotations"][deployment.REVISION] == "1"
    assert plan.create["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": h}
    assert plan.create["spec"]["template"]["metadata"]["labels"] == {"app": "web", "pod-template-hash": h}
    assert plan.create["metadata"]["ownerReferences"][0]["uid"] == "d1"
    assert plan.create["spec"]["replicas"] == 2
    assert {c["type"]: c["reason"] for c in plan.status["conditions"]} == {
        "Available": "MinimumReplicasUnavailable", "Progressing": "NewReplicaSetCreated"}


def test_deployment_scale_up_and_down_scales_its_replicaset() -> None:
    d = _owner("Deployment", "web", "d1", replicas=2)
    rs = _rs_of(d, deployment.plan(d, [], "t"), ready=2)
    assert deployment.plan(d, [rs], "t").scale == ()
    bigger = {**d, "spec": {**d["spec"], "replicas": 4}}
    assert deployment.plan(bigger, [rs], "t").scale == (deployment.Scale(rs["metadata"]["name"], 4),)
    smaller = {**d, "spec": {**d["spec"], "replicas": 1}}
    assert deployment.plan(smaller, [rs], "t").scale == (deployment.Scale(rs["metadata"]["name"], 1),)


def test_deployment_rollout_on_template_change() -> None:
    d = _owner("Deployment", "web", "d1", replicas=2)
    old = _rs_of(d, deployment.plan(d, [], "t"), ready=2)
    template2 = {**TEMPLATE, "spec": {"containers": [{"name": "c", "image": "i:v2"}]}}
    d2 = {**d, "metadata": {**d["metadata"], "generation": 2}, "spec": {**d["spec"], "template": template2}}
    # 1. a new ReplicaSet at full size, revision 2; the old one keeps its Pods (none of the new is available)
    plan = deployment.plan(d2, [old], "t")
    assert plan.create is not None and plan.create["metadata"]["annotations"][deployment.REVISION] == "2"
    assert plan.create["spec"]["replicas"] == 2 and plan.scale == ()
    # 2. one new Pod available: the old ReplicaSet gives one up
    new = _with(_rs_of(d2, plan, ready=0), 2, 1)
    assert deployment.plan(d2, [old, new], "t").scale == (deployment.Scale(old["metadata"]["name"], 1),)
    # 3. all new available: the old one goes to 0; then the rollout is complete
    new = _with(new, 2, 2)
    assert deployment.plan(d2, [_with(old, 1, 1), new], "t").scale == (deployment.Scale(old["metadata"]["name"], 0),)
    done = deployment.plan(d2, [_with(old, 0, 0), new], "t")
    assert done.scale == () and done.create is None
    assert done.status["replicas"] == done.status["updatedReplicas"] == done.status["availableReplicas"] == 2
    assert done.status["observedGeneration"] == 2
    assert {c["type"]: c["reason"] for c in done.status["conditions"]}["Progressing"] == "NewReplicaSetAvailable"


def test_deployment_recreate_waits_for_old_pods() -> None:
    d = _owner("Deployment", "web", "d1", replicas=2, strategy={"type": "Recreate"})
    old = _rs_of(d, deployment.plan(d, [], "t"), ready=2)
    d2 = {**d, "spec": {**d["spec"], "template": {**TEMPLATE, "metadata": {"labels": {"app": "web", "v": "2"}}}}}
    plan = deployment.plan(d2, [old], "t")
    assert plan.create is not None and plan.create["spec"]["replicas"] == 0
    assert plan.scale == (deployment.Scale(old["metadata"]["name"], 0),)
    new = _rs_of(d2, plan, ready=0)
    assert deployment.plan(d2, [_with(old, 0, 0), new], "t").scale == (deployment.Scale(new["metadata"]["name"], 2),)


def test_deployment_paused_changes_nothing_and_history_limit_deletes_idle() -> None:
    d = _owner("Deployment", "web", "d1", replicas=2, revisionHistoryLimit=0)
    old = _with(_rs_of(d, deployment.plan(d, [], "t"), ready=0), 0, 0)
    old["metadata"]["annotations"] = {deployment.REVISION: "1"}
    d2 = {**d, "spec": {**d["spec"], "template": {**TEMPLATE, "metadata": {"labels": {"app": "web", "v": "2"}}}}}
    assert deployment.plan(d2, [old], "t").delete == (old["metadata"]["name"],)
    paused = {**d2, "spec": {**d2["spec"], "paused": True}}
    p = deployment.plan(paused, [old], "t")
    assert p.create is None and p.scale == ()


# ---- DaemonSet ----------------------------------------------------------------------------------
def _node(name: str, labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def _daemon_pod(ds: dict[str, Any], node: str, name: str, **kw: Any) -> dict[str, Any]:
    pod = daemonset.daemon_pod(ds, node, daemonset.revision_of(ds))
    pod["metadata"].update(name=name, uid=f"uid-{name}", creationTimestamp="2026-01-01T00:00:00Z")
    pod["status"] = {"phase": kw.get("phase", "Running"),
                     "conditions": [{"type": "Ready", "status": "True" if kw.get("ready", True) else "False"}]}
    return pod


def test_daemonset_one_pod_per_node_and_a_new_node_gets_one() -> None:
    ds = _owner("DaemonSet", "agent", "ds1")
    nodes = [_node("node-1"), _node("node-2")]
    plan = daemonset.plan(ds, nodes, [])
    assert plan.create_on == ("node-1", "node-2")
    pods = [_daemon_pod(ds, "node-1", "a"), _daemon_pod(ds, "node-2", "b")]
    plan = daemonset.plan(ds, nodes, pods)
    assert plan.create_on == () and plan.delete == ()
    assert plan.status["desiredNumberScheduled"] == plan.status["numberReady"] == 2
    plan = daemonset.plan(ds, [*nodes, _node("node-3")], pods)
    assert plan.create_on == ("node-3",)
    assert plan.status["desiredNumberScheduled"] == 3 and plan.status["numberUnavailable"] == 1


def test_daemon_pod_is_pinned_by_node_affinity_and_tolerates_node_conditions() -> None:
    ds = _owner("DaemonSet", "agent", "ds1")
    pod = daemonset.daemon_pod(ds, "node-2", "h")
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms == {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                             "values": ["node-2"]}]}]}
    assert "nodeName" not in pod["spec"]
    assert {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"} in \
        pod["spec"]["tolerations"]
    assert pod["metadata"]["labels"][daemonset.REVISION_LABEL] == "h"
    assert daemonset.pinned_node(pod) == "node-2"


@pytest.mark.parametrize(("node", "template_spec", "eligible"), [
    (_node("n", {"role": "vm"}), {"nodeSelector": {"role": "vm"}}, True),
    (_node("n", {"role": "db"}), {"nodeSelector": {"role": "vm"}}, False),
    (_node("n", taints=[{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]), {}, False),
    (_node("n", taints=[{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]),
     {"tolerations": [{"key": "dedicated", "operator": "Exists"}]}, True),
    (_node("n", taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]), {}, True),
    (_node("n", taints=[{"key": "x", "effect": "PreferNoSchedule"}]), {}, True),
], ids=["selector-match", "selector-miss", "taint", "tolerated", "cordoned", "prefer"])
def test_daemonset_eligibility(node: dict[str, Any], template_spec: dict[str, Any], eligible: bool) -> None:
    assert daemonset.eligible(template_spec, node) is eligible


def test_daemonset_removes_pods_from_ineligible_nodes_extras_and_failed() -> None:
    ds = _owner("DaemonSet", "agent", "ds1")
    ds["spec"]["template"] = {**TEMPLATE, "spec": {**TEMPLATE["spec"], "nodeSelector": {"kv": "yes"}}}
    nodes = [_node("node-1", {"kv": "yes"}), _node("node-2")]
    pods = [_daemon_pod(ds, "node-1", "a"), _daemon_pod(ds, "node-1", "b"), _daemon_pod(ds, "node-2", "c"),
            _daemon_pod(ds, "node-1", "f", phase="Failed")]
    plan = daemonset.plan(ds, nodes, pods)
    assert sorted(p["metadata"]["name"] for p in plan.delete) == ["b", "c", "f"]
    assert plan.status["numberMisscheduled"] == 1


def test_daemonset_rolling_update_replaces_one_pod_at_a_time() -> None:
    ds = _owner("DaemonSet", "agent", "ds1")
    nodes = [_node("node-1"), _node("node-2")]
    pods = [_daemon_pod(ds, "node-1", "a"), _daemon_pod(ds, "node-2", "b")]
    ds2 = {**ds, "spec": {**ds["spec"], "template": {**TEMPLATE, "metadata": {"labels": {"app": "web", "v": "2"}}}}}
    plan = daemonset.plan(ds2, nodes, pods)
    assert len(plan.delete) == 1 and plan.status["updatedNumberScheduled"] == 0
    # the deleted one is recreated from the new template; the other waits until it is ready
    remaining = [p for p in pods if p not in plan.delete]
    assert daemonset.plan(ds2, nodes, remaining).create_on != ()
    replaced = _daemon_pod(ds2, plan.delete[0]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchFields"][0]["values"][0],
        "new", ready=False)
    assert daemonset.plan(ds2, nodes, [*remaining, replaced]).delete == ()
    replaced["status"]["conditions"][0]["status"] = "True"
    assert len(daemonset.plan(ds2, nodes, [*remaining, replaced]).delete) == 1


# ---- Endpoints ----------------------------------------------------------------------------------
def _svc(selector: dict[str, str] | None, ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "ns"}, "spec": {"selector": selector, "ports": ports}}


def test_endpoints_ready_and_not_ready_addresses_with_named_target_port() -> None:
    svc = _svc({"app": "web"}, [{"port": 80, "targetPort": "http", "protocol": "TCP"}])
    pods = [_pod("a", "x", ip="127.1.0.2"), _pod("b", "x", ip="127.1.0.1", ready=False),
            _pod("c", "x", labels={"app": "db"}), _pod("d", "x", deleting=True)]
    ep = endpoints.render(svc, pods)
    assert ep is not None
    assert ep["subsets"] == [{
        "addresses": [{"ip": "127.1.0.2", "nodeName": "node-1",
                       "targetRef": {"kind": "Pod", "namespace": "ns", "name": "a", "uid": "uid-a"}}],
        "notReadyAddresses": [{"ip": "127.1.0.1", "nodeName": "node-1",
                               "targetRef": {"kind": "Pod", "namespace": "ns", "name": "b", "uid": "uid-b"}}],
        "ports": [{"port": 8080, "protocol": "TCP"}]}]


@pytest.mark.parametrize(("svc", "expected"), [
    (_svc(None, [{"port": 80}]), None),
    (_svc({"app": "none"}, [{"port": 80}]), []),
    (_svc({"app": "web"}, [{"name": "m", "port": 80, "targetPort": 9000}]),
     [{"port": 9000, "name": "m", "protocol": "TCP"}]),
], ids=["no-selector", "no-pods", "numeric-target"])
def test_endpoints_cases(svc: dict[str, Any], expected: list[dict[str, Any]] | None) -> None:
    ep = endpoints.render(svc, [_pod("a", "x")])
    if expected is None:
        assert ep is None
    else:
        assert ep is not None
        assert [p for s in ep.get("subsets", []) for p in s["ports"]] == expected
