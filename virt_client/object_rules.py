"""The rules an API server applies to objects on write, as pure functions over plain dicts, for the
in-memory `FakeKube`: system fields on create (uid, creationTimestamp, generation, generateName,
name validation), the merge of an update with the stored object, and the `Status` errors worded as
kube-apiserver words them (`pods "x" not found`, `Operation cannot be fulfilled on ...`).

Invariants: pure (the clock's time and the random source are passed in); errors are the
`virt_client.errors` classes `KubeClient` raises for the same answer.
"""

from __future__ import annotations

import copy
import random
import re
import uuid
from collections.abc import Mapping
from typing import Any

from virt_client import resources as r
from virt_client.api.status import failure_status
from virt_client.errors import ApiError, ClientError, error_from_status
from virt_client.resources import ResourceRef

STATUS_SUBRESOURCES: frozenset[ResourceRef] = frozenset(
    {r.PODS, r.NODES, r.NAMESPACES, r.SERVICES, r.PVCS, r.PVS, r.VMS, r.VMIMS, r.VMIRSS, r.DATAVOLUMES}
)
# Groups served by kube-apiserver itself; custom resources refuse strategic merge (415).
BUILTIN_GROUPS = frozenset({"", "apps", "batch", "coordination.k8s.io", "policy", "networking.k8s.io",
                             "rbac.authorization.k8s.io", "storage.k8s.io", "discovery.k8s.io", "events.k8s.io"})
SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
GEN_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
SYSTEM_FIELDS = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")


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


def spec_part(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def prepare_create(ref: ResourceRef, obj: dict[str, Any], namespace: str | None, *, now: str,
                   rnd: random.Random, has_status: bool) -> dict[str, Any]:
    """Fill in the system fields of a new object (in place; `obj` is the caller's private copy)."""
    md = obj.setdefault("metadata", {})
    if ref.namespaced:
        ns = namespace or md.get("namespace")
        if not ns:
            raise ClientError(f"{ref} is namespaced: give a namespace or metadata.namespace")
        md["namespace"] = ns
    else:
        md.pop("namespace", None)
    if not md.get("name") and md.get("generateName"):
        md["name"] = md["generateName"][:58] + "".join(rnd.choice(GEN_ALPHABET) for _ in range(5))
    if not md.get("name"):
        raise status_error(422, "Invalid", ref, "", f"{ref.kind} \"\" is invalid: metadata.name: Required value: "
                                               "name or generateName is required")
    if len(md["name"]) > 253 or not SUBDOMAIN.fullmatch(md["name"]):
        raise status_error(422, "Invalid", ref, md["name"],
                      f'{ref.kind} "{md["name"]}" is invalid: metadata.name: Invalid value: "{md["name"]}": '
                      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                      "'-' or '.', and must start and end with an alphanumeric character")
    obj["apiVersion"], obj["kind"] = ref.api_version, ref.kind
    md["uid"] = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
    md["creationTimestamp"] = now
    md["generation"] = 1
    for f in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "selfLink"):
        md.pop(f, None)
    if has_status:
        obj.pop("status", None)
    return obj

def prepare_update(ref: ResourceRef, new: dict[str, Any], old: Mapping[str, Any], *,
                   has_status: bool) -> dict[str, Any]:
    """Merge a full update with the stored object: system fields, and status when the kind has a status
    subresource, come from the stored object; generation moves when anything but metadata and status does."""
    md, omd = dict(new.get("metadata") or {}), old["metadata"]
    for f in SYSTEM_FIELDS:
        if f in omd:
            md[f] = omd[f]
        else:
            md.pop(f, None)
    md["name"], md["resourceVersion"] = omd["name"], omd["resourceVersion"]
    if "namespace" in omd:
        md["namespace"] = omd["namespace"]
    new["apiVersion"], new["kind"], new["metadata"] = ref.api_version, ref.kind, md
    if has_status:
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
    if spec_part(new) != spec_part(old):
        md["generation"] = int(omd.get("generation", 1) or 1) + 1
    return new
