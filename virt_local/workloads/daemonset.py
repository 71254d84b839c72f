"""The DaemonSet controller: one Pod per eligible Node.

`plan` is pure. A Node is eligible when the template's `nodeSelector` and required node affinity match
it and its NoSchedule/NoExecute taints are tolerated (the template's tolerations plus those the
DaemonSet controller adds to every daemon Pod: not-ready, unreachable, disk/memory/pid-pressure,
unschedulable). Each daemon Pod is pinned to its Node the way upstream does: required node affinity on
`metadata.name` (`matchFields`), and the scheduler binds it. Per Node: none and eligible → create;
more than one → delete the extras; not eligible → delete; Failed → delete (it is recreated).
RollingUpdate: Pods whose `controller-revision-hash` is not the template's are deleted while fewer
than `maxUnavailable` (default 1) daemon Pods are unavailable, and recreated from the new template.
OnDelete: old Pods stay until someone deletes them.

Status: `desiredNumberScheduled`, `currentNumberScheduled`, `numberMisscheduled`, `numberReady`,
`numberAvailable`, `numberUnavailable`, `updatedNumberScheduled`, `observedGeneration`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from virt_client.api.objects import controller_uid
from virt_client.controller import DONE, Controller, Result
from virt_client.errors import Conflict, NotFound
from virt_client.expectations import Expectations
from virt_client.indexer import NAMESPACE_INDEX, thaw
from virt_client.informer import EventHandler, Informer
from virt_client.kube import KubeClient
from virt_client.resources import PODS

from ..label_match import matches_node_selector
from ..scheduling import tolerates
from .pods import (
    is_active,
    is_ready,
    owned_by,
    owned_pod_handler,
    pod_from_template,
    template_hash,
)
from .refs import APPS_V1, DAEMONSETS

log = logging.getLogger("virt_local.workloads.daemonset")

Obj = Mapping[str, Any]
REVISION_LABEL = "controller-revision-hash"
DAEMON_TOLERATIONS: tuple[dict[str, Any], ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)


@dataclass(frozen=True)
class DaemonSetPlan:
    create_on: tuple[str, ...] = ()
    delete: tuple[Obj, ...] = ()
    status: dict[str, Any] = field(default_factory=dict)


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def daemon_tolerations(template_spec: Obj) -> list[dict[str, Any]]:
    out = [dict(t) for t in template_spec.get("tolerations") or []]
    for t in DAEMON_TOLERATIONS:
        if not any(o.get("key") == t["key"] and o.get("effect") == t["effect"] for o in out):
            out.append(dict(t))
    return out


def eligible(template_spec: Obj, node: Obj) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    for k, v in (template_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = ((template_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution")
    if required is not None and not matches_node_selector(required, labels, _name(node)):
        return False
    tolerations = daemon_tolerations(template_spec)
    return all(tolerates(tolerations, taint) for taint in (node.get("spec") or {}).get("taints") or []
               if taint.get("effect") in ("NoSchedule", "NoExecute"))


def pinned_node(pod: Obj) -> str:
    """The Node a daemon Pod is for: `spec.nodeName`, else its `metadata.name` node affinity."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or []:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and len(f.get("values") or []) == 1:
                return str(f["values"][0])
    return ""


def daemon_pod(ds: Obj, node: str, revision: str) -> dict[str, Any]:
    template = (ds.get("spec") or {}).get("template") or {}
    tspec = template.get("spec") or {}
    affinity = dict(tspec.get("affinity") or {})
    affinity["nodeAffinity"] = {**(affinity.get("nodeAffinity") or {}), "requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}}
    return pod_from_template(ds, APPS_V1, "DaemonSet", template, labels={REVISION_LABEL: revision},
                             spec_patch={"affinity": affinity, "tolerations": daemon_tolerations(tspec)})


def revision_of(ds: Obj) -> str:
    return template_hash((ds.get("spec") or {}).get("template") or {})


def plan(ds: Obj, nodes: Sequence[Obj], pods: Sequence[Obj]) -> DaemonSetPlan:
    spec = ds.get("spec") or {}
    tspec = (spec.get("template") or {}).get("spec") or {}
    revision = revision_of(ds)
    mine = owned_by(pods, ds)
    by_node: dict[str, list[Obj]] = {}
    failed: list[Obj] = []
    for pod in mine:
        if (pod.get("status") or {}).get("phase") == "Failed" and not (pod.get("metadata") or {}).get("deletionTimestamp"):
            failed.append(pod)
        elif is_active(pod):
            by_node.setdefault(pinned_node(pod), []).append(pod)
    create: list[str] = []
    delete: list[Obj] = list(failed)
    desired = current = misscheduled = ready = updated = 0
    outdated: list[Obj] = []
    node_names = set()
    for node in nodes:
        name = _name(node)
        node_names.add(name)
        here = sorted(by_node.get(name, []), key=lambda p: str(p["metadata"].get("creationTimestamp") or ""))
        if eligible(tspec, node):
            desired += 1
            if not here:
                if not any(pinned_node(p) == name for p in failed):
                    create.append(name)
                continue
            current += 1
            keep, extra = here[0], here[1:]
            delete += extra
            ready += is_ready(keep)
            if ((keep.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL) == revision:
                updated += 1
            else:
                outdated.append(keep)
        elif here:
            misscheduled += 1
            delete += here
    for node_name, here in by_node.items():
        if node_name not in node_names:
            delete += here  # its Node is gone
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") == "RollingUpdate" and outdated:
        max_unavailable = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1)
        try:
            budget = int(max_unavailable)
        except (TypeError, ValueError):
            pct = str(max_unavailable).rstrip("%")
            budget = max(1, desired * int(pct) // 100) if pct.isdigit() else 1
        unavailable = desired - ready
        outdated.sort(key=lambda p: is_ready(p))  # unready old Pods first: replacing them costs nothing
        for pod in outdated:
            if not is_ready(pod):
                delete.append(pod)
            elif unavailable < budget:
                delete.append(pod)
                unavailable += 1
    status = {"desiredNumberScheduled": desired, "currentNumberScheduled": current,
              "numberMisscheduled": misscheduled, "numberReady": ready, "numberAvailable": ready,
              "numberUnavailable": max(0, desired - ready), "updatedNumberScheduled": updated,
              "observedGeneration": int((ds.get("metadata") or {}).get("generation") or 1)}
    if (ds.get("metadata") or {}).get("deletionTimestamp"):
        return DaemonSetPlan(status=status)
    return DaemonSetPlan(create_on=tuple(create), delete=tuple(delete), status=status)


class DaemonSetController:
    def __init__(self, client: KubeClient, *, daemonsets: Informer, nodes: Informer, pods: Informer) -> None:
        self.client = client
        self.daemonsets = daemonsets
        self.nodes = nodes
        self.pods = pods
        self.expectations = Expectations()
        self.controller = Controller(name="daemonset", reconcile=self.reconcile,
                                     informers=[daemonsets, nodes, pods])
        daemonsets.add_handler(self.controller.handler())
        pods.add_handler(owned_pod_handler("DaemonSet", self.expectations, self.controller))
        nodes.add_handler(EventHandler(on_add=self._node_event, on_update=self._node_updated,
                                       on_delete=self._node_event))

    def _node_event(self, node: Obj) -> None:
        for ds in self.daemonsets.store.objects():
            self.controller.enqueue(ds)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        # the heartbeat re-posts status every minute; only labels, taints and readiness matter here
        if ((old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels")
                or (old.get("spec") or {}) != (new.get("spec") or {})):
            self._node_event(new)

    async def run(self) -> None:
        await self.controller.run()

    async def reconcile(self, key: str) -> Result:
        ds = self.daemonsets.get(key)
        if ds is None:
            self.expectations.delete_expectations(key)
            return DONE
        ns = ds["metadata"]["namespace"]
        uid = ds["metadata"]["uid"]
        pods = [p for p in self.pods.by_index(NAMESPACE_INDEX, ns) if controller_uid(p) == uid]
        p = plan(ds, self.nodes.store.objects(), pods)
        if self.expectations.satisfied(key):
            if p.create_on:
                self.expectations.expect_creations(key, len(p.create_on))
                revision = revision_of(ds)
                results = await asyncio.gather(*(self.client.create(PODS, daemon_pod(ds, n, revision), ns)
                                                 for n in p.create_on), return_exceptions=True)
                failed = [r for r in results if isinstance(r, BaseException)]
                for _ in failed:
                    self.expectations.creation_observed(key)
                if failed:
                    raise failed[0]
                log.info("daemonset %s: created pods for %s", key, ", ".join(p.create_on))
            if p.delete:
                self.expectations.expect_deletions(key, len(p.delete))
                for pod in p.delete:
                    try:
                        await self.client.delete(PODS, pod["metadata"]["name"], ns, uid=pod["metadata"]["uid"])
                    except (NotFound, Conflict):
                        self.expectations.deletion_observed(key)
                log.info("daemonset %s: deleted %d pod(s)", key, len(p.delete))
        cur = ds.get("status") or {}
        if any(cur.get(k, 0) != v for k, v in p.status.items()):
            try:
                await self.client.patch(DAEMONSETS, ds["metadata"]["name"], {"status": thaw(p.status)}, ns,
                                        subresource="status")
            except NotFound:
                pass
        return DONE
