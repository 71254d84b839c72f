"""Kubernetes resource quantities, as apimachinery's `resource.Quantity` reads and prints them.

`Quantity.parse` accepts exactly what `resource.ParseQuantity` accepts (`500m`, `2`, `1Gi`, `1e3`,
`1.5`, the decimal suffixes `n u m k M G T P E`, the binary suffixes `Ki Mi Gi Ti Pi Ei`, a sign) and
refuses the rest with upstream's error texts. JSON numbers (int, float) are read as their decimal text.

Invariants: the value is exact: a whole number of nano units (upstream rounds up, away from zero,
to 1n on parsing), kept as an `int`, with `value` giving it as a `Fraction`; equality, ordering and hashing look at the value only, never at the
format; `str()` is upstream's canonical form (a binary-suffixed input prints with a binary suffix when
it is a whole multiple of 1024, otherwise decimal; decimal input keeps a decimal suffix; `e` input
keeps an exponent). Only `re`, `math` and `enum` are imported (`fractions` only when `value` is
read): virt-launcher uses this module and keeps its import set, and so its RSS, small.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fractions import Fraction

FORMAT_ERROR = ("quantities must match the regular expression "
                "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
SUFFIX_ERROR = "unable to parse quantity's suffix"
NUMERIC_ERROR = "unable to parse numeric part of quantity"

# Above this decimal exponent a quantity is refused instead of computed: 10**MAX_EXPONENT is already
# far beyond any resource, and exact arithmetic on larger powers would cost unbounded memory.
MAX_EXPONENT = 1000

_NANOS_PER_UNIT = 10**9
_SHAPE = re.compile(r"([+-]?)([0-9]*(?:\.[0-9]*)?)([eEinumkKMGTP]*)([-+]?[0-9]*)")
_DECIMAL_SUFFIXES: dict[str, int] = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9,
                                     "T": 12, "P": 15, "E": 18}
_EXPONENT_TO_DECIMAL_SUFFIX = {exp: suffix for suffix, exp in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIXES: dict[str, int] = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_POWER_TO_BINARY_SUFFIX = {power: suffix for suffix, power in _BINARY_SUFFIXES.items()}


class QuantityError(ValueError):
    """Text (or a JSON value) that is not a Kubernetes quantity; the message is upstream's."""


class QuantityFormat(StrEnum):
    """How a quantity was written, which decides how it prints (upstream's `resource.Format`)."""

    DECIMAL_SI = "DecimalSI"
    BINARY_SI = "BinarySI"
    DECIMAL_EXPONENT = "DecimalExponent"


class _Rational(Protocol):
    """An int or a Fraction (both have these), without importing `fractions`."""

    @property
    def numerator(self) -> int: ...

    @property
    def denominator(self) -> int: ...


def _divide_away(numerator: int, denominator: int) -> int:
    """numerator / denominator (denominator > 0) rounded up away from zero."""
    q, r = divmod(abs(numerator), denominator)
    q += 1 if r else 0
    return q if numerator >= 0 else -q


class Quantity:
    """An exact quantity plus the format it prints in. Immutable."""

    __slots__ = ("_nanos", "_format")

    def __init__(self, value: int | Fraction, format: QuantityFormat = QuantityFormat.DECIMAL_SI) -> None:
        r: _Rational = value
        self._nanos = _divide_away(r.numerator * _NANOS_PER_UNIT, r.denominator)
        self._format = format

    @classmethod
    def _of(cls, numerator: int, denominator: int, format: QuantityFormat) -> Quantity:
        q = cls.__new__(cls)
        q._nanos = _divide_away(numerator * _NANOS_PER_UNIT, denominator)
        q._format = format
        return q

    # --- construction --------------------------------------------------------------------

    @classmethod
    def parse(cls, value: object) -> Quantity:
        """A quantity from a manifest value: a string, or an int/float as JSON gives them."""
        if isinstance(value, Quantity):
            return value
        if isinstance(value, bool):
            raise QuantityError(FORMAT_ERROR)
        if isinstance(value, int):
            return cls(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise QuantityError(FORMAT_ERROR)
            return cls._parse_text(repr(value), QuantityFormat.DECIMAL_SI)
        if not isinstance(value, str):
            raise QuantityError(FORMAT_ERROR)
        return cls._parse_text(value.strip())

    @classmethod
    def _parse_text(cls, text: str, format: QuantityFormat | None = None) -> Quantity:
        m = _SHAPE.fullmatch(text)
        if not text or m is None:
            raise QuantityError(FORMAT_ERROR)
        sign, number, letters, exponent_digits = m.groups()
        if not any(ch.isdigit() for ch in number):
            raise QuantityError(FORMAT_ERROR if not number else NUMERIC_ERROR)
        if exponent_digits and not letters:
            # A sign or digits straight after the number with no suffix letter (`1-2`).
            raise QuantityError(FORMAT_ERROR)
        suffix = letters + exponent_digits
        whole, _, fraction = number.partition(".")
        numerator = int(whole + fraction or "0") * (-1 if sign == "-" else 1)
        denominator = 10 ** len(fraction)
        if suffix in _DECIMAL_SUFFIXES:
            exponent = _DECIMAL_SUFFIXES[suffix]
            numerator, denominator = ((numerator * 10**exponent, denominator) if exponent >= 0
                                      else (numerator, denominator * 10**-exponent))
            return cls._of(numerator, denominator, format or QuantityFormat.DECIMAL_SI)
        if suffix in _BINARY_SUFFIXES:
            return cls._of(numerator * 2 ** _BINARY_SUFFIXES[suffix], denominator, QuantityFormat.BINARY_SI)
        if len(suffix) > 1 and suffix[0] in "eE" and re.fullmatch(r"[-+]?[0-9]+", suffix[1:]):
            exponent = int(suffix[1:])
            if exponent > MAX_EXPONENT:
                raise QuantityError(f"quantity exponent {exponent} is too large (at most {MAX_EXPONENT})")
            if exponent < -MAX_EXPONENT:
                # Far below a nano unit: upstream rounds any non-zero value up to 1n.
                exponent = -MAX_EXPONENT
            numerator, denominator = ((numerator * 10**exponent, denominator) if exponent >= 0
                                      else (numerator, denominator * 10**-exponent))
            return cls._of(numerator, denominator, format or QuantityFormat.DECIMAL_EXPONENT)
        raise QuantityError(SUFFIX_ERROR)

    @classmethod
    def from_bytes(cls, n: int) -> Quantity:
        """A memory size in bytes, printed with a binary suffix where exact (`1Gi`, `512Mi`)."""
        return cls(n, QuantityFormat.BINARY_SI)

    @classmethod
    def from_millis(cls, m: int) -> Quantity:
        """A CPU amount in millicores, printed decimal (`500m`, `2`)."""
        return cls._of(m, 1000, QuantityFormat.DECIMAL_SI)

    # --- reading -------------------------------------------------------------------------

    @property
    def value(self) -> Fraction:
        """The exact value."""
        from fractions import Fraction

        return Fraction(self._nanos, _NANOS_PER_UNIT)

    @property
    def format(self) -> QuantityFormat:
        return self._format

    def to_bytes(self) -> int:
        """The value in whole units, rounded up away from zero (upstream's `Value()`)."""
        return _divide_away(self._nanos, _NANOS_PER_UNIT)

    def to_millis(self) -> int:
        """The value in thousandths, rounded up away from zero (upstream's `MilliValue()`)."""
        return _divide_away(self._nanos, _NANOS_PER_UNIT // 1000)

    # --- comparison and arithmetic (exact) -----------------------------------------------

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self._nanos == other._nanos
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._nanos)

    def __lt__(self, other: Quantity) -> bool:
        return self._nanos < other._nanos

    def __le__(self, other: Quantity) -> bool:
        return self._nanos <= other._nanos

    def __gt__(self, other: Quantity) -> bool:
        return self._nanos > other._nanos

    def __ge__(self, other: Quantity) -> bool:
        return self._nanos >= other._nanos

    def _with(self, nanos: int) -> Quantity:
        q = Quantity.__new__(Quantity)
        q._nanos = nanos
        q._format = self._format
        return q

    def __add__(self, other: Quantity) -> Quantity:
        return self._with(self._nanos + other._nanos)

    def __sub__(self, other: Quantity) -> Quantity:
        return self._with(self._nanos - other._nanos)

    def __neg__(self) -> Quantity:
        return self._with(-self._nanos)

    def __mul__(self, factor: int) -> Quantity:
        return self._with(self._nanos * factor)

    __rmul__ = __mul__

    def __bool__(self) -> bool:
        return self._nanos != 0

    # --- printing ------------------------------------------------------------------------

    def __str__(self) -> str:
        """Upstream's canonical string (`CanonicalizeBytes`)."""
        nanos = self._nanos
        if nanos == 0:
            return "0"
        units, rest = divmod(nanos, _NANOS_PER_UNIT)
        if self._format is QuantityFormat.BINARY_SI and abs(nanos) >= 1024 * _NANOS_PER_UNIT and not rest:
            number, power = units, 0
            while number % 1024 == 0 and power < 60:
                number //= 1024
                power += 10
            return f"{number}{_POWER_TO_BINARY_SUFFIX.get(power, '')}"
        number_int, exponent = self._decimal_mantissa()
        if self._format is QuantityFormat.DECIMAL_EXPONENT:
            return f"{number_int}e{exponent}" if exponent else str(number_int)
        suffix = _EXPONENT_TO_DECIMAL_SUFFIX.get(exponent)
        if suffix is None:
            # Above `E`: no SI suffix is left, so the exponent is written out.
            return f"{number_int}e{exponent}"
        return f"{number_int}{suffix}"

    def _decimal_mantissa(self) -> tuple[int, int]:
        """(m, e) with value == m * 10**e, e a multiple of 3 and as large as keeps m whole."""
        scaled = self._nanos
        exponent = -9
        while scaled % 1000 == 0:
            scaled //= 1000
            exponent += 3
        return scaled, exponent

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"
