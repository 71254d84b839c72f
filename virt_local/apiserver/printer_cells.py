"""Table cells for CRD `additionalPrinterColumns`, as kube-apiserver's table convertor fills them.

For each column the server evaluates the column's JSONPath and turns the first result into a cell
(k8s.io/apiextensions-apiserver pkg/registry/customresource/tableconvertor):
- no result → None;
- type `string` → the value printed as client-go's JSONPath printer does: strings as they are,
  numbers and booleans in Go's `%v` form, objects and lists as compact JSON, null as
  "<no value>";
- `integer` → an int (floats truncated); `number` → a float; `boolean` → a bool;
- `date` → an RFC 3339 timestamp in UTC, "<invalid>" for text that is not one (kubectl turns it
  into an age); anything of the wrong JSON type, or an unknown column type, → None.

Invariants: pure; never raises for any JSON value.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

from virt_client.api.times import parse_rfc3339, rfc3339

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def format_printer_value(values: list[Any], column_type: str) -> Any:
    """Return the Table cell for a column of `column_type` given the JSONPath results."""
    if not values:
        return None
    value = values[0]
    if column_type == "string":
        return "<no value>" if value is None else go_print(value)
    if value is None:
        return None
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if column_type == "integer" and is_number:
        return int(value) if math.isfinite(value) else None
    if column_type == "number" and is_number:
        return float(value)
    if column_type == "boolean" and isinstance(value, bool):
        return value
    if column_type == "date" and isinstance(value, str):
        return _date(value)
    return None


def _date(text: str) -> str | None:
    if text in ("", "null"):
        return None
    if not _RFC3339.fullmatch(text):
        return "<invalid>"
    try:
        moment = parse_rfc3339(text)
    except ValueError:
        return "<invalid>"
    return rfc3339(moment)


def _float_text(value: float, *, json_style: bool) -> str:
    """Shortest round-trip digits laid out as Go's strconv does for `%v` or for encoding/json."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    exact = Decimal(repr(abs(value))).normalize()
    digits = "".join(str(d) for d in exact.as_tuple().digits)
    exponent = len(digits) - 1 + int(exact.as_tuple().exponent)
    sign = "-" if value < 0 else ""
    scientific = (exponent < -6 or exponent >= 21) if json_style else (exponent < -4 or exponent >= 6)
    if not scientific:
        return sign + format(exact, "f")
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    width = 1 if json_style and exponent < 0 else 2
    return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):0{width}d}"


def go_float(value: float) -> str:
    """Format a float like Go's `fmt.Print` (`%v`: shortest `%g`, exponent from 1e+06 on)."""
    return _float_text(value, json_style=False)


def _go_json(value: Any) -> str:
    """Encode like Go's encoding/json: sorted keys, no spaces, HTML characters escaped."""
    if isinstance(value, dict):
        items = (f"{_go_json(str(k))}:{_go_json(v)}" for k, v in sorted(value.items()))
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_go_json(v) for v in value) + "]"
    if isinstance(value, float) and not isinstance(value, bool):
        return _float_text(value, json_style=True) if math.isfinite(value) else "null"
    text = json.dumps(value, ensure_ascii=False)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def go_print(value: Any) -> str:
    """Print one JSONPath result as client-go's JSONPath printer does."""
    if isinstance(value, dict | list):
        return _go_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)
