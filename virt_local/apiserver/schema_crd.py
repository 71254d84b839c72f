"""What kube-apiserver checks when an apiextensions.k8s.io/v1 CustomResourceDefinition is created.

Covers the checks that matter for a single-machine server: name == `<plural>.<group>`, the
names block, scope, versions (at least one, unique names, exactly one storage version, every
version carries a structural `openAPIV3Schema`), printer columns and scale subresource paths.
Causes use kube's field paths (`spec.versions[0].schema.openAPIV3Schema.properties[spec].type`).
Invariant: pure; never raises on JSON-like input.
"""

from __future__ import annotations

import re
from typing import Any

from virt_client.names import dns1035_label, dns1123_subdomain
from virt_local.apiserver.schema_causes import Cause, duplicate, index, invalid, not_supported, required
from virt_local.apiserver.schema_structural import structural_causes

_KIND_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
COLUMN_TYPES = ["boolean", "date", "integer", "number", "string"]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def validate_crd(crd: dict[str, Any]) -> list[Cause]:
    """All causes that make kube-apiserver answer 422 to this CRD (empty list: acceptable)."""
    spec = _dict(crd.get("spec"))
    names = _dict(spec.get("names"))
    group = _str(spec.get("group"))
    plural = _str(names.get("plural"))
    out: list[Cause] = []
    name = _str(_dict(crd.get("metadata")).get("name"))
    if name != f"{plural}.{group}":
        out.append(invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not group:
        out.append(required("spec.group"))
    else:
        out += [invalid("spec.group", group, m) for m in dns1123_subdomain(group)]
        if "." not in group:
            out.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    out += _names(names)
    scope = _str(spec.get("scope"))
    if not scope:
        out.append(required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        out.append(not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    out += _versions(spec.get("versions"))
    return out


def _names(names: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    for field in ("plural", "singular"):
        value = _str(names.get(field))
        if not value:
            if field == "plural":
                out.append(required("spec.names.plural"))
            continue
        out += [invalid(f"spec.names.{field}", value, m) for m in dns1035_label(value)]
    for field in ("kind", "listKind"):
        value = _str(names.get(field))
        if not value:
            if field == "kind":
                out.append(required("spec.names.kind"))
            continue
        if not re.fullmatch(_KIND_FMT, value.lower()):
            out.append(
                invalid(
                    f"spec.names.{field}",
                    value,
                    f"may have mixed case, but should otherwise match: {_KIND_FMT}",
                )
            )
    kind = _str(names.get("kind"))
    if kind and kind == _str(names.get("listKind")):
        out.append(invalid("spec.names.listKind", kind, "kind and listKind may not be the same"))
    for i, short in enumerate(names.get("shortNames") or []):
        text = _str(short)
        out += [invalid(index("spec.names.shortNames", i), short, m) for m in dns1035_label(text)]
    return out


def _versions(raw: Any) -> list[Cause]:
    versions = raw if isinstance(raw, list) else []
    if not versions:
        return [required("spec.versions", "must have exactly one version marked as storage version")]
    out: list[Cause] = []
    seen: set[str] = set()
    storage = 0
    for i, version in enumerate(versions):
        path = index("spec.versions", i)
        version = _dict(version)
        vname = _str(version.get("name"))
        if not vname:
            out.append(required(f"{path}.name"))
        else:
            out += [invalid(f"{path}.name", vname, m) for m in dns1035_label(vname)]
            if vname in seen:
                out.append(duplicate(f"{path}.name", vname))
            seen.add(vname)
        storage += 1 if version.get("storage") is True else 0
        schema = _dict(version.get("schema")).get("openAPIV3Schema")
        if version.get("served") is True and schema is None:
            out.append(required(f"{path}.schema.openAPIV3Schema", "schemas are required"))
        elif schema is not None:
            out += structural_causes(schema, f"{path}.schema.openAPIV3Schema")
        out += _columns(version.get("additionalPrinterColumns"), f"{path}.additionalPrinterColumns")
        out += _scale(_dict(_dict(version.get("subresources")).get("scale")), f"{path}.subresources.scale")
    if storage != 1:
        out.append(
            invalid(
                "spec.versions",
                [_dict(v).get("name") for v in versions],
                "must have exactly one version marked as storage version",
            )
        )
    return out


def _columns(raw: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    for i, column in enumerate(raw if isinstance(raw, list) else []):
        column = _dict(column)
        col_path = index(path, i)
        if not _str(column.get("name")):
            out.append(required(f"{col_path}.name"))
        col_type = _str(column.get("type"))
        if not col_type:
            out.append(required(f"{col_path}.type"))
        elif col_type not in COLUMN_TYPES:
            out.append(not_supported(f"{col_path}.type", col_type, COLUMN_TYPES))
        json_path = _str(column.get("jsonPath"))
        if not json_path:
            out.append(required(f"{col_path}.jsonPath"))
    return out


def _scale(scale: dict[str, Any], path: str) -> list[Cause]:
    if not scale:
        return []
    out: list[Cause] = []
    spec_path = _str(scale.get("specReplicasPath"))
    if not spec_path:
        out.append(required(f"{path}.specReplicasPath"))
    elif not spec_path.startswith(".spec."):
        out.append(invalid(f"{path}.specReplicasPath", spec_path, "should be a json path under .spec"))
    status_path = _str(scale.get("statusReplicasPath"))
    if not status_path:
        out.append(required(f"{path}.statusReplicasPath"))
    elif not status_path.startswith(".status."):
        out.append(invalid(f"{path}.statusReplicasPath", status_path, "should be a json path under .status"))
    selector = scale.get("labelSelectorPath")
    if isinstance(selector, str) and selector and not selector.startswith((".spec.", ".status.")):
        out.append(
            invalid(
                f"{path}.labelSelectorPath", selector, "should be a json path under either .spec or .status"
            )
        )
    return out
