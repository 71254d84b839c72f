"""The scheduler: binds pending Pods to virt-local nodes through `pods/binding`.

Every change to a Node, a pending Pod, or a Pod that ends or is deleted (room may be free) wakes one
scheduling pass over all pending Pods (those with no
`spec.nodeName`, our scheduler name and no deletionTimestamp), oldest first. Decisions come from the
pure `scheduling` module against a `Cluster` snapshot that also holds the Pods this scheduler has bound
but the informer has not reported yet (the "assumed" Pods), so one pass never overcommits a node.
An unschedulable Pod gets `PodScheduled=False`, reason `Unschedulable`, with kube-scheduler's message;
the condition is written only when the message changes, and the Pod is retried on the next change.
It also gets kube-scheduler's Warning event `FailedScheduling` with that message (`0/2 nodes are
available: 2 Insufficient memory.`), from component `default-scheduler`: at once when the message is
new, then again at most every `REPORT_SECONDS` while the Pod stays unschedulable. Repeats are one
Event whose `count` grows (`virt_client.events`), as kube-scheduler's retries are.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from virt_client.api.times import now_rfc3339
from virt_client.clock import Clock, RealClock
from virt_client.errors import ApiError, Conflict, NotFound, TransportError
from virt_client.events import EventRecorder
from virt_client.indexer import FrozenDict
from virt_client.informer import EventHandler, Informer
from virt_client.kube import KubeClient
from virt_client.resources import NODES, PODS

from .scheduling import Cluster, Decision, schedule

log = logging.getLogger("virt_local.scheduler")

DEFAULT_SCHEDULER = "default-scheduler"
TERMINAL = ("Succeeded", "Failed")
BIND_CONCURRENCY = 32
RETRY_SECONDS = 30.0
REPORT_SECONDS = 30.0
FAILED_SCHEDULING = "FailedScheduling"


def is_pending(pod: Mapping[str, Any], scheduler_name: str) -> bool:
    spec = pod.get("spec") or {}
    md = pod.get("metadata") or {}
    return (not spec.get("nodeName") and (spec.get("schedulerName") or DEFAULT_SCHEDULER) == scheduler_name
            and not md.get("deletionTimestamp") and (pod.get("status") or {}).get("phase") not in TERMINAL)


def _frees_room(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """The Pod stopped counting against its node: it ended or is being deleted."""
    before, after = old.get("status") or {}, new.get("status") or {}
    if after.get("phase") in TERMINAL and before.get("phase") not in TERMINAL:
        return True
    return bool((new.get("metadata") or {}).get("deletionTimestamp")) and \
        not (old.get("metadata") or {}).get("deletionTimestamp")


def _key(pod: Mapping[str, Any]) -> str:
    md = pod.get("metadata") or {}
    return f"{md.get('namespace')}/{md.get('name')}"


def _unschedulable_message(pod: Mapping[str, Any]) -> str | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return str(c.get("message") or "")
    return None


class FailureReports:
    """When a Pod's FailedScheduling event is due: for a new message at once, else every `interval`."""

    def __init__(self, interval: float = REPORT_SECONDS) -> None:
        self.interval = interval
        self._last: dict[str, tuple[str, float]] = {}  # pod uid -> (message, when it was reported)

    def due(self, uid: str, message: str, now: float) -> bool:
        last = self._last.get(uid)
        if last is not None and last[0] == message and now - last[1] < self.interval:
            return False
        self._last[uid] = (message, now)
        return True

    def forget(self, uid: str) -> None:
        self._last.pop(uid, None)


class Scheduler:
    def __init__(self, client: KubeClient, *, scheduler_name: str = DEFAULT_SCHEDULER,
                 clock: Clock | None = None) -> None:
        self.client = client
        self.scheduler_name = scheduler_name
        self.clock = clock or RealClock()
        self.recorder = EventRecorder(client, component=scheduler_name, clock=self.clock)
        self._reports = FailureReports()
        self.pods = Informer(client, PODS)
        self.nodes = Informer(client, NODES)
        self._wake = asyncio.Event()
        self._assumed: dict[str, tuple[str, FrozenDict]] = {}  # pod uid -> (node, pod)
        # Kept from the Pod events, so a pass does not walk (and decode) every Pod of the cluster:
        self._running: dict[str, tuple[str, FrozenDict]] = {}  # uid -> (node, pod): bound, not ended
        self._bound: set[str] = set()  # uids with a node, whatever their phase
        self._pending: dict[str, FrozenDict] = {}  # uid -> pod waiting for a node
        self.pods.add_handler(EventHandler(on_add=self._pod_added, on_update=self._pod_updated,
                                           on_delete=self._pod_deleted))
        self.nodes.add_handler(EventHandler(on_add=lambda o: self._wake.set(), on_update=lambda o, n: self._wake.set(),
                                            on_delete=lambda o: self._wake.set()))

    # A pass is needed when a Pod waits for a node or when room may have been made; the status
    # updates of Pods that run (most of the traffic) change neither.
    def _observe(self, pod: FrozenDict) -> None:
        uid = str(pod["metadata"].get("uid"))
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            self._bound.add(uid)
            if (pod.get("status") or {}).get("phase") not in TERMINAL:
                self._running[uid] = (str(node), pod)
            else:
                self._running.pop(uid, None)
        else:
            self._bound.discard(uid)
            self._running.pop(uid, None)
        if is_pending(pod, self.scheduler_name):
            self._pending[uid] = pod
            self._wake.set()
        else:
            self._pending.pop(uid, None)
            self._reports.forget(uid)

    def _pod_added(self, pod: FrozenDict) -> None:
        self._observe(pod)

    def _pod_updated(self, old: FrozenDict, new: FrozenDict) -> None:
        self._observe(new)
        if _frees_room(old, new):
            self._wake.set()

    def _pod_deleted(self, pod: FrozenDict) -> None:
        uid = str(pod["metadata"].get("uid"))
        self._bound.discard(uid)
        self._running.pop(uid, None)
        self._pending.pop(uid, None)
        self._reports.forget(uid)
        self._wake.set()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.recorder.run())
            tg.create_task(self.pods.run())
            tg.create_task(self.nodes.run())
            tg.create_task(self._loop())

    async def _loop(self) -> None:
        await self.pods.wait_for_synced()
        await self.nodes.wait_for_synced()
        while True:
            try:
                async with asyncio.timeout(RETRY_SECONDS):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.schedule_pending()
            except (ApiError, TransportError) as e:
                log.warning("scheduling pass failed: %s", e)
                await asyncio.sleep(1)
                self._wake.set()

    def _cluster(self) -> tuple[Cluster, list[FrozenDict]]:
        by_node: dict[str, list[Mapping[str, Any]]] = {}
        for node, pod in self._running.values():
            by_node.setdefault(node, []).append(pod)
        for uid in list(self._assumed):
            if uid in self._bound or (uid not in self._pending and uid not in self._running):
                del self._assumed[uid]  # the binding arrived, or the Pod is gone
        for node, pod in self._assumed.values():
            by_node.setdefault(node, []).append(pod)
        pending = [pod for uid, pod in self._pending.items() if uid not in self._assumed]
        pending.sort(key=lambda p: (p["metadata"].get("creationTimestamp") or "", _key(p)))
        return Cluster(self.nodes.store.objects(), by_node), pending

    async def schedule_pending(self) -> None:
        cluster, pending = self._cluster()
        writes: list[tuple[FrozenDict, Decision]] = []
        for pod in pending:
            decision = schedule(pod, cluster)
            if decision.node:
                cluster.add(decision.node, pod)
                self._assumed[pod["metadata"]["uid"]] = (decision.node, pod)
                writes.append((pod, decision))
            else:
                if self._reports.due(str(pod["metadata"].get("uid")), decision.message, self.clock.monotonic()):
                    self.recorder.warning({"apiVersion": "v1", "kind": "Pod", "metadata": pod["metadata"]},
                                          FAILED_SCHEDULING, decision.message)
                if _unschedulable_message(pod) != decision.message:
                    writes.append((pod, decision))
        if not writes:
            return
        sem = asyncio.Semaphore(BIND_CONCURRENCY)

        async def write(pod: FrozenDict, decision: Decision) -> None:
            async with sem:
                await (self._bind(pod, decision.node) if decision.node else self._unschedulable(pod, decision.message))
        async with asyncio.TaskGroup() as tg:
            for pod, decision in writes:
                tg.create_task(write(pod, decision))

    async def _bind(self, pod: FrozenDict, node: str) -> None:
        md = pod["metadata"]
        body = {"apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": md["name"], "namespace": md["namespace"], "uid": md.get("uid")},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        try:
            await self.client.create_subresource(PODS, md["name"], "binding", body, md["namespace"])
            log.info("bound pod %s/%s to %s", md["namespace"], md["name"], node)
        except (Conflict, NotFound) as e:
            self._assumed.pop(md.get("uid"), None)
            log.info("not binding pod %s/%s: %s", md["namespace"], md["name"], e.message)
        except (ApiError, TransportError) as e:
            self._assumed.pop(md.get("uid"), None)
            log.warning("binding pod %s/%s to %s failed: %s", md["namespace"], md["name"], node, e)
            self._wake.set()

    async def _unschedulable(self, pod: FrozenDict, message: str) -> None:
        md = pod["metadata"]
        cond = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
                "lastProbeTime": None, "lastTransitionTime": now_rfc3339()}
        patch = {"metadata": {"uid": md.get("uid")}, "status": {"phase": "Pending", "conditions": [cond]}}
        try:
            await self.client.patch(PODS, md["name"], patch, md["namespace"], patch_type="strategic",
                                    subresource="status")
            log.info("pod %s/%s is unschedulable: %s", md["namespace"], md["name"], message)
        except (Conflict, NotFound):
            pass
