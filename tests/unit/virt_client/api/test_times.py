"""RFC 3339 formatting (Time and MicroTime) and parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from virt_client.api.times import parse_rfc3339, rfc3339, rfc3339_micro

MOMENT = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(("t", "seconds", "micros"), [
    pytest.param(MOMENT, "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123456Z", id="aware-utc"),
    pytest.param(MOMENT.astimezone(timezone(timedelta(hours=2))), "2024-05-01T12:00:00Z",
                 "2024-05-01T12:00:00.123456Z", id="other-offset-becomes-utc"),
    pytest.param(MOMENT.replace(tzinfo=None), "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123456Z",
                 id="naive-taken-as-utc"),
    pytest.param(0.0, "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000Z", id="posix-epoch"),
    pytest.param(1714564800.5, "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.500000Z", id="posix-fraction"),
])
def test_format(t: datetime | float, seconds: str, micros: str) -> None:
    assert rfc3339(t) == seconds
    assert rfc3339_micro(t) == micros


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("2024-05-01T12:00:00Z", MOMENT.replace(microsecond=0), id="seconds"),
    pytest.param("2024-05-01T12:00:00.123456Z", MOMENT, id="micros"),
    pytest.param("2024-05-01T14:00:00+02:00", MOMENT.replace(microsecond=0), id="offset"),
    pytest.param("2024-05-01t12:00:00z", MOMENT.replace(microsecond=0), id="lower-case"),
])
def test_parse(text: str, expected: datetime) -> None:
    parsed = parse_rfc3339(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("text", [
    pytest.param("2024-05-01", id="date-only"),
    pytest.param("2024-05-01T12:00:00", id="no-zone"),
    pytest.param("yesterday", id="words"),
    pytest.param("", id="empty"),
    pytest.param("2024-13-01T12:00:00Z", id="bad-month"),
])
def test_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_rfc3339(text)


def test_round_trip() -> None:
    assert parse_rfc3339(rfc3339_micro(MOMENT)) == MOMENT
    assert rfc3339(parse_rfc3339("2024-05-01T12:00:00Z")) == "2024-05-01T12:00:00Z"
