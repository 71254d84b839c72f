"""Is a CRD `openAPIV3Schema` structural? (apiextensions.k8s.io/v1 refuses it otherwise.)

A structural schema (KEP 1002) has a skeleton of `type`d nodes reached through `properties`,
`items` and `additionalProperties`; `allOf`/`anyOf`/`oneOf`/`not` carry value validations only
and may not introduce types, defaults or fields the skeleton lacks. v1 also forbids `$ref`,
`uniqueItems: true` and `additionalProperties: false`. Violations are reported as `Cause`s with
kube-style paths under the given prefix (`...openAPIV3Schema.properties[spec].type`).
Invariant: pure; never raises on JSON-like input.
"""

from __future__ import annotations

from typing import Any

from virt_local.apiserver.schema_causes import Cause, forbidden, index, invalid, key, not_supported, required

TYPES = ["array", "boolean", "integer", "number", "object", "string"]
_COMPOSITIONS = ("allOf", "anyOf", "oneOf")
_SKELETON_ONLY = (
    "type",
    "default",
    "nullable",
    "additionalProperties",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
)


def check_structural(schema: dict[str, Any]) -> list[str]:
    """Violations as `field: message` lines (paths relative to `openAPIV3Schema`)."""
    return [str(c) for c in structural_causes(schema, "openAPIV3Schema")]


def structural_causes(schema: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(schema, dict):
        return [required(path, "must be an object")]
    root_type = schema.get("type")
    if root_type is None or root_type == "":
        out.append(required(f"{path}.type", "must not be empty at the root"))
    elif root_type != "object":
        out.append(invalid(f"{path}.type", root_type, "must be object at the root"))
    _root_metadata(schema, path, out)
    _skeleton(schema, path, out, needs_type=False)
    return out


def _root_metadata(schema: dict[str, Any], path: str, out: list[Cause]) -> None:
    props = schema.get("properties")
    meta = props.get("metadata") if isinstance(props, dict) else None
    if not isinstance(meta, dict):
        return
    meta_path = f"{key(f'{path}.properties', 'metadata')}"
    allowed = {"type", "description", "properties"}
    meta_props = meta.get("properties")
    extra = [k for k in meta if k not in allowed]
    bad_props = (
        [k for k in meta_props if k not in ("name", "generateName")] if isinstance(meta_props, dict) else []
    )
    if extra or bad_props:
        out.append(
            forbidden(
                meta_path,
                "must not specify anything other than name and generateName, but metadata is implicitly specified",
            )
        )


def _skeleton(node: dict[str, Any], path: str, out: list[Cause], *, needs_type: bool, what: str = "") -> None:
    if "$ref" in node:
        out.append(forbidden(f"{path}.$ref", "$ref is not supported"))
    node_type = node.get("type")
    int_or_string = node.get("x-kubernetes-int-or-string") is True
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if node_type not in (None, "") and node_type not in TYPES:
        out.append(not_supported(f"{path}.type", node_type, TYPES))
    if needs_type and not node_type and not int_or_string and preserve is not True:
        out.append(required(f"{path}.type", f"must not be empty for specified {what}"))
    if int_or_string and node_type:
        out.append(invalid(f"{path}.type", node_type, "must be empty if x-kubernetes-int-or-string is true"))
    if preserve is not None and preserve is not True:
        out.append(
            invalid(f"{path}.x-kubernetes-preserve-unknown-fields", preserve, "must be true or undefined")
        )
    if node.get("x-kubernetes-embedded-resource") is True and node_type != "object":
        out.append(
            invalid(
                f"{path}.type", node_type or "", "must be object if x-kubernetes-embedded-resource is true"
            )
        )
    if node.get("uniqueItems") is True:
        out.append(
            forbidden(
                f"{path}.uniqueItems",
                "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            )
        )
    _list_type(node, path, out)
    props = node.get("properties")
    additional = node.get("additionalProperties")
    if isinstance(props, dict) and props and additional is not None:
        out.append(
            forbidden(
                f"{path}.additionalProperties", "additionalProperties and properties are mutual exclusive"
            )
        )
    if additional is False:
        out.append(forbidden(f"{path}.additionalProperties", "additionalProperties cannot be set to false"))
    if isinstance(props, dict):
        for k, sub in sorted(props.items()):
            sub_path = key(f"{path}.properties", str(k))
            if isinstance(sub, dict):
                _skeleton(sub, sub_path, out, needs_type=True, what="object fields")
            else:
                out.append(invalid(sub_path, sub, "must be a schema"))
    if isinstance(additional, dict):
        _skeleton(additional, f"{path}.additionalProperties", out, needs_type=True, what="object fields")
    items = node.get("items")
    if node_type == "array" and not isinstance(items, dict):
        out.append(required(f"{path}.items", "must be specified"))
    if isinstance(items, dict):
        _skeleton(items, f"{path}.items", out, needs_type=True, what="array items")
    elif items is not None:
        out.append(forbidden(f"{path}.items", "items must be a schema object and not an array"))
    for comp in _COMPOSITIONS:
        subs = node.get(comp)
        if isinstance(subs, list):
            for i, sub in enumerate(subs):
                _value_validation(sub, node, index(f"{path}.{comp}", i), out)
    if "not" in node:
        _value_validation(node["not"], node, f"{path}.not", out)


def _list_type(node: dict[str, Any], path: str, out: list[Cause]) -> None:
    list_type = node.get("x-kubernetes-list-type")
    map_keys = node.get("x-kubernetes-list-map-keys")
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        out.append(not_supported(f"{path}.x-kubernetes-list-type", list_type, ["atomic", "set", "map"]))
    if list_type == "map":
        if not isinstance(map_keys, list) or not map_keys:
            out.append(
                required(
                    f"{path}.x-kubernetes-list-map-keys", "must not be empty if x-kubernetes-list-type is map"
                )
            )
        items = node.get("items")
        if isinstance(items, dict) and items.get("type") != "object":
            out.append(
                invalid(
                    f"{path}.items.type",
                    items.get("type", ""),
                    "must be object if parent array's x-kubernetes-list-type is map",
                )
            )
    elif map_keys is not None:
        out.append(
            forbidden(
                f"{path}.x-kubernetes-list-map-keys", "can only be set if x-kubernetes-list-type is map"
            )
        )


def _value_validation(node: Any, skeleton: dict[str, Any], path: str, out: list[Cause]) -> None:
    """Inside allOf/anyOf/oneOf/not: only value validations, over fields the skeleton has."""
    if not isinstance(node, dict):
        out.append(invalid(path, node, "must be a schema"))
        return
    if "$ref" in node:
        out.append(forbidden(f"{path}.$ref", "$ref is not supported"))
    int_or_string = skeleton.get("x-kubernetes-int-or-string") is True
    for field in _SKELETON_ONLY:
        if field == "type" and int_or_string and node.get("type") in ("integer", "string"):
            continue  # the anyOf: [{type: integer}, {type: string}] idiom kube allows
        if field in node:
            out.append(forbidden(f"{path}.{field}", "must be empty to be structural"))
    props = node.get("properties")
    skel_props = skeleton.get("properties")
    skel_props = skel_props if isinstance(skel_props, dict) else {}
    skel_additional = skeleton.get("additionalProperties")
    if isinstance(props, dict):
        for k, sub in sorted(props.items()):
            sub_path = key(f"{path}.properties", str(k))
            target = skel_props.get(k, skel_additional if isinstance(skel_additional, dict) else None)
            if not isinstance(target, dict):
                out.append(
                    forbidden(
                        sub_path,
                        "must not be specified without a corresponding property in the structural schema",
                    )
                )
                continue
            _value_validation(sub, target, sub_path, out)
    items = node.get("items")
    if items is not None:
        skel_items = skeleton.get("items")
        if isinstance(skel_items, dict):
            _value_validation(items, skel_items, f"{path}.items", out)
        else:
            out.append(
                forbidden(f"{path}.items", "must not be specified without items in the structural schema")
            )
    for comp in _COMPOSITIONS:
        subs = node.get(comp)
        if isinstance(subs, list):
            for i, sub in enumerate(subs):
                _value_validation(sub, skeleton, index(f"{path}.{comp}", i), out)
    if "not" in node:
        _value_validation(node["not"], skeleton, f"{path}.not", out)
