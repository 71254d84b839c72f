"""Pruning, defaulting and validation of custom resources against structural schemas."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from virt_local.apiserver.schema import (
    Cause,
    apply_defaults,
    check_structural,
    prune,
    strict_errors,
    validate,
)

VM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["runStrategy"],
            "properties": {
                "runStrategy": {"type": "string", "enum": ["Always", "Halted"]},
                "replicas": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 10},
                "memory": {
                    "x-kubernetes-int-or-string": True,
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                },
                "hostname": {"type": "string", "maxLength": 5, "minLength": 2, "pattern": "^[a-z]+$"},
                "created": {"type": "string", "format": "date-time"},
                "nick": {"type": "string", "nullable": True},
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "maxItems": 2,
                    "x-kubernetes-list-type": "set",
                },
                "disks": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "bus": {"type": "string", "default": "virtio"},
                        },
                    },
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 2},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {"spec": {"type": "object"}},
                },
                "ratio": {"type": "number", "exclusiveMinimum": True, "minimum": 0, "multipleOf": 0.5},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean", "default": False}}},
    },
}


def vm(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": "a"},
        "spec": {"runStrategy": "Always", **spec},
    }


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, []),
        (
            {"runStrategy": "Foo"},
            [
                Cause(
                    "FieldValueNotSupported",
                    "spec.runStrategy",
                    'Unsupported value: "Foo": supported values: "Always", "Halted"',
                )
            ],
        ),
        (
            {"replicas": "string"},
            [
                Cause(
                    "FieldValueTypeInvalid",
                    "spec.replicas",
                    'Invalid value: "string": spec.replicas in body must be of type integer: "string"',
                )
            ],
        ),
        ({"replicas": 3.0}, []),
        (
            {"replicas": 11},
            [
                Cause(
                    "FieldValueInvalid",
                    "spec.replicas",
                    "Invalid value: 11: spec.replicas in body should be less than or equal to 10",
                )
            ],
        ),
        (
            {"replicas": -1},
            [
                Cause(
                    "FieldValueInvalid",
                    "spec.replicas",
                    "Invalid value: -1: spec.replicas in body should be greater than or equal to 0",
                )
            ],
        ),
        ({"memory": "1Gi"}, []),
        ({"memory": 5}, []),
        (
            {"memory": True},
            [
                Cause(
                    "FieldValueTypeInvalid",
                    "spec.memory",
                    'Invalid value: "boolean": spec.memory in body must be of type integer,string: "boolean"',
                )
            ],
        ),
        (
            {"hostname": "abcdefg"},
            [Cause("FieldValueTooLong", "spec.hostname", "Too long: may not be longer than 5")],
        ),
        (
            {"hostname": "a"},
            [
                Cause(
                    "FieldValueInvalid",
                    "spec.hostname",
                    'Invalid value: "a": spec.hostname in body should be at least 2 chars long',
                )
            ],
        ),
        (
            {"hostname": "AB"},
            [
                Cause(
                    "FieldValueInvalid",
                    "spec.hostname",
                    "Invalid value: \"AB\": spec.hostname in body should match '^[a-z]+$'",
                )
            ],
        ),
        ({"created": "2024-01-02T03:04:05Z"}, []),
        (
            {"created": "yesterday"},
            [
                Cause(
                    "FieldValueTypeInvalid",
                    "spec.created",
                    'Invalid value: "yesterday": spec.created in body must be of type date-time: "yesterday"',
                )
            ],
        ),
        ({"nick": None}, []),
        (
            {"hostname": None},
            [
                Cause(
                    "FieldValueTypeInvalid",
                    "spec.hostname",
                    'Invalid value: "null": spec.hostname in body must be of type string: "null"',
                )
            ],
        ),
        (
            {"tags": ["a", "b", "c"]},
            [Cause("FieldValueTooMany", "spec.tags", "Too many: 3: must have at most 2 items")],
        ),
        ({"tags": ["a", "a"]}, [Cause("FieldValueDuplicate", "spec.tags[1]", 'Duplicate value: "a"')]),
        (
            {"disks": [{"name": "a"}, {"name": "a"}]},
            [
                Cause(
                    "FieldValueDuplicate",
                    "spec.disks[1]",
                    'Duplicate value: map[string]interface {}{"name":"a"}',
                )
            ],
        ),
        ({"disks": [{"bus": "sata"}]}, [Cause("FieldValueRequired", "spec.disks[0].name", "Required value")]),
        (
            {"labels": {"a": 1}},
            [
                Cause(
                    "FieldValueTypeInvalid",
                    "spec.labels.a",
                    'Invalid value: "integer": spec.labels.a in body must be of type string: "integer"',
                )
            ],
        ),
        (
            {"labels": {"a": "1", "b": "2", "c": "3"}},
            [Cause("FieldValueTooMany", "spec.labels", "Too many: 3: must have at most 2 items")],
        ),
        (
            {"template": {"spec": {}}},
            [
                Cause("FieldValueRequired", "spec.template.apiVersion", "Required value: must not be empty"),
                Cause("FieldValueRequired", "spec.template.kind", "Required value: must not be empty"),
            ],
        ),
        (
            {"ratio": 0},
            [
                Cause(
                    "FieldValueInvalid",
                    "spec.ratio",
                    "Invalid value: 0: spec.ratio in body should be greater than 0",
                )
            ],
        ),
        (
            {"ratio": 0.7},
            [
                Cause(
                    "FieldValueInvalid",
                    "spec.ratio",
                    "Invalid value: 0.7: spec.ratio in body should be a multiple of 0.5",
                )
            ],
        ),
        (
            {"replicas": 2**31},
            [
                Cause(
                    "FieldValueInvalid",
                    "spec.replicas",
                    'Invalid value: 2147483648: spec.replicas in body must be of type int32: "2147483648"',
                ),
                Cause(
                    "FieldValueInvalid",
                    "spec.replicas",
                    "Invalid value: 2147483648: spec.replicas in body should be less than or equal to 10",
                ),
            ],
        ),
    ],
    ids=lambda v: str(v)[:40] if isinstance(v, dict) else "",
)
def test_validate(spec: dict[str, Any], expected: list[Cause]) -> None:
    assert validate(vm(**spec), VM_SCHEMA) == expected


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param({"spec": {}}, ["spec.runStrategy: Required value"], id="required"),
        pytest.param(
            {"spec": "x"},
            ['spec: Invalid value: "string": spec in body must be of type object: "string"'],
            id="type-object",
        ),
        pytest.param(
            [], ['Invalid value: "array": <root> in body must be of type object: "array"'], id="root-type"
        ),
    ],
)
def test_validate_messages(obj: Any, expected: list[str]) -> None:
    assert [str(c) for c in validate(obj, VM_SCHEMA)] == expected


@pytest.mark.parametrize(
    ("schema", "value", "count"),
    [
        pytest.param({"allOf": [{"minLength": 2}, {"maxLength": 3}]}, "abcd", 2, id="allof"),
        pytest.param({"anyOf": [{"minLength": 5}, {"pattern": "^x"}]}, "abc", 2, id="anyof-none"),
        pytest.param({"anyOf": [{"minLength": 5}, {"pattern": "^a"}]}, "abc", 0, id="anyof-one"),
        pytest.param({"oneOf": [{"minLength": 1}, {"pattern": "^a"}]}, "abc", 1, id="oneof-two"),
        pytest.param({"not": {"pattern": "^a"}}, "abc", 1, id="not"),
        pytest.param({"minProperties": 1}, {}, 1, id="min-properties"),
        pytest.param({"minItems": 1}, [], 1, id="min-items"),
        pytest.param({"uniqueItems": True}, [1, 1.0], 1, id="unique"),
        pytest.param({"enum": [1, "a"]}, True, 1, id="bool-not-int"),
    ],
)
def test_value_validations(schema: dict[str, Any], value: Any, count: int) -> None:
    assert len(validate(value, schema)) == count


def test_prune_reports_unknown_fields_and_keeps_known() -> None:
    obj = vm(foo=1, disks=[{"name": "a", "zzz": 1}], labels={"k": "v"}, extra={"any": {"thing": 1}})
    obj["metadata"] = {"name": "a", "whatever": 1}
    obj["bogus"] = True
    obj["spec"]["template"] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"x": 1}, "spec": {}, "junk": 1}
    pruned, dropped = prune(obj, VM_SCHEMA)
    assert dropped == ["spec.foo", "spec.disks[0].zzz", "spec.template.junk", "bogus"]
    assert pruned["metadata"] == {"name": "a", "whatever": 1}
    assert pruned["spec"]["extra"] == {"any": {"thing": 1}}
    assert pruned["spec"]["template"] == {"apiVersion": "v1", "kind": "Pod", "metadata": {"x": 1}, "spec": {}}
    assert "foo" in obj["spec"], "input must not be mutated"
    assert strict_errors(dropped)[0] == 'unknown field "spec.foo"'


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(vm(disks=[{"name": "a"}]), {"name": "a", "bus": "virtio"}, id="in-array-items"),
        pytest.param(
            vm(disks=[{"name": "a", "bus": "sata"}]), {"name": "a", "bus": "sata"}, id="not-overwritten"
        ),
    ],
)
def test_defaults_in_items(obj: dict[str, Any], expected: dict[str, Any]) -> None:
    assert apply_defaults(obj, VM_SCHEMA)["spec"]["disks"][0] == expected


def test_defaults_only_where_parent_exists_and_object_defaults_create() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "a": {"type": "object", "properties": {"x": {"type": "integer", "default": 1}}},
                    "b": {
                        "type": "object",
                        "default": {},
                        "properties": {"y": {"type": "integer", "default": 2}},
                    },
                    "m": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "properties": {"z": {"type": "string", "default": "q"}},
                        },
                    },
                },
            }
        },
    }
    assert apply_defaults({}, schema) == {}
    assert apply_defaults({"spec": {"m": {"k": {}}}}, schema) == {
        "spec": {"b": {"y": 2}, "m": {"k": {"z": "q"}}}
    }
    assert apply_defaults({"spec": {"a": {}}}, schema)["spec"]["a"] == {"x": 1}
    assert apply_defaults(vm(), VM_SCHEMA).get("status") is None


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        pytest.param(VM_SCHEMA, [], id="vm-is-structural"),
        pytest.param(
            {"type": "object", "properties": {"spec": {"properties": {}}}},
            [
                "openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields"
            ],
            id="missing-type",
        ),
        pytest.param(
            {"type": "array", "items": {"type": "string"}},
            ['openAPIV3Schema.type: Invalid value: "array": must be object at the root'],
            id="root-not-object",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"$ref": "#/x", "type": "string"}}},
            ["openAPIV3Schema.properties[a].$ref: Forbidden: $ref is not supported"],
            id="ref",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {
                    "a": {
                        "type": "object",
                        "properties": {"b": {"type": "string"}},
                        "additionalProperties": {"type": "string"},
                    }
                },
            },
            [
                "openAPIV3Schema.properties[a].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"
            ],
            id="props-and-additional",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"type": "string", "anyOf": [{"type": "string"}]}}},
            ["openAPIV3Schema.properties[a].anyOf[0].type: Forbidden: must be empty to be structural"],
            id="type-in-anyof",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"type": "array"}}},
            ["openAPIV3Schema.properties[a].items: Required value: must be specified"],
            id="array-without-items",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"type": "array", "items": {}}}},
            [
                "openAPIV3Schema.properties[a].items.type: Required value: must not be empty for specified array items"
            ],
            id="untyped-items",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"type": "string", "allOf": [{"properties": {"b": {}}}]}}},
            [
                "openAPIV3Schema.properties[a].allOf[0].properties[b]: Forbidden: must not be specified without a corresponding property in the structural schema"
            ],
            id="allof-new-property",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {"a": {"type": "string", "x-kubernetes-preserve-unknown-fields": False}},
            },
            [
                "openAPIV3Schema.properties[a].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined"
            ],
            id="preserve-false",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {
                    "a": {"type": "array", "items": {"type": "object"}, "x-kubernetes-list-type": "map"}
                },
            },
            [
                "openAPIV3Schema.properties[a].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map"
            ],
            id="map-without-keys",
        ),
    ],
)
def test_check_structural(schema: dict[str, Any], expected: list[str]) -> None:
    assert check_structural(schema) == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["spec", "status", "a", "disks", "tags", "labels", "name", "runStrategy", "metadata"]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_validate_and_prune_never_raise_and_prune_is_idempotent(value: Any) -> None:
    obj = value if isinstance(value, dict) else {"spec": value}
    before = copy.deepcopy(obj)
    validate(obj, VM_SCHEMA)
    validate(
        obj, {"type": "object", "properties": {"spec": {"anyOf": [{"minLength": 1}], "not": {"enum": [1]}}}}
    )
    once, _ = prune(obj, VM_SCHEMA)
    twice, dropped = prune(once, VM_SCHEMA)
    assert twice == once and dropped == []
    apply_defaults(obj, VM_SCHEMA)
    assert obj == before


@settings(max_examples=100, deadline=None)
@given(json_values, json_values)
def test_schema_functions_survive_garbage_schemas(value: Any, schema: Any) -> None:
    as_schema = schema if isinstance(schema, dict) else {"type": schema}
    validate(value, as_schema)
    prune(value if isinstance(value, dict) else {}, as_schema)
    apply_defaults(value if isinstance(value, dict) else {}, as_schema)
    check_structural(as_schema)
