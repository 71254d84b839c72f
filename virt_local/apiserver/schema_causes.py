"""Field-level validation causes, worded as Kubernetes words them.

A `Cause` is one entry of a `Status.details.causes` list: `type` is the metav1.CauseType wire name,
`field` the dotted field path (`spec.disks[0].name`), `message` the error body as
k8s.io/apimachinery `field.Error.ErrorBody()` renders it (`Required value`,
`Invalid value: "x": detail`, `Unsupported value: "Foo": supported values: "A", "B"`).
The builders here are the only place that knows this wording; the validators call them.
Invariant: builders are pure and never raise, whatever JSON-like value they are given.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class CauseType(StrEnum):
    REQUIRED = "FieldValueRequired"
    NOT_SUPPORTED = "FieldValueNotSupported"
    INVALID = "FieldValueInvalid"
    TYPE_INVALID = "FieldValueTypeInvalid"
    DUPLICATE = "FieldValueDuplicate"
    TOO_LONG = "FieldValueTooLong"
    TOO_MANY = "FieldValueTooMany"
    FORBIDDEN = "FieldValueForbidden"


@dataclass(frozen=True)
class Cause:
    """One field error; `str(cause)` is the `field: message` form used in Status messages."""

    type: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def child(path: str, key: str) -> str:
    """`field.Path.Child`: join with a dot (the root path is empty)."""
    return f"{path}.{key}" if path else key


def index(path: str, i: int) -> str:
    """`field.Path.Index`."""
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    """`field.Path.Key` (used for map keys such as `properties[spec]`)."""
    return f"{path}[{k}]"


def go_number(value: float | int) -> str:
    """Format a number as Go's `%v` formats a float64 decoded from JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value) or math.isinf(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exp = text.split("e")
        sign = "-" if exp.startswith("-") else "+"
        digits = exp.lstrip("+-").rjust(2, "0")
        text = f"{mantissa}e{sign}{digits}"
    return text


def go_quote(text: str) -> str:
    """Go's `%q` for printable text (close enough for error messages)."""
    return json.dumps(text, ensure_ascii=False)


def go_repr(value: Any) -> str:
    """Go's `%#v` of a value decoded into `interface{}` (maps print with sorted keys)."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bool | int | float):
        return go_number(value)
    if isinstance(value, dict):
        inner = ", ".join(
            f"{go_quote(str(k))}:{go_repr(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
        )
        return "map[string]interface {}{" + inner + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(go_repr(v) for v in value) + "}"
    return go_quote(str(value))


def bad_value(value: Any) -> str:
    """The value part of `ErrorBody()` (strings quoted, numbers and booleans plain)."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bool | int | float):
        return go_number(value)
    return go_repr(value)


def _with_detail(head: str, detail: str) -> str:
    return f"{head}: {detail}" if detail else head


def required(field: str, detail: str = "") -> Cause:
    return Cause(CauseType.REQUIRED, field, _with_detail("Required value", detail))


def forbidden(field: str, detail: str) -> Cause:
    return Cause(CauseType.FORBIDDEN, field, _with_detail("Forbidden", detail))


def invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause(CauseType.INVALID, field, _with_detail(f"Invalid value: {bad_value(value)}", detail))


def type_invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause(CauseType.TYPE_INVALID, field, _with_detail(f"Invalid value: {bad_value(value)}", detail))


def not_supported(field: str, value: Any, supported: list[str]) -> Cause:
    detail = "supported values: " + ", ".join(go_quote(s) for s in supported) if supported else ""
    return Cause(
        CauseType.NOT_SUPPORTED, field, _with_detail(f"Unsupported value: {bad_value(value)}", detail)
    )


def duplicate(field: str, value: Any) -> Cause:
    return Cause(CauseType.DUPLICATE, field, f"Duplicate value: {bad_value(value)}")


def too_long(field: str, detail: str) -> Cause:
    """`Too long` never echoes the value (it may be huge)."""
    return Cause(CauseType.TOO_LONG, field, _with_detail("Too long", detail))


def too_many(field: str, actual: int, maximum: int) -> Cause:
    noun = "item" if maximum == 1 else "items"
    return Cause(CauseType.TOO_MANY, field, f"Too many: {actual}: must have at most {maximum} {noun}")
