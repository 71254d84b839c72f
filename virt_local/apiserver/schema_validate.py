"""Validation of a custom resource against its structural CRD schema.

Follows k8s.io/kube-openapi pkg/validation (the go-openapi fork kube-apiextensions-apiserver
uses) and apiextensions' mapping of its results to field errors: type mismatches become
`FieldValueTypeInvalid` (`Invalid value: "string": spec.x in body must be of type integer:
"string"`), missing required properties `FieldValueRequired`, enum misses
`FieldValueNotSupported`, maxLength `FieldValueTooLong`, maxItems/maxProperties
`FieldValueTooMany`, list-type set/map duplicates `FieldValueDuplicate`, everything else
`FieldValueInvalid` with kube-openapi's sentence (`spec.x in body should match '^a'`).

Invariants: pure, never raises on JSON-like input; a value of the wrong type gets one type
cause and no further checks below it. Formats are checked only for strings, and only the
formats apiextensions keeps (unknown formats are ignored, as kube strips them).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Callable
from datetime import date
from typing import Any

from virt_client.api.quantity import Quantity, QuantityError
from virt_client.api.times import parse_rfc3339
from virt_local.apiserver.schema_causes import (
    Cause,
    child,
    duplicate,
    go_number,
    index,
    invalid,
    not_supported,
    required,
    too_long,
    too_many,
    type_invalid,
)

Schema = dict[str, Any]


def validate(obj: Any, schema: Schema) -> list[Cause]:
    """All causes for `obj` (usually a whole custom resource) against `schema`."""
    causes: list[Cause] = []
    _node(obj, schema if isinstance(schema, dict) else {}, "", causes)
    return causes


def json_type(value: Any) -> str:
    """The OpenAPI type name of a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(value: Any, want: str) -> bool:
    got = json_type(value)
    if got == want:
        return True
    if want == "number":
        return got == "integer"
    if want == "integer":
        return got == "number" and float(value).is_integer()
    return False


def _canonical(value: Any) -> str:
    """JSON text that makes equal JSON values equal strings (1 == 1.0, True != 1)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dict):
        return (
            "{" + ",".join(json.dumps(str(k)) + ":" + _canonical(v) for k, v in sorted(value.items())) + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    return json.dumps(value)


def _name(path: str) -> str:
    return path or "<root>"


def _node(value: Any, schema: Schema, path: str, out: list[Cause]) -> None:
    name = _name(path)
    if value is None:
        if schema.get("nullable") is True:
            return
        want = schema.get("type")
        if isinstance(want, str) and want:
            out.append(type_invalid(path, "null", f'{name} in body must be of type {want}: "null"'))
        elif schema.get("x-kubernetes-int-or-string") is True:
            out.append(type_invalid(path, "null", f'{name} in body must be of type integer,string: "null"'))
        return
    want = schema.get("type")
    if isinstance(want, str) and want:
        if not _type_ok(value, want):
            got = json_type(value)
            out.append(type_invalid(path, got, f'{name} in body must be of type {want}: "{got}"'))
            return
    elif schema.get("x-kubernetes-int-or-string") is True and json_type(value) not in ("integer", "string"):
        got = json_type(value)
        out.append(type_invalid(path, got, f'{name} in body must be of type integer,string: "{got}"'))
        return
    _enum(value, schema, path, out)
    if isinstance(value, str):
        _string(value, schema, path, out)
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int | float):
        _number(value, schema, path, out)
    elif isinstance(value, list):
        _array(value, schema, path, out)
    elif isinstance(value, dict):
        _object(value, schema, path, out)
    _composition(value, schema, path, out)


def _enum(value: Any, schema: Schema, path: str, out: list[Cause]) -> None:
    enum = schema.get("enum")
    if not isinstance(enum, list) or not enum:
        return
    if _canonical(value) in {_canonical(e) for e in enum}:
        return
    supported = [e if isinstance(e, str) else json.dumps(e) for e in enum]
    out.append(not_supported(path, value, supported))


def _string(value: str, schema: Schema, path: str, out: list[Cause]) -> None:
    name = _name(path)
    max_len = schema.get("maxLength")
    if isinstance(max_len, int) and len(value) > max_len:
        out.append(too_long(path, f"may not be longer than {max_len}"))
    min_len = schema.get("minLength")
    if isinstance(min_len, int) and len(value) < min_len:
        out.append(invalid(path, value, f"{name} in body should be at least {min_len} chars long"))
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            matched = re.search(pattern, value) is not None
        except re.error:
            matched = True  # kube refuses such a CRD; nothing sensible to check here
        if not matched:
            out.append(invalid(path, value, f"{name} in body should match '{pattern}'"))
    fmt = schema.get("format")
    if isinstance(fmt, str):
        check = _FORMATS.get(fmt.replace("-", ""))
        if check is not None and not check(value):
            out.append(type_invalid(path, value, f'{name} in body must be of type {fmt}: "{value}"'))


def _number(value: float | int, schema: Schema, path: str, out: list[Cause]) -> None:
    name = _name(path)
    fmt = schema.get("format")
    if fmt == "int32" and not -(2**31) <= value < 2**31 or fmt == "int64" and not -(2**63) <= value < 2**63:
        out.append(invalid(path, value, f'{name} in body must be of type {fmt}: "{go_number(value)}"'))
    minimum = schema.get("minimum")
    if isinstance(minimum, int | float) and not isinstance(minimum, bool):
        if schema.get("exclusiveMinimum") is True and value <= minimum:
            out.append(invalid(path, value, f"{name} in body should be greater than {go_number(minimum)}"))
        elif value < minimum:
            out.append(
                invalid(
                    path, value, f"{name} in body should be greater than or equal to {go_number(minimum)}"
                )
            )
    maximum = schema.get("maximum")
    if isinstance(maximum, int | float) and not isinstance(maximum, bool):
        if schema.get("exclusiveMaximum") is True and value >= maximum:
            out.append(invalid(path, value, f"{name} in body should be less than {go_number(maximum)}"))
        elif value > maximum:
            out.append(
                invalid(path, value, f"{name} in body should be less than or equal to {go_number(maximum)}")
            )
    multiple = schema.get("multipleOf")
    if isinstance(multiple, int | float) and not isinstance(multiple, bool) and multiple > 0:
        try:
            exact = float(value / multiple).is_integer()
        except (OverflowError, ValueError):
            exact = True  # beyond float precision: nothing meaningful to report
        if not exact:
            out.append(invalid(path, value, f"{name} in body should be a multiple of {go_number(multiple)}"))


def _array(value: list[Any], schema: Schema, path: str, out: list[Cause]) -> None:
    name = _name(path)
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            _node(item, items, index(path, i), out)
    min_items = schema.get("minItems")
    if isinstance(min_items, int) and len(value) < min_items:
        out.append(invalid(path, len(value), f"{name} in body should have at least {min_items} items"))
    max_items = schema.get("maxItems")
    if isinstance(max_items, int) and len(value) > max_items:
        out.append(too_many(path, len(value), max_items))
    if schema.get("uniqueItems") is True and len({_canonical(v) for v in value}) != len(value):
        out.append(invalid(path, "", f"{name} in body shouldn't contain duplicates"))
    _list_type(value, schema, path, out)


def _list_type(value: list[Any], schema: Schema, path: str, out: list[Cause]) -> None:
    list_type = schema.get("x-kubernetes-list-type")
    seen: set[str] = set()
    if list_type == "set":
        for i, item in enumerate(value):
            text = _canonical(item)
            if text in seen:
                out.append(duplicate(index(path, i), item))
            seen.add(text)
    elif list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys")
        keys = [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            key_value = {k: item[k] for k in keys if k in item}
            text = _canonical(key_value)
            if text in seen:
                out.append(duplicate(index(path, i), key_value))
            seen.add(text)


def _object(value: dict[str, Any], schema: Schema, path: str, out: list[Cause]) -> None:
    name = _name(path)
    req = schema.get("required")
    if isinstance(req, list):
        for k in req:
            if isinstance(k, str) and k not in value:
                out.append(required(child(path, k)))
    if schema.get("x-kubernetes-embedded-resource") is True:
        for k in ("apiVersion", "kind"):
            if not value.get(k):
                out.append(required(child(path, k), "must not be empty"))
    props = schema.get("properties")
    props = props if isinstance(props, dict) else {}
    additional = schema.get("additionalProperties")
    for k, v in value.items():
        sub = props.get(k)
        if isinstance(sub, dict):
            _node(v, sub, child(path, str(k)), out)
        elif isinstance(additional, dict):
            _node(v, additional, child(path, str(k)), out)
        elif additional is False:
            out.append(invalid(path, k, f"{name}.{k} in body is a forbidden property"))
    min_props = schema.get("minProperties")
    if isinstance(min_props, int) and len(value) < min_props:
        out.append(invalid(path, len(value), f"{name} in body should have at least {min_props} properties"))
    max_props = schema.get("maxProperties")
    if isinstance(max_props, int) and len(value) > max_props:
        out.append(too_many(path, len(value), max_props))


def _sub_causes(value: Any, schema: Any, path: str) -> list[Cause]:
    found: list[Cause] = []
    if isinstance(schema, dict):
        _node(value, schema, path, found)
    return found


def _composition(value: Any, schema: Schema, path: str, out: list[Cause]) -> None:
    name = _name(path)
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and all_of:
        failed = [c for sub in all_of for c in _sub_causes(value, sub, path)]
        if failed:
            out.append(invalid(path, "", f"{name} in body must validate all the schemas (allOf)"))
            out.extend(failed)
    any_of = schema.get("anyOf")
    if isinstance(any_of, list) and any_of:
        results = [_sub_causes(value, sub, path) for sub in any_of]
        if all(results):
            out.append(invalid(path, "", f"{name} in body must validate at least one schema (anyOf)"))
            out.extend(results[0])
    one_of = schema.get("oneOf")
    if isinstance(one_of, list) and one_of:
        results = [_sub_causes(value, sub, path) for sub in one_of]
        if sum(1 for r in results if not r) != 1:
            out.append(invalid(path, "", f"{name} in body must validate one and only one schema (oneOf)"))
            if all(results):
                out.extend(results[0])
    not_schema = schema.get("not")
    if isinstance(not_schema, dict) and not _sub_causes(value, not_schema, path):
        out.append(invalid(path, "", f"{name} in body must not validate the schema (not)"))


def _date_time(text: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", text):
        return False
    try:
        parse_rfc3339(text[:10] + "T" + text[11:])  # strfmt also accepts a space between date and time
    except ValueError:
        return False
    return True


def _date(text: str) -> bool:
    try:
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text)) and date.fromisoformat(text) is not None
    except ValueError:
        return False


def _byte(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _ip(version: int) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        try:
            return ipaddress.ip_address(text).version == version
        except ValueError:
            return False

    return check


def _cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return "/" in text


def _is_quantity(text: str) -> bool:
    try:
        Quantity.parse(text)
    except QuantityError:
        return False
    return text == text.strip()


def _regex(pattern: str, flags: int = 0) -> Callable[[str], bool]:
    compiled = re.compile(pattern, flags)
    return lambda text: compiled.fullmatch(text) is not None


_UUID = r"[0-9a-f]{8}-?[0-9a-f]{4}-?%s[0-9a-f]{3}-?%s[0-9a-f]{3}-?[0-9a-f]{12}"
_FORMATS: dict[str, Callable[[str], bool]] = {
    "datetime": _date_time,
    "date": _date,
    "byte": _byte,
    "ipv4": _ip(4),
    "ipv6": _ip(6),
    "cidr": _cidr,
    "uuid": _regex(_UUID % ("[0-9a-f]", "[0-9a-f]"), re.I),
    "uuid3": _regex(_UUID % ("3", "[0-9a-f]"), re.I),
    "uuid4": _regex(_UUID % ("4", "[89ab]"), re.I),
    "uuid5": _regex(_UUID % ("5", "[89ab]"), re.I),
    "mac": _regex(r"([0-9a-f]{2}[:-]){5}[0-9a-f]{2}|([0-9a-f]{4}\.){2}[0-9a-f]{4}", re.I),
    "hostname": _regex(
        r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*\.?", re.I
    ),
    "email": _regex(r"[^@\s]+@[^@\s]+"),
    "hexcolor": _regex(r"#?([0-9a-f]{3}|[0-9a-f]{6})", re.I),
    "duration": _regex(r"(\d+(\.\d+)?\s*(ns|us|µs|ms|s|m|h|d|w)\s*)+"),
    "quantity": _is_quantity,
}
