"""The scheduler's pure decisions: filters in kube-scheduler's order and words, scoring, messages."""

from __future__ import annotations

from typing import Any

import pytest

from virt_local.scheduling import Cluster, fit_error, pod_requests, schedule


def node(name: str, *, cpu: str = "4", memory: str = "8Gi", pods: str = "110", labels: dict[str, str] | None = None,
         taints: list[dict[str, str]] | None = None, ready: bool = True, unschedulable: bool = False) -> dict[str, Any]:
    alloc = {"cpu": cpu, "memory": memory, "pods": pods}
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": {"taints": taints or [], "unschedulable": unschedulable},
            "status": {"allocatable": alloc, "capacity": alloc,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "Unknown"}]}}


def pod(name: str = "p", *, cpu: str | None = None, memory: str | None = None, labels: dict[str, str] | None = None,
        **spec: Any) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    return {"metadata": {"name": name, "namespace": "default", "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "resources": {"requests": requests}}], **spec}}


def test_pod_requests_limits_default_requests_and_init_containers_take_the_max() -> None:
    p = {"spec": {"containers": [{"resources": {"limits": {"cpu": "1"}}}, {"resources": {"requests": {"cpu": "500m"}}}],
                  "initContainers": [{"resources": {"requests": {"cpu": "2"}}}], "overhead": {"memory": "1Mi"}}}
    assert pod_requests(p) == {"cpu": 2000, "memory": 2**20, "pods": 1}


CASES = [
    ("fits", [node("n1")], pod(cpu="1"), "n1", ""),
    ("insufficient-memory", [node("n1")], pod(memory="9Gi"), None, "0/1 nodes are available: 1 Insufficient memory."),
    ("insufficient-both", [node("n1")], pod(cpu="5", memory="9Gi"), None,
     "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."),
    ("extended-resource", [node("n1")], pod(**{"containers": [{"resources": {"limits": {"example.com/gpu": "1"}}}]}),
     None, "0/1 nodes are available: 1 Insufficient example.com/gpu."),
    ("node-selector", [node("n1"), node("n2", labels={"disk": "ssd"})], pod(nodeSelector={"disk": "ssd"}), "n2", ""),
    ("selector-matches-none", [node("n1"), node("n2")], pod(nodeSelector={"disk": "ssd"}), None,
     "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."),
    ("required-affinity", [node("n1", labels={"zone": "a"}), node("n2", labels={"zone": "b"})],
     pod(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
         {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}]}}}), "n2", ""),
    ("taint", [node("n1", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])], pod(), None,
     "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}."),
    ("tolerated-taint", [node("n1", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])],
     pod(tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu"}]), "n1", ""),
    ("prefer-no-schedule-ignored", [node("n1", taints=[{"key": "k", "effect": "PreferNoSchedule"}])], pod(), "n1", ""),
    ("not-ready", [node("n1", ready=False)], pod(), None,
     "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }."),
    ("cordoned", [node("n1", unschedulable=True)], pod(), None, "0/1 nodes are available: 1 node(s) were unschedulable."),
    ("mixed-reasons-sorted", [node("n1", memory="1Gi"), node("n2", labels={"x": "y"}, memory="1Gi"),
                              node("n3", memory="8Gi", labels={"other": "1"})],
     pod(memory="2Gi", nodeSelector={"x": "y"}), None,
     "0/3 nodes are available: 1 Insufficient memory, 2 node(s) didn't match Pod's node affinity/selector."),
    ("no-nodes", [], pod(), None, "no nodes available to schedule pods"),
]


@pytest.mark.parametrize("nodes,p,want_node,want_message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_schedule(nodes: list[dict[str, Any]], p: dict[str, Any], want_node: str | None, want_message: str) -> None:
    decision = schedule(p, Cluster(nodes, {}))
    assert (decision.node, decision.message) == (want_node, want_message)


def test_requests_of_bound_pods_count_against_allocatable() -> None:
    cluster = Cluster([node("n1", memory="1Gi")], {"n1": [pod("a", memory="768Mi")]})
    assert schedule(pod(memory="512Mi"), cluster).message == "0/1 nodes are available: 1 Insufficient memory."
    assert schedule(pod(memory="256Mi"), cluster).node == "n1"


def test_pod_count_limit() -> None:
    cluster = Cluster([node("n1", pods="1")], {"n1": [pod("a")]})
    assert schedule(pod(), cluster).message == "0/1 nodes are available: 1 Too many pods."


def test_least_allocated_spreads_and_assumed_pods_count() -> None:
    cluster = Cluster([node("n1"), node("n2")], {})
    first = schedule(pod("a", cpu="1"), cluster)
    assert first.node == "n1"
    cluster.add("n1", pod("a", cpu="1"))
    assert schedule(pod("b", cpu="1"), cluster).node == "n2"


ANTI = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}}


def test_pod_anti_affinity_both_directions() -> None:
    nodes = [node("n1"), node("n2")]
    existing = pod("db-0", labels={"app": "db"}, affinity=ANTI)
    cluster = Cluster(nodes, {"n1": [existing]})
    assert schedule(pod("db-1", labels={"app": "db"}, affinity=ANTI), cluster).node == "n2"
    # The existing Pod's own anti-affinity repels a matching Pod that has none.
    assert schedule(pod("db-2", labels={"app": "db"}), Cluster([node("n1")], {"n1": [existing]})).message == (
        "0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules.")
    both = Cluster(nodes, {"n1": [existing], "n2": [pod("db-1", labels={"app": "db"})]})
    assert schedule(pod("db-3", labels={"app": "db"}, affinity=ANTI), both).message == (
        "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.")


AFFINITY = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}


def test_pod_affinity_follows_matching_pods_and_may_go_first() -> None:
    nodes = [node("n1"), node("n2")]
    assert schedule(pod("c", affinity=AFFINITY), Cluster(nodes, {"n2": [pod("w", labels={"app": "web"})]})).node == "n2"
    assert schedule(pod("w0", labels={"app": "web"}, affinity=AFFINITY), Cluster(nodes, {})).node == "n1"
    assert schedule(pod("c", affinity=AFFINITY), Cluster(nodes, {})).message == (
        "0/2 nodes are available: 2 node(s) didn't match pod affinity rules.")


def test_fit_error_counts_each_reason_once_per_node() -> None:
    assert fit_error(2, {"a": ["Insufficient cpu", "Insufficient memory"], "b": ["Insufficient cpu"]}) == (
        "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu.")
