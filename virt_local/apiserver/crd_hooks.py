"""How CustomResourceDefinitions shape the server: CRD validation and status on write, and
pruning, defaulting and validation of custom resources from their structural schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import errors, schema
from .builtin_schemas import BUILTIN_SCHEMAS, GENERIC
from .resources import ResourceInfo

_META_ROOT = ("apiVersion", "kind", "metadata")


def crd_before_write(obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    causes = schema.validate_crd(obj)
    if causes:
        raise errors.invalid("CustomResourceDefinition", "apiextensions.k8s.io",
                             obj.get("metadata", {}).get("name", ""),
                             [{"field": c.field, "reason": c.type, "message": c.message} for c in causes])
    spec = obj.get("spec") or {}
    names = dict(spec.get("names") or {})
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", names.get("kind", "") + "List")
    status = dict(obj.get("status") or {})
    status["acceptedNames"] = names
    stored = set(status.get("storedVersions") or [])
    stored |= {v["name"] for v in spec.get("versions") or () if v.get("storage")}
    status["storedVersions"] = sorted(stored)
    conds = []
    for t, reason, msg in (("NamesAccepted", "NoConflicts", "no conflicts found"),
                           ("Established", "InitialNamesAccepted", "the initial names have been accepted")):
        prev = next((c for c in (status.get("conditions") or []) if c.get("type") == t), None)
        ts = prev.get("lastTransitionTime") if prev else obj["metadata"].get("creationTimestamp")
        conds.append({"type": t, "status": "True", "reason": reason, "message": msg, "lastTransitionTime": ts})
    status["conditions"] = conds
    obj["status"] = status


class SchemaHooksImpl:
    """Applies CRD schemas to custom resources; built-ins only get metadata validation."""

    def __init__(self) -> None:
        self.crds: dict[str, dict[str, Any]] = {}

    def refresh(self, crds: list[dict[str, Any]]) -> None:
        self.crds = {c["metadata"]["name"]: c for c in crds}

    def prepare(self, r: ResourceInfo, obj: dict[str, Any], mode: str) -> tuple[dict[str, Any], list[str]]:
        if not r.from_crd or r.schema is None:
            return obj, []
        pruned, unknown = schema.prune(obj, r.schema)
        return schema.apply_defaults(pruned, r.schema), unknown

    def validate(self, r: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None) -> list[dict[str, str]]:
        md = obj.get("metadata") or {}
        causes = list(schema.object_meta_causes(md, r.namespaced, generate_name_ok=old is None,
                                                name_check=_name_check(r)))
        body = {k: v for k, v in obj.items() if k != "metadata"}
        body["metadata"] = {}
        if r.from_crd and r.schema is not None:
            causes += schema.validate(body, _without_metadata(r.schema))
        elif r.kind != "CustomResourceDefinition":
            causes += schema.validate(body, BUILTIN_SCHEMAS.get(r.kind, GENERIC))
        return [{"field": c.field, "reason": c.type, "message": c.message} for c in causes]


def _path_segment(value: str) -> list[str]:
    """Names that only have to be usable in a URL path (RBAC objects, e.g. `system:basic-user`)."""
    if value in (".", ".."):
        return [f'may not be \'{value}\'']
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def _name_check(r: ResourceInfo) -> Callable[[str], list[str]]:
    if r.group == "rbac.authorization.k8s.io":
        return _path_segment
    if not r.group and r.plural in ("namespaces", "services"):
        return schema.dns1123_label
    return schema.dns1123_subdomain


def _without_metadata(s: dict[str, Any]) -> dict[str, Any]:
    props = dict(s.get("properties") or {})
    props.pop("metadata", None)
    out = dict(s)
    out["properties"] = props
    req = [x for x in s.get("required") or () if x != "metadata"]
    if req:
        out["required"] = req
    else:
        out.pop("required", None)
    return out
