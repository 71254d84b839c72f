"""The scheduler's decisions as pure functions: which nodes fit a Pod, which one to pick, and the
message that explains why none did.

Filters run in kube-scheduler's default-plugin order (NodeUnschedulable, NodeName, TaintToleration,
NodeAffinity, NodeResourcesFit, InterPodAffinity) and a node is reported under the first filter it
fails, with kube-scheduler's wording, so `0/3 nodes are available: 1 Insufficient memory, 2 node(s)
didn't match Pod's node affinity/selector.` reads the same as on a cluster. A node that is not Ready
counts as carrying the `node.kubernetes.io/not-ready:NoSchedule` taint the node lifecycle controller
would have put on it.

Scoring is least-allocated: the node whose mean cpu/memory utilisation after placing the Pod is lowest,
ties broken by name, so Pods spread across nodes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from virt_client.api.quantity import Quantity, QuantityError

from .label_match import matches_label_selector, matches_node_selector

Obj = Mapping[str, Any]
NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
HOSTNAME_LABEL = "kubernetes.io/hostname"


def _amount(resource: str, value: Any) -> int:
    try:
        q = Quantity.parse(value)
        return q.to_millis() if resource == "cpu" else q.to_bytes()
    except QuantityError:
        return 0


def container_requests(container: Obj) -> dict[str, int]:
    """Requests of one container; a resource with only a limit requests its limit (API defaulting)."""
    res = container.get("resources") or {}
    out = {k: _amount(k, v) for k, v in (res.get("limits") or {}).items()}
    out.update({k: _amount(k, v) for k, v in (res.get("requests") or {}).items()})
    return out


#: parsed requests and allocatable by (uid or name, resourceVersion): a scheduling pass reads every Pod
#: and node, and parsing their quantities again each time was most of a pass
_PARSED: dict[tuple[str, str, str], Mapping[str, int]] = {}
_PARSED_MAX = 50_000


def _version_key(kind: str, obj: Obj) -> tuple[str, str, str] | None:
    md = obj.get("metadata") or {}
    ident, rv = md.get("uid") or md.get("name"), md.get("resourceVersion")
    return (kind, str(ident), str(rv)) if ident and rv else None


def _memo(kind: str, obj: Obj, compute: Any) -> Mapping[str, int]:
    key = _version_key(kind, obj)
    if key is None:
        result: Mapping[str, int] = compute(obj)
        return result
    cached = _PARSED.get(key)
    if cached is None:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        cached = _PARSED[key] = compute(obj)
    return cached


def pod_requests(pod: Obj) -> Mapping[str, int]:
    """Effective requests of a Pod: sum over containers, at least the largest init container, plus
    overhead, plus one `pods` slot. CPU in millicores, everything else in units. Read-only."""
    return _memo("pod", pod, _pod_requests)


def _pod_requests(pod: Obj) -> dict[str, int]:
    spec = pod.get("spec") or {}
    total: Counter[str] = Counter()
    for c in spec.get("containers") or []:
        total.update(container_requests(c))
    for c in spec.get("initContainers") or []:
        for k, v in container_requests(c).items():
            total[k] = max(total[k], v)
    for k, v in (spec.get("overhead") or {}).items():
        total[k] += _amount(k, v)
    total["pods"] = 1
    return dict(total)


def node_allocatable(node: Obj) -> Mapping[str, int]:
    """Allocatable resources of a node, parsed (read-only)."""
    return _memo("node", node, _node_allocatable)


def _node_allocatable(node: Obj) -> dict[str, int]:
    status = node.get("status") or {}
    alloc = status.get("allocatable") or status.get("capacity") or {}
    return {k: _amount(k, v) for k, v in alloc.items()}


def is_ready(node: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def tolerates(tolerations: Sequence[Obj], taint: Obj) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        op = t.get("operator") or "Equal"
        if op == "Exists":
            if not t.get("key") or t.get("key") == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


class Cluster:
    """What the scheduler knows: nodes and the (non-terminal) Pods bound to each node, with the
    per-node sums of requests kept alongside so a scheduling pass is linear in the Pods it places."""

    def __init__(self, nodes: Sequence[Obj], pods_by_node: Mapping[str, Sequence[Obj]]) -> None:
        self.nodes = list(nodes)
        self.pods_by_node: dict[str, list[Obj]] = {k: list(v) for k, v in pods_by_node.items()}
        self.used: dict[str, Counter[str]] = {}
        self.repelling: list[tuple[Obj, Obj]] = []  # (node, pod) for Pods with required anti-affinity
        node_by_name = {_name(n): n for n in self.nodes}
        for node_name, pods in self.pods_by_node.items():
            for p in pods:
                self._account(node_by_name.get(node_name), node_name, p)

    def _account(self, node: Obj | None, node_name: str, pod: Obj) -> None:
        self.used.setdefault(node_name, Counter()).update(pod_requests(pod))
        if node is not None and _required_terms(pod, "podAntiAffinity"):
            self.repelling.append((node, pod))

    def add(self, node_name: str, pod: Obj) -> None:
        """Account for a Pod just placed on `node_name` (the scheduler's assumed state)."""
        self.pods_by_node.setdefault(node_name, []).append(pod)
        self._account(next((n for n in self.nodes if _name(n) == node_name), None), node_name, pod)


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _labels(obj: Obj) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _taint_reasons(pod: Obj, node: Obj) -> list[str]:
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    taints = list((node.get("spec") or {}).get("taints") or [])
    if not is_ready(node):
        taints.append(NOT_READY_TAINT)
    for taint in taints:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not tolerates(tolerations, taint):
            return [f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"]
    return []


def _affinity_ok(pod: Obj, node: Obj) -> bool:
    spec = pod.get("spec") or {}
    labels = _labels(node)
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution")
    return required is None or matches_node_selector(required, labels, _name(node))


def _resource_reasons(pod: Obj, node: Obj, used: Counter[str]) -> list[str]:
    want = pod_requests(pod)
    alloc = node_allocatable(node)
    reasons = []
    if used["pods"] + 1 > alloc.get("pods", 0):
        reasons.append("Too many pods")
    for res in sorted(want):
        if res == "pods" or want[res] == 0:
            continue
        if used[res] + want[res] > alloc.get(res, 0):
            reasons.append(f"Insufficient {res}")
    return reasons


def _term_namespaces(term: Obj, pod: Obj) -> set[str] | None:
    names = term.get("namespaces") or []
    if term.get("namespaceSelector") is not None and not names:
        return None if term["namespaceSelector"] == {} else {_ns(pod)}
    return set(names) if names else {_ns(pod)}


def _ns(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "default")


def _matching_pods_in_domain(term: Obj, owner: Obj, node: Obj, cluster: Cluster) -> list[Obj]:
    key = term.get("topologyKey") or HOSTNAME_LABEL
    value = _labels(node).get(key) if key != HOSTNAME_LABEL else _labels(node).get(key, _name(node))
    if value is None:
        return []
    namespaces = _term_namespaces(term, owner)
    out = []
    for other in cluster.nodes:
        other_value = _labels(other).get(key, _name(other) if key == HOSTNAME_LABEL else None)
        if other_value != value:
            continue
        for p in cluster.pods_by_node.get(_name(other), ()):
            if namespaces is not None and _ns(p) not in namespaces:
                continue
            if matches_label_selector(term.get("labelSelector"), _labels(p)):
                out.append(p)
    return out


def _required_terms(pod: Obj, kind: str) -> list[Obj]:
    aff = ((pod.get("spec") or {}).get("affinity") or {}).get(kind) or {}
    return list(aff.get("requiredDuringSchedulingIgnoredDuringExecution") or [])


def _inter_pod_reasons(pod: Obj, node: Obj, cluster: Cluster) -> list[str]:
    # kube-scheduler's order: affinity, own anti-affinity, existing Pods' anti-affinity.
    for term in _required_terms(pod, "podAffinity"):
        if _matching_pods_in_domain(term, pod, node, cluster):
            continue
        # A Pod matching its own affinity term may go first when no such Pod exists anywhere.
        anywhere = any(_matching_pods_in_domain(term, pod, n, cluster) for n in cluster.nodes)
        if anywhere or not matches_label_selector(term.get("labelSelector"), _labels(pod)):
            return ["node(s) didn't match pod affinity rules"]
    for term in _required_terms(pod, "podAntiAffinity"):
        if _matching_pods_in_domain(term, pod, node, cluster):
            return ["node(s) didn't match pod anti-affinity rules"]
    # Existing Pods' anti-affinity is symmetric: they repel the new Pod from their domain.
    for other_node, other in cluster.repelling:
        for term in _required_terms(other, "podAntiAffinity"):
            namespaces = _term_namespaces(term, other)
            if namespaces is not None and _ns(pod) not in namespaces:
                continue
            if not matches_label_selector(term.get("labelSelector"), _labels(pod)):
                continue
            key = term.get("topologyKey") or HOSTNAME_LABEL
            if key == HOSTNAME_LABEL:
                same = _labels(node).get(key, _name(node)) == _labels(other_node).get(key, _name(other_node))
            else:
                same = key in _labels(node) and _labels(node).get(key) == _labels(other_node).get(key)
            if same:
                return ["node(s) didn't satisfy existing pods anti-affinity rules"]
    return []


def filter_node(pod: Obj, node: Obj, cluster: Cluster) -> list[str]:
    """Why `node` cannot take `pod` (empty when it can)."""
    spec = pod.get("spec") or {}
    if (node.get("spec") or {}).get("unschedulable") and not tolerates(
            spec.get("tolerations") or [], {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}):
        return ["node(s) were unschedulable"]
    if spec.get("nodeName") and spec["nodeName"] != _name(node):
        return ["node(s) didn't match the requested node name"]
    reasons = _taint_reasons(pod, node)
    if reasons:
        return reasons
    if not _affinity_ok(pod, node):
        return ["node(s) didn't match Pod's node affinity/selector"]
    reasons = _resource_reasons(pod, node, cluster.used.get(_name(node), Counter()))
    if reasons:
        return reasons
    return _inter_pod_reasons(pod, node, cluster)


@dataclass(frozen=True)
class Decision:
    """Either `node` (bind there) or `message` (unschedulable, in kube-scheduler's words)."""

    node: str | None
    message: str = ""


def _score(pod: Obj, node: Obj, cluster: Cluster) -> float:
    want = pod_requests(pod)
    alloc = node_allocatable(node)
    used = cluster.used.get(_name(node)) or Counter()
    fractions = [(used[r] + want.get(r, 0)) / alloc[r] for r in ("cpu", "memory") if alloc.get(r)]
    return sum(fractions) / len(fractions) if fractions else 0.0


def fit_error(total: int, reasons_by_node: Mapping[str, Sequence[str]]) -> str:
    """kube-scheduler's FitError text: `0/N nodes are available: <count> <reason>, ….`"""
    if total == 0:
        return "no nodes available to schedule pods"
    histogram: Counter[str] = Counter()
    for reasons in reasons_by_node.values():
        histogram.update(set(reasons))
    parts = sorted(f"{n} {r}" for r, n in histogram.items())
    return f"0/{total} nodes are available: {', '.join(parts)}."


def schedule(pod: Obj, cluster: Cluster) -> Decision:
    feasible: list[Obj] = []
    reasons: dict[str, list[str]] = {}
    for node in cluster.nodes:
        r = filter_node(pod, node, cluster)
        if r:
            reasons[_name(node)] = r
        else:
            feasible.append(node)
    if not feasible:
        return Decision(None, fit_error(len(cluster.nodes), reasons))
    best = min(feasible, key=lambda n: (_score(pod, n, cluster), _name(n)))
    return Decision(_name(best))

