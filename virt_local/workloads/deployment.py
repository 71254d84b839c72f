"""The Deployment controller: one ReplicaSet per Pod template, old ones scaled down as the new one
becomes available.

`plan` is pure. The template's hash (`pod-template-hash`, with `status.collisionCount`) names the new
ReplicaSet `<deployment>-<hash>`; its selector and template carry the hash label, its annotations the
revision (`deployment.kubernetes.io/revision`, one more than the highest so far) and desired replicas.
RollingUpdate: the new ReplicaSet gets `spec.replicas` at once, and the old ones together keep only
`replicas - available Pods of the new one` (oldest scaled down first), so availability never drops
below the old level while the rollout surges. Recreate: old ReplicaSets go to 0 first, the new one
is scaled up once no old Pod is left. Paused Deployments only get status. Old ReplicaSets beyond
`revisionHistoryLimit` (default 10) that have no Pods are deleted.

Status: `replicas`, `updatedReplicas`, `readyReplicas`, `availableReplicas`, `unavailableReplicas`,
`observedGeneration`, and the conditions `Available` (MinimumReplicasAvailable /
MinimumReplicasUnavailable, against `replicas - maxUnavailable`) and `Progressing`
(NewReplicaSetCreated, ReplicaSetUpdated, NewReplicaSetAvailable), which `kubectl rollout status`
reads.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from virt_client.api.objects import controller_uid, owner_reference
from virt_client.api.times import now_rfc3339
from virt_client.controller import DONE, Controller, Result
from virt_client.errors import AlreadyExists, Conflict, NotFound
from virt_client.indexer import NAMESPACE_INDEX, thaw
from virt_client.informer import EventHandler, Informer
from virt_client.kube import KubeClient

from .pods import owned_by, template_hash
from .refs import APPS_V1, DEPLOYMENTS, REPLICASETS
from .replicaset import replicas_of

log = logging.getLogger("virt_local.workloads.deployment")

Obj = Mapping[str, Any]
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"


@dataclass(frozen=True)
class Scale:
    name: str
    replicas: int


@dataclass(frozen=True)
class DeploymentPlan:
    create: dict[str, Any] | None = None
    scale: tuple[Scale, ...] = ()
    delete: tuple[str, ...] = ()
    status: dict[str, Any] = field(default_factory=dict)


def _revision(rs: Obj) -> int:
    try:
        return int(((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION) or 0)
    except ValueError:
        return 0


def _int_or_percent(value: Any, total: int, round_up: bool) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and value.endswith("%"):
        try:
            fraction = int(value[:-1]) * total / 100
        except ValueError:
            return 0
        return math.ceil(fraction) if round_up else math.floor(fraction)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def max_unavailable(deploy: Obj) -> int:
    strategy = (deploy.get("spec") or {}).get("strategy") or {}
    replicas = replicas_of(deploy)
    if strategy.get("type") == "Recreate":
        return 0
    rolling = strategy.get("rollingUpdate") or {}
    value = _int_or_percent(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    surge = _int_or_percent(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    if value == 0 and surge == 0:
        value = 1
    return min(value, replicas)


def new_replicaset(deploy: Obj, pod_hash: str, revision: int, replicas: int) -> dict[str, Any]:
    md = deploy["metadata"]
    spec = deploy.get("spec") or {}
    template: dict[str, Any] = thaw(spec.get("template") or {})
    tmd = template.setdefault("metadata", {})
    tmd["labels"] = {**(tmd.get("labels") or {}), HASH_LABEL: pod_hash}
    selector: dict[str, Any] = thaw(spec.get("selector") or {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_hash}
    rs_spec: dict[str, Any] = {"replicas": replicas, "selector": selector, "template": template}
    if spec.get("minReadySeconds"):
        rs_spec["minReadySeconds"] = spec["minReadySeconds"]
    return {"apiVersion": APPS_V1, "kind": "ReplicaSet",
            "metadata": {"name": f"{md['name']}-{pod_hash}", "namespace": md.get("namespace"),
                         "labels": dict(tmd["labels"]),
                         "annotations": {REVISION: str(revision), DESIRED: str(replicas_of(deploy)),
                                         MAX_REPLICAS: str(replicas_of(deploy))},
                         "ownerReferences": [owner_reference(deploy, api_version=APPS_V1, kind="Deployment")]},
            "spec": rs_spec}


def _condition(prev: Sequence[Obj], kind: str, status: str, reason: str, message: str, now: str) -> dict[str, Any]:
    old = next((c for c in prev if c.get("type") == kind), None)
    same = old is not None and old.get("status") == status
    unchanged = same and old is not None and old.get("reason") == reason and old.get("message") == message
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastUpdateTime": old.get("lastUpdateTime", now) if unchanged and old else now,
            "lastTransitionTime": old.get("lastTransitionTime", now) if same and old else now}


def plan(deploy: Obj, replicasets: Sequence[Obj], now: str) -> DeploymentPlan:
    spec = deploy.get("spec") or {}
    md = deploy["metadata"]
    status = deploy.get("status") or {}
    replicas = replicas_of(deploy)
    pod_hash = template_hash(spec.get("template") or {}, int(status.get("collisionCount") or 0))
    owned = owned_by(replicasets, deploy)
    new = next((rs for rs in owned if ((rs.get("metadata") or {}).get("labels") or {}).get(HASH_LABEL) == pod_hash),
               None)
    olds = sorted((rs for rs in owned if rs is not new), key=_revision)
    recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
    create = None
    scales: list[Scale] = []
    paused = bool(spec.get("paused")) or bool(md.get("deletionTimestamp"))
    if not paused:
        old_pods = sum(int((rs.get("status") or {}).get("replicas") or 0) for rs in olds)
        if recreate:
            scales += [Scale(rs["metadata"]["name"], 0) for rs in olds if replicas_of(rs) != 0]
            target = replicas if old_pods == 0 else 0
        else:
            target = replicas
        if new is None:
            revision = max([_revision(rs) for rs in owned] + [0]) + 1
            create = new_replicaset(deploy, pod_hash, revision, target)
        elif replicas_of(new) != target and not (recreate and target == 0):
            scales.append(Scale(new["metadata"]["name"], target))
        if not recreate:
            new_available = int(((new or {}).get("status") or {}).get("availableReplicas") or 0)
            allowed = max(0, replicas - new_available)
            for rs in reversed(olds):  # newest old ones keep their Pods longest
                keep = min(replicas_of(rs), allowed)
                allowed -= keep
                if keep != replicas_of(rs):
                    scales.append(Scale(rs["metadata"]["name"], keep))
    limit = spec.get("revisionHistoryLimit")
    limit = 10 if limit is None else int(limit)
    idle = [rs for rs in olds if replicas_of(rs) == 0 and not int((rs.get("status") or {}).get("replicas") or 0)]
    delete = tuple(rs["metadata"]["name"] for rs in idle[: max(0, len(idle) - limit)])
    all_rs = [*owned]
    total = sum(int((rs.get("status") or {}).get("replicas") or 0) for rs in all_rs)
    ready = sum(int((rs.get("status") or {}).get("readyReplicas") or 0) for rs in all_rs)
    available = sum(int((rs.get("status") or {}).get("availableReplicas") or 0) for rs in all_rs)
    new_status = (new or {}).get("status") or {}
    updated = int(new_status.get("replicas") or 0)
    prev = list(status.get("conditions") or [])
    minimum = replicas - max_unavailable(deploy)
    conds = [_condition(prev, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.",
                        now) if available >= minimum else
             _condition(prev, "Available", "False", "MinimumReplicasUnavailable",
                        "Deployment does not have minimum availability.", now)]
    new_name = create["metadata"]["name"] if create else (new or {}).get("metadata", {}).get("name", "")
    if create is not None:
        conds.append(_condition(prev, "Progressing", "True", "NewReplicaSetCreated",
                                f'Created new replica set "{new_name}"', now))
    elif updated == replicas and int(new_status.get("availableReplicas") or 0) >= replicas and total == updated:
        conds.append(_condition(prev, "Progressing", "True", "NewReplicaSetAvailable",
                                f'ReplicaSet "{new_name}" has successfully progressed.', now))
    else:
        conds.append(_condition(prev, "Progressing", "True", "ReplicaSetUpdated",
                                f'ReplicaSet "{new_name}" is progressing.', now))
    out_status: dict[str, Any] = {
        "observedGeneration": int(md.get("generation") or 1), "replicas": total, "updatedReplicas": updated,
        "readyReplicas": ready, "availableReplicas": available, "unavailableReplicas": max(0, replicas - available),
        "conditions": conds}
    if status.get("collisionCount"):
        out_status["collisionCount"] = status["collisionCount"]
    return DeploymentPlan(create=create, scale=tuple(scales), delete=delete, status=out_status)


def _comparable(status: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(status)
    out["conditions"] = [{k: v for k, v in c.items() if k != "lastUpdateTime"} for c in status.get("conditions") or []]
    return out


class DeploymentController:
    def __init__(self, client: KubeClient, *, deployments: Informer, replicasets: Informer) -> None:
        self.client = client
        self.deployments = deployments
        self.replicasets = replicasets
        self.controller = Controller(name="deployment", reconcile=self.reconcile, informers=[deployments, replicasets])
        deployments.add_handler(self.controller.handler())
        replicasets.add_handler(EventHandler(on_add=self._rs_event, on_update=lambda o, n: self._rs_event(n),
                                             on_delete=self._rs_event))

    def _rs_event(self, rs: Obj) -> None:
        for ref in (rs.get("metadata") or {}).get("ownerReferences") or []:
            if ref.get("controller") and ref.get("kind") == "Deployment":
                self.controller.enqueue_key(f"{rs['metadata'].get('namespace')}/{ref.get('name')}")

    async def run(self) -> None:
        await self.controller.run()

    async def reconcile(self, key: str) -> Result:
        deploy = self.deployments.get(key)
        if deploy is None:
            return DONE
        ns = deploy["metadata"]["namespace"]
        p = plan(deploy, self.replicasets.by_index(NAMESPACE_INDEX, ns), now_rfc3339())
        if p.create is not None:
            try:
                await self.client.create(REPLICASETS, p.create, ns)
                log.info("deployment %s: created replicaset %s", key, p.create["metadata"]["name"])
            except AlreadyExists:
                existing = await self.client.get(REPLICASETS, p.create["metadata"]["name"], ns)
                if controller_uid(existing) == deploy["metadata"]["uid"]:
                    return DONE  # ours, not in the cache yet: its event brings the Deployment back
                # a ReplicaSet of that name we do not own: a hash collision, try the next hash
                count = int((deploy.get("status") or {}).get("collisionCount") or 0) + 1
                await self.client.patch(DEPLOYMENTS, deploy["metadata"]["name"],
                                        {"status": {"collisionCount": count}}, ns, subresource="status")
                return DONE
        for s in p.scale:
            try:
                await self.client.patch(REPLICASETS, s.name, {"spec": {"replicas": s.replicas}, "metadata": {
                    "annotations": {DESIRED: str(replicas_of(deploy))}}}, ns)
                log.info("deployment %s: scaled replicaset %s to %d", key, s.name, s.replicas)
            except NotFound:
                pass
        for name in p.delete:
            try:
                await self.client.delete(REPLICASETS, name, ns)
            except (NotFound, Conflict):
                pass
        if _comparable(deploy.get("status") or {}) != _comparable(p.status):
            try:
                await self.client.patch(DEPLOYMENTS, deploy["metadata"]["name"], {"status": thaw(p.status)}, ns,
                                        subresource="status")
            except NotFound:
                pass
        return DONE
