"""The rules an API server applies to objects on write, as pure functions over plain dicts: system
fields on create (uid, creationTimestamp, generation, generateName), the merge of an update with the
stored object (system fields and status kept, `metadata.generation` moved only by a spec change),
status writes, and, for the in-memory `FakeKube`, the `Status` errors worded as kube-apiserver words
them (`pods "x" not found`, `Operation cannot be fulfilled on ...`) and its name check.

virt-local's API server and `FakeKube` both write objects through `prepare_create`,
`prepare_update` and `prepare_status_update`, so the two agree on every system field.

Invariants: pure (the clock's time, the uid source and the random source are passed in); inputs are
never changed; errors are the `virt_client.errors` classes `KubeClient` raises for the same answer.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Mapping
from typing import Any

from virt_client import resources as r
from virt_client.api.status import failure_status
from virt_client.errors import ApiError, error_from_status
from virt_client.names import dns1123_subdomain
from virt_client.resources import ResourceRef

STATUS_SUBRESOURCES: frozenset[ResourceRef] = frozenset(
    {r.PODS, r.NODES, r.NAMESPACES, r.SERVICES, r.PVCS, r.PVS, r.VMS, r.VMIMS, r.VMIRSS, r.DATAVOLUMES}
)
# Groups served by kube-apiserver itself; custom resources refuse strategic merge (415).
BUILTIN_GROUPS = frozenset({"", "apps", "batch", "coordination.k8s.io", "policy", "networking.k8s.io",
                             "rbac.authorization.k8s.io", "storage.k8s.io", "discovery.k8s.io", "events.k8s.io"})
GEN_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
SYSTEM_FIELDS = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                 "selfLink")


def status_error(code: int, reason: str, ref: ResourceRef, name: str, message: str) -> ApiError:
    """The exception `KubeClient` raises for this `Status` answer."""
    details = {"name": name, "group": ref.group, "kind": ref.plural}
    return error_from_status(code, failure_status(code, message, reason, details))


def resource_name(ref: ResourceRef) -> str:
    return f"{ref.plural}.{ref.group}" if ref.group else ref.plural


def not_found(ref: ResourceRef, name: str) -> ApiError:
    return status_error(404, "NotFound", ref, name, f'{resource_name(ref)} "{name}" not found')


def conflict(ref: ResourceRef, name: str, why: str = "") -> ApiError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    message = f'Operation cannot be fulfilled on {resource_name(ref)} "{name}": {why}'
    return status_error(409, "Conflict", ref, name, message)


def check_new_name(ref: ResourceRef, name: str) -> None:
    """Raise the 422 Invalid a server answers for a missing or malformed `metadata.name`."""
    if not name:
        raise status_error(422, "Invalid", ref, "", f"{ref.kind} \"\" is invalid: metadata.name: Required value: "
                                                    "name or generateName is required")
    if problems := dns1123_subdomain(name):
        causes = [f'metadata.name: Invalid value: "{name}": {problem}' for problem in problems]
        text = causes[0] if len(causes) == 1 else "[" + ", ".join(causes) + "]"
        raise status_error(422, "Invalid", ref, name, f'{ref.kind} "{name}" is invalid: {text}')


def generated_name(prefix: str, rnd: random.Random | None = None) -> str:
    """`generateName` plus five random characters, the prefix cut to leave room for them."""
    source = rnd or random
    return prefix[:58] + "".join(source.choice(GEN_ALPHABET) for _ in range(5))


def spec_part(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Everything but metadata, status and the type fields: what moves `metadata.generation`."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def prepare_create(obj: Mapping[str, Any], *, namespace: str, now: str, new_uid: Callable[[], str],
                   has_status_subresource: bool, api_version: str, kind: str,
                   rnd: random.Random | None = None) -> dict[str, Any]:
    """Fill in the system fields of a new object (`namespace` "" for a cluster-scoped one); a name is
    generated from `generateName` when the object has none."""
    out = dict(obj)
    md = dict(out.get("metadata") or {})
    out["apiVersion"], out["kind"] = api_version, kind
    if not md.get("name") and md.get("generateName"):
        md["name"] = generated_name(md["generateName"], rnd)
    if namespace:
        md["namespace"] = namespace
    else:
        md.pop("namespace", None)
    md["uid"] = new_uid()
    md["creationTimestamp"] = now
    md["generation"] = 1
    for f in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "selfLink"):
        md.pop(f, None)
    out["metadata"] = md
    if has_status_subresource:
        out.pop("status", None)
    return out


def prepare_update(new: Mapping[str, Any], old: Mapping[str, Any], *, has_status_subresource: bool,
                   api_version: str, kind: str) -> dict[str, Any]:
    """Merge a client's full update with the stored object: system fields, the resourceVersion and
    (when the kind has a status subresource) status come from the stored object; generation moves
    when anything but metadata and status does."""
    out = dict(new)
    md = dict(out.get("metadata") or {})
    omd = old["metadata"]
    for f in SYSTEM_FIELDS:
        if f in omd:
            md[f] = omd[f]
        else:
            md.pop(f, None)
    md["name"] = omd["name"]
    for f in ("namespace", "resourceVersion"):
        if f in omd:
            md[f] = omd[f]
    out["apiVersion"], out["kind"] = api_version, kind
    out["metadata"] = md
    if has_status_subresource:
        if "status" in old:
            out["status"] = copy.deepcopy(old["status"])
        else:
            out.pop("status", None)
    if spec_part(out) != spec_part(old):
        md["generation"] = int(omd.get("generation", 1) or 1) + 1
    return out


def prepare_status_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    """A write to the status subresource changes status only."""
    out = copy.deepcopy(dict(old))
    if "status" in new:
        out["status"] = new["status"]
    else:
        out.pop("status", None)
    return out


def metadata_changes_allowed(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[dict[str, str]]:
    """Causes for forbidden metadata changes on update (empty when the update may go ahead)."""
    causes = []
    nmd, omd = new.get("metadata") or {}, old.get("metadata") or {}
    if nmd.get("uid") and nmd.get("uid") != omd.get("uid"):
        causes.append({"field": "metadata.uid", "reason": "FieldValueInvalid",
                       "message": f'Invalid value: "{nmd.get("uid")}": field is immutable'})
    return causes
