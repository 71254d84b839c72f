"""Object helpers: the questions every component asks of any Kubernetes object, answered once.

Name, namespace, uid and the "namespace/name" key; labels, annotations and finalizers as read-only
mappings and sequences; whether the object is being deleted; `status.phase` and whether a VMI or
a migration has reached a final phase; the controlling ownerReference and the owner's key.

Invariants: every function reads only, over any `Mapping` (a cached `FrozenDict` or a plain dict),
and never copies or mutates its argument; an absent or null field reads as empty ("" / {} / ()),
never as an error. `owner_reference` is the one function that builds (a new dict, for writes).
"""

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from virt_client.api.constants import FINAL_MIGRATION_PHASES, FINAL_VMI_PHASES

EMPTY: Mapping[str, Any] = MappingProxyType({})


def metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """`metadata`, or an empty mapping when it is absent."""
    md = obj.get("metadata")
    return md if md is not None else EMPTY


def name(obj: Mapping[str, Any]) -> str:
    return str(metadata(obj).get("name") or "")


def namespace(obj: Mapping[str, Any]) -> str:
    """The namespace; "" for cluster-scoped objects."""
    return str(metadata(obj).get("namespace") or "")


def uid(obj: Mapping[str, Any]) -> str:
    return str(metadata(obj).get("uid") or "")


def object_key(obj: Mapping[str, Any]) -> str:
    """client-go's MetaNamespaceKeyFunc: "namespace/name", or "name" when cluster-scoped."""
    md = metadata(obj)
    ns = md.get("namespace")
    return f"{ns}/{md.get('name')}" if ns else str(md.get("name"))


def split_key(key: str) -> tuple[str | None, str]:
    """Inverse of `object_key`: (namespace or None, name)."""
    ns, sep, rest = key.partition("/")
    return (ns, rest) if sep else (None, ns)


def labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    value = metadata(obj).get("labels")
    return value if value is not None else EMPTY


def annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    value = metadata(obj).get("annotations")
    return value if value is not None else EMPTY


def finalizers(obj: Mapping[str, Any]) -> Sequence[str]:
    value = metadata(obj).get("finalizers")
    return value if value is not None else ()


def is_deleting(obj: Mapping[str, Any]) -> bool:
    """`metadata.deletionTimestamp` is set: deletion has started (finalizers may still hold it)."""
    return bool(metadata(obj).get("deletionTimestamp"))


def phase(obj: Mapping[str, Any] | None) -> str:
    """`status.phase` as written, "" when unset (or when there is no object)."""
    if obj is None:
        return ""
    status = obj.get("status")
    return str(status.get("phase") or "") if status is not None else ""


def is_final(vmi: Mapping[str, Any] | None) -> bool:
    """The VMI has Succeeded or Failed: it never runs again."""
    return phase(vmi) in FINAL_VMI_PHASES


def is_migration_final(vmim: Mapping[str, Any] | None) -> bool:
    """The migration has Succeeded or Failed."""
    return phase(vmim) in FINAL_MIGRATION_PHASES


def owner_references(obj: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    value = metadata(obj).get("ownerReferences")
    return value if value is not None else ()


def controller_ref(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ownerReference with `controller: true`, if any."""
    for ref in owner_references(obj):
        if isinstance(ref, Mapping) and ref.get("controller"):
            return ref
    return None


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    """uid of the controlling owner, if there is one."""
    ref = controller_ref(obj)
    return str(ref.get("uid")) if ref is not None and ref.get("uid") else None


def controller_key(obj: Mapping[str, Any], kind: str) -> str | None:
    """"namespace/name" of the controlling owner when it is of `kind` (owners share the namespace)."""
    ref = controller_ref(obj)
    if ref is None or ref.get("kind") != kind:
        return None
    ns = metadata(obj).get("namespace")
    return f"{ns}/{ref.get('name')}" if ns else str(ref.get("name"))


def is_controlled_by(obj: Mapping[str, Any], owner_uid: str) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == owner_uid


def owner_uids(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """uids of every owner, controlling or not, in the order written."""
    return tuple(str(ref.get("uid")) for ref in owner_references(obj)
                 if isinstance(ref, Mapping) and ref.get("uid"))


def owner_reference(owner: Mapping[str, Any], *, api_version: str | None = None,
                    kind: str | None = None) -> dict[str, Any]:
    """A new controller ownerReference pointing at `owner`; apiVersion and kind default to the owner's."""
    md = metadata(owner)
    return {"apiVersion": api_version if api_version is not None else owner.get("apiVersion"),
            "kind": kind if kind is not None else owner.get("kind"), "name": md.get("name"),
            "uid": md.get("uid"), "controller": True, "blockOwnerDeletion": True}
