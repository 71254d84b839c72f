"""What the API server does to an object's metadata on create, update and status writes.

Pure functions over plain dicts (the clock and uid source are passed in): name generation, system
fields (uid, creationTimestamp, generation), the split between the main resource and its status
subresource, and the rule that `metadata.generation` moves only when the spec changes.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

_GEN_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
SYSTEM_FIELDS = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                 "generation", "selfLink")


def generated_name(prefix: str, rnd: random.Random | None = None) -> str:
    r = rnd or random
    return prefix[:58] + "".join(r.choice(_GEN_ALPHABET) for _ in range(5))


def prepare_create(obj: dict[str, Any], *, namespace: str, now: str, new_uid: Callable[[], str],
                   has_status_subresource: bool, api_version: str, kind: str) -> dict[str, Any]:
    """Fill in the system fields of a new object (the input is not changed)."""
    obj = copy.copy(obj)
    md = dict(obj.get("metadata") or {})
    obj["apiVersion"], obj["kind"] = api_version, kind
    if not md.get("name") and md.get("generateName"):
        md["name"] = generated_name(md["generateName"])
    if namespace:
        md["namespace"] = namespace
    else:
        md.pop("namespace", None)
    md["uid"] = new_uid()
    md["creationTimestamp"] = now
    md["generation"] = 1
    for f in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "selfLink"):
        md.pop(f, None)
    obj["metadata"] = md
    if has_status_subresource:
        obj.pop("status", None)
    return obj


def _spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def prepare_update(new: dict[str, Any], old: dict[str, Any], *, has_status_subresource: bool,
                   api_version: str, kind: str) -> dict[str, Any]:
    """Merge a client's full update with the stored object: system fields and (when the kind has a
    status subresource) status come from the stored object."""
    new = copy.copy(new)
    md = dict(new.get("metadata") or {})
    omd = old["metadata"]
    for f in SYSTEM_FIELDS:
        if f in omd:
            md[f] = omd[f]
        else:
            md.pop(f, None)
    md["name"] = omd["name"]
    if "namespace" in omd:
        md["namespace"] = omd["namespace"]
    new["apiVersion"], new["kind"] = api_version, kind
    new["metadata"] = md
    if has_status_subresource:
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    if _spec_part(new) != _spec_part(old):
        md["generation"] = int(omd.get("generation", 1) or 1) + 1
    return new


def prepare_status_update(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """A write to the status subresource changes status only."""
    out = copy.deepcopy(old)
    if "status" in new:
        out["status"] = new["status"]
    else:
        out.pop("status", None)
    return out


def metadata_changes_allowed(new: dict[str, Any], old: dict[str, Any]) -> list[dict[str, str]]:
    """Causes for forbidden metadata changes on update."""
    causes = []
    nmd, omd = new.get("metadata") or {}, old.get("metadata") or {}
    if nmd.get("uid") and nmd.get("uid") != omd.get("uid"):
        causes.append({"field": "metadata.uid", "reason": "FieldValueInvalid",
                       "message": f'Invalid value: "{nmd.get("uid")}": field is immutable'})
    return causes
