"""Kubernetes resource quantities, as apimachinery's `resource.Quantity` reads and prints them.

`Quantity.parse` accepts exactly what `resource.ParseQuantity` accepts (`500m`, `2`, `1Gi`, `1e3`,
`1.5`, the decimal suffixes `n u m k M G T P E`, the binary suffixes `Ki Mi Gi Ti Pi Ei`, a sign) and
refuses the rest with upstream's error texts. JSON numbers (int, float) are read as their decimal text.

Invariants: the value is an exact `Fraction`, rounded up (away from zero) to a whole nano unit as
upstream does on parsing; equality, ordering and hashing look at the value only, never at the
format; `str()` is upstream's canonical form (a binary-suffixed input prints with a binary suffix when
it is a whole multiple of 1024, otherwise decimal; decimal input keeps a decimal suffix; `e` input
keeps an exponent). Only `re`, `math`, `fractions` and `enum` are imported: virt-launcher uses this
module and keeps its import set small.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from fractions import Fraction

FORMAT_ERROR = ("quantities must match the regular expression "
                "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
SUFFIX_ERROR = "unable to parse quantity's suffix"
NUMERIC_ERROR = "unable to parse numeric part of quantity"

# Above this decimal exponent a quantity is refused instead of computed: 10**MAX_EXPONENT is already
# far beyond any resource, and exact arithmetic on larger powers would cost unbounded memory.
MAX_EXPONENT = 1000

_NANO = Fraction(1, 10**9)
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


def _round_up_to_nano(value: Fraction) -> Fraction:
    """Away from zero to a whole number of nano units, as ParseQuantity rounds."""
    scaled = value / _NANO
    if scaled.denominator == 1:
        return value
    whole = math.ceil(scaled) if scaled > 0 else math.floor(scaled)
    return whole * _NANO


def _round_away(value: Fraction) -> int:
    return math.ceil(value) if value >= 0 else math.floor(value)


class Quantity:
    """An exact quantity plus the format it prints in. Immutable."""

    __slots__ = ("_value", "_format")

    def __init__(self, value: int | Fraction, format: QuantityFormat = QuantityFormat.DECIMAL_SI) -> None:
        self._value = _round_up_to_nano(Fraction(value))
        self._format = format

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
            return cls(Fraction(repr(value)))
        if not isinstance(value, str):
            raise QuantityError(FORMAT_ERROR)
        return cls._parse_text(value.strip())

    @classmethod
    def _parse_text(cls, text: str) -> Quantity:
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
        mantissa = Fraction(number if not number.endswith(".") else number + "0")
        if sign == "-":
            mantissa = -mantissa
        if suffix in _DECIMAL_SUFFIXES:
            return cls(mantissa * Fraction(10) ** _DECIMAL_SUFFIXES[suffix], QuantityFormat.DECIMAL_SI)
        if suffix in _BINARY_SUFFIXES:
            return cls(mantissa * 2 ** _BINARY_SUFFIXES[suffix], QuantityFormat.BINARY_SI)
        if len(suffix) > 1 and suffix[0] in "eE" and re.fullmatch(r"[-+]?[0-9]+", suffix[1:]):
            exponent = int(suffix[1:])
            if exponent > MAX_EXPONENT:
                raise QuantityError(f"quantity exponent {exponent} is too large (at most {MAX_EXPONENT})")
            if exponent < -MAX_EXPONENT:
                # Far below a nano unit: upstream rounds any non-zero value up to 1n.
                exponent = -MAX_EXPONENT
            return cls(mantissa * Fraction(10) ** exponent, QuantityFormat.DECIMAL_EXPONENT)
        raise QuantityError(SUFFIX_ERROR)

    @classmethod
    def from_bytes(cls, n: int) -> Quantity:
        """A memory size in bytes, printed with a binary suffix where exact (`1Gi`, `512Mi`)."""
        return cls(n, QuantityFormat.BINARY_SI)

    @classmethod
    def from_millis(cls, m: int) -> Quantity:
        """A CPU amount in millicores, printed decimal (`500m`, `2`)."""
        return cls(Fraction(m, 1000), QuantityFormat.DECIMAL_SI)

    # --- reading -------------------------------------------------------------------------

    @property
    def value(self) -> Fraction:
        return self._value

    @property
    def format(self) -> QuantityFormat:
        return self._format

    def to_bytes(self) -> int:
        """The value in whole units, rounded up away from zero (upstream's `Value()`)."""
        return _round_away(self._value)

    def to_millis(self) -> int:
        """The value in thousandths, rounded up away from zero (upstream's `MilliValue()`)."""
        return _round_away(self._value * 1000)

    # --- comparison and arithmetic (exact) -----------------------------------------------

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __lt__(self, other: Quantity) -> bool:
        return self._value < other._value

    def __le__(self, other: Quantity) -> bool:
        return self._value <= other._value

    def __gt__(self, other: Quantity) -> bool:
        return self._value > other._value

    def __ge__(self, other: Quantity) -> bool:
        return self._value >= other._value

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self._value + other._value, self._format)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self._value - other._value, self._format)

    def __neg__(self) -> Quantity:
        return Quantity(-self._value, self._format)

    def __mul__(self, factor: int) -> Quantity:
        return Quantity(self._value * factor, self._format)

    __rmul__ = __mul__

    def __bool__(self) -> bool:
        return self._value != 0

    # --- printing ------------------------------------------------------------------------

    def __str__(self) -> str:
        """Upstream's canonical string (`CanonicalizeBytes`)."""
        value = self._value
        if value == 0:
            return "0"
        if self._format is QuantityFormat.BINARY_SI and abs(value) >= 1024 and value.denominator == 1:
            number, power = int(value), 0
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
        scaled = int(self._value / _NANO)  # whole: the value is rounded to nano units
        exponent = -9
        while scaled % 1000 == 0:
            scaled //= 1000
            exponent += 3
        return scaled, exponent

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"
