"""Structural OpenAPI v3 schemas derived from the API models, for CRD validation.

:func:`structural_schema` walks a model's declared fields (not pydantic's JSON schema) and
emits the dialect Kubernetes accepts for CustomResourceDefinitions:

- every node has a ``type``, except int-or-string nodes (``x-kubernetes-int-or-string``) and
  free-form nodes, which carry ``x-kubernetes-preserve-unknown-fields`` next to ``type: object``;
- no ``$ref``, no ``anyOf``/``oneOf``; optional fields are simply not ``required``;
- ``required`` lists the wire names of the fields a model declares without a default;
- StrEnum fields become ``enum`` lists; :class:`~virt_client.api.fields.SchemaHint` adds
  ``format``/``pattern``/``nullable``/bounds;
- nested ``ObjectMeta`` (templates) is a nullable free-form object, as upstream; the root
  ``metadata`` is a bare ``type: object`` (the API server owns its schema).

Pure: the same models always give the same schema.
"""

from __future__ import annotations

import enum
import types
import typing
from typing import Any, Union

from pydantic.fields import FieldInfo

from virt_client.api.fields import SchemaHint
from virt_client.api.meta import KubeModel, ObjectMeta

Schema = dict[str, Any]


class SchemaError(TypeError):
    """A model field has a type the structural-schema dialect cannot express."""


def _wire_name(name: str, info: FieldInfo) -> str:
    return info.alias or name


def _apply_hints(schema: Schema, hints: list[SchemaHint]) -> Schema:
    for hint in hints:
        if hint.int_or_string:
            schema.pop("type", None)
            schema["x-kubernetes-int-or-string"] = True
        if hint.format is not None:
            schema["format"] = hint.format
        if hint.pattern is not None:
            schema["pattern"] = hint.pattern
        if hint.nullable:
            schema["nullable"] = True
        if hint.preserve_unknown:
            schema.pop("additionalProperties", None)
            schema["type"] = "object"
            schema["x-kubernetes-preserve-unknown-fields"] = True
        if hint.minimum is not None:
            schema["minimum"] = hint.minimum
        if hint.maximum is not None:
            schema["maximum"] = hint.maximum
        if hint.enum is not None:
            schema["enum"] = list(hint.enum)
    return schema


def _type_schema(tp: Any, hints: list[SchemaHint], where: str) -> Schema:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(tp)
        return _type_schema(inner, hints + [m for m in meta if isinstance(m, SchemaHint)], where)
    if origin is Union or origin is types.UnionType:
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(members) == 1:
            return _type_schema(members[0], hints, where)
        if set(members) == {int, str} and any(h.int_or_string for h in hints):
            return _apply_hints({}, hints)
        raise SchemaError(f"{where}: union {tp!r} has no structural form; use IntOrString/Quantity")
    if origin is list:
        (item,) = typing.get_args(tp)
        return _apply_hints({"type": "array", "items": _type_schema(item, [], where + "[]")}, hints)
    if origin is dict:
        key, value = typing.get_args(tp)
        if key is not str:
            raise SchemaError(f"{where}: map keys must be strings")
        if value is Any:
            return _apply_hints({"type": "object", "x-kubernetes-preserve-unknown-fields": True}, hints)
        return _apply_hints(
            {"type": "object", "additionalProperties": _type_schema(value, [], where + ".*")}, hints
        )
    if isinstance(tp, type):
        if issubclass(tp, ObjectMeta):
            return {"type": "object", "nullable": True, "x-kubernetes-preserve-unknown-fields": True}
        if issubclass(tp, KubeModel):
            return _apply_hints(model_schema(tp, where), hints)
        if issubclass(tp, enum.Enum):
            return _apply_hints({"type": "string", "enum": [str(m.value) for m in tp]}, hints)
        if tp is bool:
            return _apply_hints({"type": "boolean"}, hints)
        if tp is int:
            return _apply_hints({"type": "integer"}, hints)
        if tp is float:
            return _apply_hints({"type": "number"}, hints)
        if tp is str:
            return _apply_hints({"type": "string"}, hints)
    if tp is Any:
        return _apply_hints({"type": "object", "x-kubernetes-preserve-unknown-fields": True}, hints)
    raise SchemaError(f"{where}: unsupported field type {tp!r}")


def model_schema(model: type[KubeModel], where: str = "") -> Schema:
    """The structural schema of one model (object node with its properties)."""
    properties: Schema = {}
    required: list[str] = []
    for name, info in model.model_fields.items():
        wire = _wire_name(name, info)
        hints = [m for m in info.metadata if isinstance(m, SchemaHint)]
        properties[wire] = _type_schema(info.annotation, hints, f"{where}.{wire}" if where else wire)
        if info.is_required():
            required.append(wire)
    schema: Schema = {"type": "object"}
    if properties:
        schema["properties"] = properties
    if required:
        schema["required"] = required
    if model.schema_preserve_unknown:
        schema["x-kubernetes-preserve-unknown-fields"] = True
    return schema


def structural_schema(kind_model: type[KubeModel]) -> Schema:
    """The ``openAPIV3Schema`` of a top-level kind: root ``metadata`` is a bare object."""
    schema = model_schema(kind_model, kind_model.__name__)
    properties = schema.get("properties", {})
    if "metadata" in properties:
        properties["metadata"] = {"type": "object"}
    return schema
