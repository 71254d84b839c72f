"""Pods of workload controllers, pure: rendering from a template, ownership, readiness, hashing.

`pod_from_template` renders what kube-controller-manager's `GetPodFromTemplate` does: the template's
labels, annotations and spec, `generateName` `<owner>-`, a controller ownerReference with
`blockOwnerDeletion`. `template_hash` is a short, stable hash of a Pod template in the alphabet
Kubernetes uses for `pod-template-hash` (no vowels, no look-alikes), so equal templates give equal hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from virt_client.api.objects import controller_key, controller_uid, is_deleting, owner_reference
from virt_client.controller import Controller
from virt_client.expectations import Expectations
from virt_client.indexer import thaw
from virt_client.informer import EventHandler

Obj = Mapping[str, Any]
HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
TERMINAL = ("Succeeded", "Failed")


def template_hash(template: Obj, collision_count: int = 0) -> str:
    data = orjson.dumps(thaw(template), option=orjson.OPT_SORT_KEYS) + str(collision_count or "").encode()
    value = int.from_bytes(hashlib.sha256(data).digest()[:8], "big")
    out = []
    for _ in range(10):
        value, rem = divmod(value, len(HASH_ALPHABET))
        out.append(HASH_ALPHABET[rem])
    return "".join(out)


def owned_by(objs: Iterable[Obj], owner: Obj) -> list[Obj]:
    uid = owner["metadata"]["uid"]
    return [o for o in objs if controller_uid(o) == uid]


def pod_from_template(owner: Obj, api_version: str, kind: str, template: Obj, *,
                      labels: Mapping[str, str] | None = None, spec_patch: Mapping[str, Any] | None = None,
                      generate_name: str | None = None) -> dict[str, Any]:
    tmd = template.get("metadata") or {}
    md: dict[str, Any] = {
        "generateName": generate_name or f"{owner['metadata']['name']}-",
        "namespace": owner["metadata"].get("namespace"),
        "labels": {**(tmd.get("labels") or {}), **(labels or {})},
        "ownerReferences": [owner_reference(owner, api_version=api_version, kind=kind)],
    }
    if tmd.get("annotations"):
        md["annotations"] = dict(tmd["annotations"])
    spec = {**(template.get("spec") or {}), **(spec_patch or {})}
    pod: dict[str, Any] = thaw({"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec})
    return pod


def is_active(pod: Obj) -> bool:
    """Counts towards replicas: not finished and not being deleted."""
    return not is_deleting(pod) and (pod.get("status") or {}).get("phase") not in TERMINAL


def is_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def deletion_order(pods: Sequence[Obj]) -> list[Obj]:
    """Which Pods to delete first when scaling down (kube-controller-manager's ActivePods ranking):
    unassigned before assigned, Pending before Running, not ready before ready, newer before older."""
    def rank(pod: Obj) -> tuple[int, int, int, str]:
        phase = (pod.get("status") or {}).get("phase")
        return (1 if (pod.get("spec") or {}).get("nodeName") else 0,
                {"Pending": 0, "Unknown": 1, "Running": 2}.get(str(phase), 0),
                1 if is_ready(pod) else 0,
                _reverse(str((pod.get("metadata") or {}).get("creationTimestamp") or "")))
    return sorted(pods, key=rank)


def _reverse(timestamp: str) -> str:
    return "".join(chr(0x10FFFF - ord(ch)) for ch in timestamp)


def owned_pod_handler(kind: str, expectations: Expectations, controller: Controller) -> EventHandler:
    """Pod events for a controller of `kind`: queue the owner, and observe the creations and deletions
    its expectations wait for (a deletion counts once: when it starts, or when the Pod vanishes)."""
    def added(pod: Obj) -> None:
        if key := controller_key(pod, kind):
            expectations.creation_observed(key)
            controller.enqueue_key(key)

    def updated(old: Obj, new: Obj) -> None:
        if key := controller_key(new, kind):
            if new["metadata"].get("deletionTimestamp") and not old["metadata"].get("deletionTimestamp"):
                expectations.deletion_observed(key)
            controller.enqueue_key(key)

    def deleted(pod: Obj) -> None:
        if key := controller_key(pod, kind):
            if not pod["metadata"].get("deletionTimestamp"):
                expectations.deletion_observed(key)
            controller.enqueue_key(key)
    return EventHandler(on_add=added, on_update=updated, on_delete=deleted)
