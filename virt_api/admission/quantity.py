"""Kubernetes resource quantities (`500m`, `2`, `1Gi`, `1e3`) as exact fractions, for the webhooks.

Pure. `parse_quantity` raises ValueError on text that is not a quantity, with a message the
validators put in front of the field name.
"""

from __future__ import annotations

import re
from fractions import Fraction

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
            "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
            "P": Fraction(10**15), "E": Fraction(10**18)}
_RE = re.compile(r"^([+-]?[0-9]+(?:\.[0-9]*)?|[+-]?\.[0-9]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$")


def parse_quantity(value: object) -> Fraction:
    """The value of a quantity (int/float accepted as plain numbers)."""
    if isinstance(value, bool):
        raise ValueError(f"quantities must match the regular expression, got {value!r}")
    if isinstance(value, int | float):
        return Fraction(value)
    text = str(value).strip()
    m = _RE.match(text)
    if not m:
        raise ValueError(f"quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$', "
                         f"got {text!r}")
    number = Fraction(m.group(1))
    if m.group(2):
        exp = int(m.group(2)[1:])
        if abs(exp) > 30:
            raise ValueError(f"quantity exponent out of range: {text!r}")
        return number * Fraction(10) ** exp
    suffix = m.group(3) or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    return number * _DECIMAL[suffix]
