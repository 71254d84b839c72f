"""Pod addresses assigned by the API server when a Pod is created (see `virt_local.pod_network`).

`PodAddresses.before_write` is the Pods' write hook: a new Pod that is not `hostNetwork` gets the next
free address in the annotation `virt-local.kubevirt.io/pod-ip` (a value sent by the client is
replaced); an update keeps the stored value, whatever the client sent. The live addresses are loaded
from the store at start and followed through its events (added on ADDED, freed on DELETED), so the
allocator never hands out the address of a Pod that exists. A create that fails after the hook
(a name conflict, a dry run) only moves the cursor on.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..pod_network import POD_IP_ANNOTATION, PodIpAllocator, is_pod_address
from .store import Event, Store

PODS = ("", "pods")


def _assigned(obj: dict[str, Any]) -> str:
    return str(((obj.get("metadata") or {}).get("annotations") or {}).get(POD_IP_ANNOTATION) or "")


class PodAddresses:
    def __init__(self) -> None:
        self.allocator = PodIpAllocator()
        self._by_uid: dict[str, str] = {}

    def load(self, store: Store) -> None:
        for e in store.list(PODS, None):
            self._use(e.uid, _assigned(orjson.loads(e.raw)))

    def _use(self, uid: str, ip: str) -> None:
        if ip and is_pod_address(ip):
            self.allocator.use(ip, uid)
            self._by_uid[uid] = ip

    def on_event(self, ev: Event) -> None:
        if ev.tk != PODS:
            return
        if ev.type == "ADDED":
            self._use(ev.entry.uid, _assigned(orjson.loads(ev.entry.raw)))
        elif ev.type == "DELETED":
            ip = self._by_uid.pop(ev.entry.uid, None)
            if ip:
                self.allocator.release(ip, ev.entry.uid)

    def before_write(self, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        md = obj.setdefault("metadata", {})
        annotations = dict(md.get("annotations") or {})
        if old is not None:
            kept = _assigned(old)
            if kept:
                annotations[POD_IP_ANNOTATION] = kept
            else:
                annotations.pop(POD_IP_ANNOTATION, None)
        elif (obj.get("spec") or {}).get("hostNetwork"):
            annotations.pop(POD_IP_ANNOTATION, None)
        else:
            annotations[POD_IP_ANNOTATION] = self.allocator.allocate()
        if annotations:
            md["annotations"] = annotations
        else:
            md.pop("annotations", None)
