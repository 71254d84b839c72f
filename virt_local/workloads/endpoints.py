"""The Endpoints controller: the addresses behind each Service with a selector.

`render` is pure: the Pods of the Service's namespace that match its selector, have a Pod IP and are
not terminating or finished become addresses (`ip`, `nodeName`, `targetRef`), under `addresses` when
Ready and `notReadyAddresses` otherwise. Each Service port resolves its `targetPort` per Pod (a
number, or the name of a container port; a Pod without that named port is left out of that port), and
Pods with the same resolved ports share a subset, as upstream packs them. Services without a selector
are not managed (their Endpoints are the user's). The Endpoints object is named as the Service and
deleted with it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from virt_client.controller import DONE, Controller, Result
from virt_client.errors import AlreadyExists, Conflict, NotFound
from virt_client.indexer import NAMESPACE_INDEX, thaw
from virt_client.informer import EventHandler, Informer
from virt_client.kube import KubeClient

from .pods import is_active, is_ready
from .refs import ENDPOINTS

log = logging.getLogger("virt_local.workloads.endpoints")

Obj = Mapping[str, Any]


def _target_port(svc_port: Obj, pod: Obj) -> int | None:
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = svc_port.get("protocol") or "TCP"
    for c in (pod.get("spec") or {}).get("containers") or []:
        for cp in c.get("ports") or []:
            if cp.get("name") == target and (cp.get("protocol") or "TCP") == protocol:
                return int(cp.get("containerPort") or 0) or None
    return None


def render(svc: Obj, pods: Sequence[Obj]) -> dict[str, Any] | None:
    """The Endpoints of `svc`, or None when the Service has no selector."""
    md = svc.get("metadata") or {}
    spec = svc.get("spec") or {}
    selector = spec.get("selector") or {}
    if not selector:
        return None
    svc_ports = list(spec.get("ports") or [])
    subsets: dict[tuple[tuple[str, int, str], ...], dict[str, list[dict[str, Any]]]] = {}
    for pod in pods:
        pmd = pod.get("metadata") or {}
        labels = pmd.get("labels") or {}
        ip = (pod.get("status") or {}).get("podIP")
        if not ip or not is_active(pod) or any(labels.get(k) != v for k, v in selector.items()):
            continue
        ports = []
        for sp in svc_ports:
            port = _target_port(sp, pod)
            if port is not None:
                ports.append((str(sp.get("name") or ""), port, str(sp.get("protocol") or "TCP")))
        if svc_ports and not ports:
            continue
        address = {"ip": ip, "nodeName": (pod.get("spec") or {}).get("nodeName") or "",
                   "targetRef": {"kind": "Pod", "namespace": pmd.get("namespace"), "name": pmd.get("name"),
                                 "uid": pmd.get("uid")}}
        if not address["nodeName"]:
            del address["nodeName"]
        bucket = subsets.setdefault(tuple(sorted(ports)), {"addresses": [], "notReadyAddresses": []})
        bucket["addresses" if is_ready(pod) else "notReadyAddresses"].append(address)
    out_subsets = []
    for ports_key, bucket in sorted(subsets.items()):
        subset: dict[str, Any] = {}
        for kind in ("addresses", "notReadyAddresses"):
            if bucket[kind]:
                subset[kind] = sorted(bucket[kind], key=lambda a: (a["ip"], a["targetRef"]["name"] or ""))
        subset["ports"] = [{**({"name": n} if n else {}), "port": p, "protocol": proto} for n, p, proto in ports_key]
        out_subsets.append(subset)
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints",
                           "metadata": {"name": md.get("name"), "namespace": md.get("namespace")}}
    if md.get("labels"):
        obj["metadata"]["labels"] = dict(md["labels"])
    if out_subsets:
        obj["subsets"] = out_subsets
    return obj


class EndpointsController:
    def __init__(self, client: KubeClient, *, services: Informer, endpoints: Informer, pods: Informer) -> None:
        self.client = client
        self.services = services
        self.endpoints = endpoints
        self.pods = pods
        self.controller = Controller(name="endpoints", reconcile=self.reconcile, workers=2,
                                     informers=[services, endpoints, pods])
        services.add_handler(self.controller.handler())
        endpoints.add_handler(self.controller.handler())
        pods.add_handler(EventHandler(on_add=self._pod_event, on_update=self._pod_updated,
                                      on_delete=self._pod_event))

    def _pod_event(self, pod: Obj) -> None:
        ns = (pod.get("metadata") or {}).get("namespace") or ""
        labels = (pod.get("metadata") or {}).get("labels") or {}
        for svc in self.services.by_index(NAMESPACE_INDEX, ns):
            selector = (svc.get("spec") or {}).get("selector") or {}
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                self.controller.enqueue(svc)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        self._pod_event(old)
        if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
            self._pod_event(new)

    async def run(self) -> None:
        await self.controller.run()

    async def reconcile(self, key: str) -> Result:
        ns, _, name = key.partition("/")
        svc = self.services.get(key)
        current = self.endpoints.get(key)
        if svc is None:
            if current is not None:
                try:
                    await self.client.delete(ENDPOINTS, name, ns)
                except NotFound:
                    pass
            return DONE
        want = render(svc, self.pods.by_index(NAMESPACE_INDEX, ns))
        if want is None:
            return DONE
        if current is None:
            try:
                await self.client.create(ENDPOINTS, want, ns)
                log.info("endpoints %s: created", key)
            except AlreadyExists:
                pass  # the informer has not seen it yet; its event requeues the Service
            return DONE
        if (thaw(current).get("subsets") or []) == want.get("subsets", []) and \
                (current["metadata"].get("labels") or {}) == want["metadata"].get("labels", {}):
            return DONE
        body = thaw(current)
        body["subsets"] = want.get("subsets", [])
        body["metadata"]["labels"] = want["metadata"].get("labels", {})
        try:
            await self.client.update(ENDPOINTS, body, ns)
        except (Conflict, NotFound):
            self.controller.enqueue_key(key)
        return DONE
