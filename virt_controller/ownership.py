"""Owner lookups and the cache indexes the controllers share (pure functions over objects)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from virt_client.api.constants import CREATED_BY_LABEL

OWNER_UID_INDEX = "controller-uid"
CREATED_BY_INDEX = "created-by"


def controller_ref(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ownerReference with `controller: true`, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller"):
            return ref
    return None


def controller_key(obj: Mapping[str, Any], kind: str) -> str | None:
    """"namespace/name" of the controlling owner when it is of `kind`."""
    ref = controller_ref(obj)
    if ref is None or ref.get("kind") != kind:
        return None
    ns = (obj.get("metadata") or {}).get("namespace")
    return f"{ns}/{ref.get('name')}"


def is_controlled_by(obj: Mapping[str, Any], owner_uid: str) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == owner_uid


def by_controller_uid(obj: Mapping[str, Any]) -> Sequence[str]:
    ref = controller_ref(obj)
    return (str(ref.get("uid")),) if ref is not None and ref.get("uid") else ()


def by_created_by(obj: Mapping[str, Any]) -> Sequence[str]:
    value = ((obj.get("metadata") or {}).get("labels") or {}).get(CREATED_BY_LABEL)
    return (str(value),) if value else ()


def owner_reference(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A controller ownerReference pointing at `obj`."""
    md = obj.get("metadata") or {}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": md.get("name"),
            "uid": md.get("uid"), "controller": True, "blockOwnerDeletion": True}
