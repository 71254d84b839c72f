"""Kubernetes resource quantities (`500m`, `1Gi`, `2`, `1e3`) as exact numbers.

`parse_quantity` returns a `Fraction` so sums of requests never lose precision; `milli` and `whole`
round the way the scheduler does (CPU in millicores rounded up, everything else in units rounded up).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_SUFFIXES: dict[str, Fraction] = {
    "": Fraction(1),
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18),
    "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30), "Ti": Fraction(2**40),
    "Pi": Fraction(2**50), "Ei": Fraction(2**60),
}
_RE = re.compile(r"^([+-]?[0-9.]+)(?:([eE][+-]?[0-9]+)|(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei))?$")


class QuantityError(ValueError):
    pass


def parse_quantity(value: str | int | float) -> Fraction:
    """The exact value of a quantity; raises `QuantityError` for malformed input."""
    if isinstance(value, int | float):
        return Fraction(value)
    m = _RE.match(str(value).strip())
    if not m or m.group(1) in (".", "+", "-", ""):
        raise QuantityError(f"quantities must match the regular expression "
                            f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {value!r}")
    number = Fraction(m.group(1))
    if m.group(2):
        return number * Fraction(10) ** int(m.group(2)[1:])
    return number * _SUFFIXES[m.group(3) or ""]


def milli(value: str | int | float) -> int:
    """A quantity in thousandths, rounded up (CPU in millicores)."""
    return math.ceil(parse_quantity(value) * 1000)


def whole(value: str | int | float) -> int:
    """A quantity in units, rounded up (bytes, pods, devices)."""
    return math.ceil(parse_quantity(value))


def format_bytes(n: int) -> str:
    """Bytes as the largest exact binary suffix (`1Gi`, `512Mi`), else a plain integer."""
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = int(_SUFFIXES[suffix])
        if n and n % unit == 0:
            return f"{n // unit}{suffix}"
    return str(n)
