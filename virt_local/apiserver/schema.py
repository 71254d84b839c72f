"""Structural CRD schemas applied to custom resources: pruning, defaulting, validation.

This is the front door the API server core uses; it mirrors what kube-apiextensions-apiserver
does to a custom resource on create/update, in this order: `prune` (drop fields the schema
does not know, reporting them for `fieldValidation=Strict|Warn`), `apply_defaults`, `validate`.
`check_structural` and `validate_crd` judge a CustomResourceDefinition itself, and
`object_meta_causes` judges `metadata` of any object.

Invariants: every function is pure (inputs are never mutated; results are fresh copies) and
total over JSON-like input (dict/list/str/int/float/bool/None): malformed objects or schemas
produce causes or are passed through, never exceptions. Schemas are CRD `openAPIV3Schema`
dicts as stored in the CRD (camelCase keys, `x-kubernetes-*` extensions).
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from virt_client.names import dns1123_label, dns1123_subdomain
from virt_local.apiserver.meta_validation import object_meta_causes
from virt_local.apiserver.schema_causes import Cause, CauseType, child, index
from virt_local.apiserver.schema_crd import validate_crd
from virt_local.apiserver.schema_structural import check_structural
from virt_local.apiserver.schema_validate import validate

__all__ = [
    "Cause",
    "CauseType",
    "apply_defaults",
    "check_structural",
    "dns1123_label",
    "dns1123_subdomain",
    "object_meta_causes",
    "prune",
    "validate",
    "validate_crd",
]

_RESOURCE_FIELDS = ("apiVersion", "kind", "metadata")


def _json_copy(value: Any) -> Any:
    """A deep copy of JSON data (much faster than copy.deepcopy for API objects)."""
    if isinstance(value, (dict, list)):
        try:
            return orjson.loads(orjson.dumps(value))
        except TypeError:  # e.g. integers beyond 64 bits, which JSON bodies cannot carry
            return copy.deepcopy(value)
    return value


def _as_schema(schema: Any) -> dict[str, Any]:
    return schema if isinstance(schema, dict) else {}


def prune(obj: dict[str, Any], schema: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Return a copy of `obj` without fields unknown to `schema`, and the dropped paths.

    Paths read like kube's strict-decoding errors: `spec.foo`, `spec.disks[0].bar`,
    `spec.someMap.key.baz`. apiVersion, kind and metadata are kept at the root and in
    `x-kubernetes-embedded-resource` objects; metadata is never pruned here.
    """
    dropped: list[str] = []
    pruned = _prune(obj, _as_schema(schema), "", dropped, resource_root=True)
    return (pruned if isinstance(pruned, dict) else {}), dropped


def _prune(value: Any, schema: dict[str, Any], path: str, dropped: list[str], *, resource_root: bool) -> Any:
    if isinstance(value, list):
        items = _as_schema(schema.get("items"))
        return [_prune(v, items, index(path, i), dropped, resource_root=False) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return _json_copy(value)
    embedded = resource_root or schema.get("x-kubernetes-embedded-resource") is True
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    props = schema.get("properties")
    props = props if isinstance(props, dict) else {}
    additional = schema.get("additionalProperties")
    out: dict[str, Any] = {}
    for k, v in value.items():
        sub = child(path, str(k))
        if embedded and k in _RESOURCE_FIELDS and (k == "metadata" or k not in props):
            out[k] = _json_copy(v)
        elif k in props:
            out[k] = _prune(v, _as_schema(props[k]), sub, dropped, resource_root=False)
        elif isinstance(additional, dict):
            out[k] = _prune(v, additional, sub, dropped, resource_root=False)
        elif preserve or additional is True:
            out[k] = _json_copy(v)
        else:
            dropped.append(sub)
    return out


def apply_defaults(obj: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of `obj` with schema `default`s filled in, as apiextensions defaults.

    A property's default is applied when the property is absent (or null while not nullable),
    also inside array items and additionalProperties values; defaults of nested properties are
    applied only where their parent object exists (possibly because the parent was defaulted).
    """
    out: dict[str, Any] = _json_copy(obj)
    _default(out, _as_schema(schema))
    return out


def _null_to_default(value: Any, schema: dict[str, Any]) -> bool:
    return value is None and "default" in schema and schema.get("nullable") is not True


def _default(value: Any, schema: dict[str, Any]) -> None:
    if isinstance(value, dict):
        props = schema.get("properties")
        props = props if isinstance(props, dict) else {}
        for k, prop in props.items():
            prop = _as_schema(prop)
            if "default" in prop and (k not in value or _null_to_default(value[k], prop)):
                value[k] = _json_copy(prop["default"])
        additional = schema.get("additionalProperties")
        for k in list(value):
            if k in props:
                _default(value[k], _as_schema(props[k]))
            elif isinstance(additional, dict):
                if _null_to_default(value[k], additional):
                    value[k] = _json_copy(additional["default"])
                _default(value[k], additional)
    elif isinstance(value, list):
        items = _as_schema(schema.get("items"))
        for i, item in enumerate(value):
            if _null_to_default(item, items):
                value[i] = _json_copy(items["default"])
            _default(value[i], items)


def strict_errors(dropped: list[str]) -> list[str]:
    """Messages for `fieldValidation=Strict|Warn`: `unknown field "spec.foo"` per dropped path."""
    return [f'unknown field "{p}"' for p in dropped]
