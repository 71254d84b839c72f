"""Validation of `metadata` and of Kubernetes names, worded as apimachinery words it.

`object_meta_causes` turns the name checks of `virt_client.names` into `Cause`s at `metadata.*` as
ValidateObjectMeta does. Invariant: pure; never raises on JSON-like input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from virt_client.names import NameCheck, dns1123_label, dns1123_subdomain, label_value, qualified_name
from virt_local.apiserver.schema_causes import Cause, forbidden, invalid, required, too_long

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def _prefix_name(check: NameCheck) -> NameCheck:
    """generateName may end in '-' (kube masks the trailing dash before checking)."""

    def run(value: str) -> list[str]:
        return check(value[:-1] + "a" if value.endswith("-") else value)

    return run


def _str_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def object_meta_causes(
    meta: Mapping[str, Any],
    namespaced: bool,
    *,
    generate_name_ok: bool,
    name_check: NameCheck = dns1123_subdomain,
) -> list[Cause]:
    """Causes for `metadata` of an object being created or updated.

    `name_check` is `dns1123_subdomain` for most kinds, `dns1123_label` for namespaces and
    services. With `generate_name_ok` a missing name is fine when generateName is set (the
    server generates the name); otherwise the name itself is required.
    """
    out: list[Cause] = []
    name = meta.get("name")
    name = name if isinstance(name, str) else ""
    gen = meta.get("generateName")
    gen = gen if isinstance(gen, str) else ""
    if gen:
        out += [invalid("metadata.generateName", gen, m) for m in _prefix_name(name_check)(gen)]
    if not name:
        if not (generate_name_ok and gen):
            out.append(required("metadata.name", "name or generateName is required"))
    else:
        out += [invalid("metadata.name", name, m) for m in name_check(name)]
    ns = meta.get("namespace")
    ns = ns if isinstance(ns, str) else ""
    if namespaced:
        if not ns:
            out.append(required("metadata.namespace"))
        else:
            out += [invalid("metadata.namespace", ns, m) for m in dns1123_label(ns)]
    elif ns:
        out.append(forbidden("metadata.namespace", "not allowed on this type"))
    for k, v in _str_map(meta.get("labels")).items():
        out += [invalid("metadata.labels", k, m) for m in qualified_name(str(k))]
        if not isinstance(v, str):
            out.append(invalid("metadata.labels", v, "label values must be strings"))
        else:
            out += [invalid("metadata.labels", v, m) for m in label_value(v)]
    annotations = _str_map(meta.get("annotations"))
    total = 0
    for k, v in annotations.items():
        out += [invalid("metadata.annotations", k, m) for m in qualified_name(str(k).lower())]
        total += len(str(k).encode()) + len(str(v).encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        out.append(too_long("metadata.annotations", f"must have at most {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"))
    return out
