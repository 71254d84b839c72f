"""Kubernetes resource quantities: parse `1Gi`, `512M`, `100m`, `2` and format them back.

Pure. Parsing is exact (Decimal); memory results are whole bytes rounded up, CPU results are
whole millicores rounded up, as the API server canonicalises them.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

MI = 1024 * 1024
_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}
_RE = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


class InvalidQuantity(ValueError):
    """A string that is not a Kubernetes quantity."""


def parse_quantity(value: int | str) -> Decimal:
    """The exact value of a quantity."""
    if isinstance(value, int):
        return Decimal(value)
    m = _RE.match(value.strip())
    if not m or m.group(2) not in _SUFFIXES:
        raise InvalidQuantity(f"{value!r} is not a quantity (like 128Mi, 1Gi or 500m)")
    try:
        return Decimal(m.group(1)) * _SUFFIXES[m.group(2)]
    except InvalidOperation as e:
        raise InvalidQuantity(f"{value!r} is not a quantity") from e


def to_bytes(value: int | str) -> int:
    """A memory quantity in whole bytes (rounded up)."""
    return math.ceil(parse_quantity(value))


def to_millis(value: int | str) -> int:
    """A CPU quantity in millicores (rounded up)."""
    return math.ceil(parse_quantity(value) * 1000)


def format_bytes(n: int) -> str:
    """`Mi` when the value is a whole number of MiB, plain bytes otherwise."""
    if n % MI == 0:
        return f"{n // MI}Mi"
    return str(n)


def format_millis(m: int) -> str:
    """Whole cores without a suffix, millicores with `m`."""
    return str(m // 1000) if m % 1000 == 0 else f"{m}m"
