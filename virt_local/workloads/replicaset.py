"""The ReplicaSet controller: keeps `spec.replicas` active Pods per ReplicaSet and reports them.

`plan` is pure: the Pods it controls (controller ownerReference) that are active (not terminating, not
finished) are counted against `spec.replicas` (default 1); too few → how many to create from the
template, too many → which to delete (`pods.deletion_order`). Status: `replicas`,
`fullyLabeledReplicas`, `readyReplicas`, `availableReplicas` (ready for `minReadySeconds`),
`observedGeneration`. `ReplicaSetController` runs it per key with expectations, so a cache that has
not yet seen the Pods it just created does not make it create them twice.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from virt_client.api.objects import controller_uid
from virt_client.api.times import parse_rfc3339
from virt_client.controller import DONE, Controller, RequeueAfter, Result
from virt_client.errors import Conflict, NotFound
from virt_client.expectations import Expectations
from virt_client.indexer import NAMESPACE_INDEX, thaw
from virt_client.informer import Informer
from virt_client.kube import KubeClient
from virt_client.resources import PODS

from .pods import (
    deletion_order,
    is_active,
    is_ready,
    owned_by,
    owned_pod_handler,
    pod_from_template,
)
from .refs import APPS_V1, REPLICASETS

log = logging.getLogger("virt_local.workloads.replicaset")

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class ReplicaSetPlan:
    create: int = 0
    delete: tuple[Obj, ...] = ()
    status: dict[str, Any] = field(default_factory=dict)


def _parse_time(value: str) -> datetime.datetime | None:
    try:
        return parse_rfc3339(value)
    except (TypeError, ValueError):
        return None


def is_available(pod: Obj, min_ready_seconds: int, now: datetime.datetime) -> bool:
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    cond = next(c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready")
    since = _parse_time(str(cond.get("lastTransitionTime") or ""))
    return since is not None and (now - since).total_seconds() >= min_ready_seconds


def replicas_of(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def plan(rs: Obj, pods: Sequence[Obj], now: datetime.datetime) -> ReplicaSetPlan:
    spec = rs.get("spec") or {}
    active = [p for p in owned_by(pods, rs) if is_active(p)]
    want = replicas_of(rs)
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    status = {
        "replicas": len(active),
        "fullyLabeledReplicas": sum(1 for p in active if all(
            ((p.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in template_labels.items())),
        "readyReplicas": sum(1 for p in active if is_ready(p)),
        "availableReplicas": sum(1 for p in active if is_available(p, min_ready, now)),
        "observedGeneration": int((rs.get("metadata") or {}).get("generation") or 1),
    }
    if rs.get("metadata", {}).get("deletionTimestamp"):
        return ReplicaSetPlan(status=status)
    if len(active) < want:
        return ReplicaSetPlan(create=want - len(active), status=status)
    if len(active) > want:
        return ReplicaSetPlan(delete=tuple(deletion_order(active)[: len(active) - want]), status=status)
    return ReplicaSetPlan(status=status)


def status_changed(obj: Obj, status: Mapping[str, Any]) -> bool:
    cur = obj.get("status") or {}
    return any(cur.get(k, 0) != v for k, v in status.items())


class ReplicaSetController:
    def __init__(self, client: KubeClient, *, replicasets: Informer, pods: Informer, workers: int = 2) -> None:
        self.client = client
        self.replicasets = replicasets
        self.pods = pods
        self.expectations = Expectations()
        self.controller = Controller(name="replicaset", reconcile=self.reconcile, workers=workers,
                                     informers=[replicasets, pods])
        replicasets.add_handler(self.controller.handler())
        pods.add_handler(owned_pod_handler("ReplicaSet", self.expectations, self.controller))

    async def run(self) -> None:
        await self.controller.run()

    async def reconcile(self, key: str) -> Result:
        rs = self.replicasets.get(key)
        if rs is None:
            self.expectations.delete_expectations(key)
            return DONE
        ns = rs["metadata"]["namespace"]
        pods = [p for p in self.pods.by_index(NAMESPACE_INDEX, ns) if controller_uid(p) == rs["metadata"]["uid"]]
        now = datetime.datetime.now(datetime.UTC)
        p = plan(rs, pods, now)
        if self.expectations.satisfied(key):
            if p.create:
                self.expectations.expect_creations(key, p.create)
                template = (rs.get("spec") or {}).get("template") or {}
                body = pod_from_template(rs, APPS_V1, "ReplicaSet", template)
                results = await asyncio.gather(*(self.client.create(PODS, body, ns) for _ in range(p.create)),
                                               return_exceptions=True)
                failed = [r for r in results if isinstance(r, BaseException)]
                for _ in failed:
                    self.expectations.creation_observed(key)
                if failed:
                    raise failed[0]
                log.info("replicaset %s: created %d pod(s)", key, p.create)
            if p.delete:
                self.expectations.expect_deletions(key, len(p.delete))
                for pod in p.delete:
                    try:
                        await self.client.delete(PODS, pod["metadata"]["name"], ns, uid=pod["metadata"]["uid"])
                    except (NotFound, Conflict):
                        self.expectations.deletion_observed(key)
                log.info("replicaset %s: deleted %d pod(s)", key, len(p.delete))
        if status_changed(rs, p.status):
            try:
                await self.client.patch(REPLICASETS, rs["metadata"]["name"], {"status": thaw(p.status)}, ns,
                                        subresource="status")
            except NotFound:
                return DONE
        min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready and p.status["readyReplicas"] > p.status["availableReplicas"]:
            return RequeueAfter(float(min_ready))
        return DONE
