"""One quantity type: parsing, refusals, canonical strings (apimachinery's examples), rounding, arithmetic."""

from __future__ import annotations

from fractions import Fraction

import pytest

from virt_client.api.quantity import (
    FORMAT_ERROR,
    NUMERIC_ERROR,
    SUFFIX_ERROR,
    Quantity,
    QuantityError,
    QuantityFormat,
)


@pytest.mark.parametrize(("text", "value"), [
    pytest.param("500m", Fraction(1, 2), id="milli"),
    pytest.param("2", Fraction(2), id="plain"),
    pytest.param("1Gi", Fraction(2**30), id="Gi"),
    pytest.param("1e3", Fraction(1000), id="exponent"),
    pytest.param("1E3", Fraction(1000), id="exponent-upper"),
    pytest.param("1.5", Fraction(3, 2), id="decimal-point"),
    pytest.param(".5", Fraction(1, 2), id="leading-point"),
    pytest.param("1.", Fraction(1), id="trailing-point"),
    pytest.param("+1k", Fraction(1000), id="plus-sign"),
    pytest.param("-1Ki", Fraction(-1024), id="minus-sign"),
    pytest.param("3n", Fraction(3, 10**9), id="nano"),
    pytest.param("7u", Fraction(7, 10**6), id="micro"),
    pytest.param("1M", Fraction(10**6), id="mega"),
    pytest.param("1G", Fraction(10**9), id="giga"),
    pytest.param("1T", Fraction(10**12), id="tera"),
    pytest.param("1P", Fraction(10**15), id="peta"),
    pytest.param("1E", Fraction(10**18), id="exa"),
    pytest.param("1Ki", Fraction(2**10), id="Ki"),
    pytest.param("1Mi", Fraction(2**20), id="Mi"),
    pytest.param("1Ti", Fraction(2**40), id="Ti"),
    pytest.param("1Pi", Fraction(2**50), id="Pi"),
    pytest.param("1Ei", Fraction(2**60), id="Ei"),
    pytest.param("1e-3", Fraction(1, 1000), id="negative-exponent"),
    pytest.param("2e+2", Fraction(200), id="signed-exponent"),
    pytest.param("0.0000000001", Fraction(1, 10**9), id="below-nano-rounds-up"),
    pytest.param("-0.0000000001", Fraction(-1, 10**9), id="below-nano-rounds-away-from-zero"),
    pytest.param(" 1Gi ", Fraction(2**30), id="json-whitespace"),
])
def test_parse_value(text: str, value: Fraction) -> None:
    assert Quantity.parse(text).value == value


@pytest.mark.parametrize(("raw", "value"), [
    pytest.param(2, Fraction(2), id="int"),
    pytest.param(1073741824, Fraction(2**30), id="int-bytes"),
    pytest.param(0.1, Fraction(1, 10), id="float-as-decimal-text"),
    pytest.param(1.5, Fraction(3, 2), id="float"),
])
def test_parse_json_numbers(raw: object, value: Fraction) -> None:
    assert Quantity.parse(raw).value == value


@pytest.mark.parametrize(("raw", "message"), [
    pytest.param("", FORMAT_ERROR, id="empty"),
    pytest.param("abc", FORMAT_ERROR, id="letters"),
    pytest.param("1KiB", FORMAT_ERROR, id="unit-with-B"),
    pytest.param("1 Gi", FORMAT_ERROR, id="inner-space"),
    pytest.param("1.2.3", FORMAT_ERROR, id="two-points"),
    pytest.param("1-2", FORMAT_ERROR, id="sign-without-suffix"),
    pytest.param("Gi", FORMAT_ERROR, id="suffix-only"),
    pytest.param(".", NUMERIC_ERROR, id="point-only"),
    pytest.param("1K", SUFFIX_ERROR, id="upper-K"),
    pytest.param("1e", SUFFIX_ERROR, id="bare-e"),
    pytest.param("1Gii", SUFFIX_ERROR, id="doubled-suffix"),
    pytest.param("1ee3", SUFFIX_ERROR, id="doubled-e"),
    pytest.param(True, FORMAT_ERROR, id="bool"),
    pytest.param(None, FORMAT_ERROR, id="null"),
    pytest.param(float("inf"), FORMAT_ERROR, id="infinity"),
])
def test_parse_refuses(raw: object, message: str) -> None:
    with pytest.raises(QuantityError) as e:
        Quantity.parse(raw)
    assert str(e.value) == message


def test_format_error_is_upstream_text() -> None:
    assert FORMAT_ERROR == ("quantities must match the regular expression "
                            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def test_huge_exponent_is_refused_not_computed() -> None:
    with pytest.raises(QuantityError, match="too large"):
        Quantity.parse("1e1000000000")


def test_tiny_exponent_rounds_to_one_nano() -> None:
    assert Quantity.parse("1e-1000000000").value == Fraction(1, 10**9)


# apimachinery's canonical strings (quantity_test.go / the Quantity docs): binary stays binary when
# it is a whole multiple of 1024, decimal stays decimal, exponent input keeps an exponent.
@pytest.mark.parametrize(("text", "canonical"), [
    pytest.param("0", "0", id="zero"),
    pytest.param("0Ki", "0", id="zero-binary"),
    pytest.param("0e3", "0", id="zero-exponent"),
    pytest.param("1Ki", "1Ki", id="Ki"),
    pytest.param("1024Ki", "1Mi", id="Ki-to-Mi"),
    pytest.param("2048Mi", "2Gi", id="Mi-to-Gi"),
    pytest.param("1.5Gi", "1536Mi", id="fractional-Gi"),
    pytest.param("1.5Ki", "1536", id="binary-not-multiple-of-1024"),
    pytest.param("0.5Ki", "512", id="binary-below-1024"),
    pytest.param("0.001Ki", "1024m", id="binary-fraction"),
    pytest.param("-1Ki", "-1Ki", id="negative-binary"),
    pytest.param("1024", "1024", id="decimal-1024"),
    pytest.param("1000", "1k", id="decimal-k"),
    pytest.param("1500", "1500", id="decimal-not-multiple"),
    pytest.param("1000k", "1M", id="k-to-M"),
    pytest.param("1000m", "1", id="milli-to-one"),
    pytest.param("1500m", "1500m", id="milli"),
    pytest.param("0.5", "500m", id="half"),
    pytest.param("0.1", "100m", id="tenth"),
    pytest.param("100u", "100u", id="micro"),
    pytest.param("1n", "1n", id="nano"),
    pytest.param("0.0000000001", "1n", id="rounded-to-nano"),
    pytest.param("1e3", "1e3", id="exponent"),
    pytest.param("1e0", "1", id="exponent-zero"),
    pytest.param("1.5e3", "1500", id="exponent-not-multiple"),
    pytest.param("1e-9", "1e-9", id="exponent-nano"),
    pytest.param("1500e-3", "1500e-3", id="exponent-negative"),
    pytest.param("12E", "12E", id="exa"),
    pytest.param("1000E", "1e21", id="beyond-exa"),
    pytest.param("-5M", "-5M", id="negative-decimal"),
])
def test_canonical_string(text: str, canonical: str) -> None:
    assert str(Quantity.parse(text)) == canonical
    # The canonical form parses back to the same value.
    assert Quantity.parse(canonical) == Quantity.parse(text)


@pytest.mark.parametrize(("text", "fmt"), [
    pytest.param("1", QuantityFormat.DECIMAL_SI, id="plain"),
    pytest.param("1m", QuantityFormat.DECIMAL_SI, id="milli"),
    pytest.param("1Mi", QuantityFormat.BINARY_SI, id="binary"),
    pytest.param("1e3", QuantityFormat.DECIMAL_EXPONENT, id="exponent"),
])
def test_format_follows_suffix(text: str, fmt: QuantityFormat) -> None:
    assert Quantity.parse(text).format is fmt


@pytest.mark.parametrize(("text", "nbytes", "millis"), [
    pytest.param("1Gi", 2**30, 2**30 * 1000, id="whole"),
    pytest.param("500m", 1, 500, id="half-rounds-up"),
    pytest.param("1.0001", 2, 1001, id="just-over"),
    pytest.param("1n", 1, 1, id="nano"),
    pytest.param("-1.5", -2, -1500, id="negative-away-from-zero"),
])
def test_rounding(text: str, nbytes: int, millis: int) -> None:
    q = Quantity.parse(text)
    assert (q.to_bytes(), q.to_millis()) == (nbytes, millis)


@pytest.mark.parametrize(("a", "b"), [
    pytest.param("1Gi", "1073741824", id="binary-vs-plain"),
    pytest.param("1k", "1e3", id="si-vs-exponent"),
    pytest.param("500m", "0.5", id="milli-vs-point"),
])
def test_equal_values_compare_and_hash_equal(a: str, b: str) -> None:
    qa, qb = Quantity.parse(a), Quantity.parse(b)
    assert qa == qb
    assert hash(qa) == hash(qb)
    assert len({qa, qb}) == 1


def test_ordering() -> None:
    assert sorted([Quantity.parse("1Gi"), Quantity.parse("1G"), Quantity.parse("1Mi")]) == [
        Quantity.parse("1Mi"), Quantity.parse("1G"), Quantity.parse("1Gi")]
    assert Quantity.parse("1") < Quantity.parse("1001m") <= Quantity.parse("1.001")


def test_exact_arithmetic_keeps_left_format() -> None:
    total = Quantity.parse("0.1") + Quantity.parse("0.2")
    assert total == Quantity.parse("300m")
    assert str(total) == "300m"
    memory = Quantity.parse("1Gi") + Quantity.parse("512Mi")
    assert str(memory) == "1536Mi"
    assert str(Quantity.parse("1Gi") - Quantity.parse("1Gi")) == "0"
    assert str(3 * Quantity.parse("1Mi")) == "3Mi"
    assert str(-Quantity.parse("1Mi")) == "-1Mi"


@pytest.mark.parametrize(("built", "canonical"), [
    pytest.param(Quantity.from_bytes(2**30), "1Gi", id="bytes-Gi"),
    pytest.param(Quantity.from_bytes(1165 * 2**20), "1165Mi", id="bytes-Mi"),
    pytest.param(Quantity.from_bytes(1000), "1k", id="bytes-below-1024"),
    pytest.param(Quantity.from_bytes(1025), "1025", id="bytes-odd"),
    pytest.param(Quantity.from_millis(2000), "2", id="millis-whole"),
    pytest.param(Quantity.from_millis(1500), "1500m", id="millis"),
    pytest.param(Quantity.from_millis(100), "100m", id="millis-small"),
])
def test_constructors(built: Quantity, canonical: str) -> None:
    assert str(built) == canonical
