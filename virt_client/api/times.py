"""RFC 3339 times as the Kubernetes API writes and reads them: `metav1.Time` and `metav1.MicroTime`.

`rfc3339` is the second-precision form every timestamp field uses (`2024-05-01T12:00:00Z`);
`rfc3339_micro` the microsecond form of Leases, Events' `eventTime` and log records
(`2024-05-01T12:00:00.000123Z`). Both take an aware `datetime` (converted to UTC; a naive one is taken
as UTC) or a POSIX timestamp. `parse_rfc3339` reads either form, `Z` or a numeric offset, and returns
an aware UTC `datetime`.

Invariant: output is always UTC with a literal `Z`, so equal instants format to equal strings.
"""

from __future__ import annotations

from datetime import UTC, datetime

_SECONDS = "%Y-%m-%dT%H:%M:%SZ"
_MICROS = "%Y-%m-%dT%H:%M:%S.%fZ"


def _utc(t: datetime | float) -> datetime:
    if isinstance(t, datetime):
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return datetime.fromtimestamp(t, UTC)


def rfc3339(t: datetime | float) -> str:
    """`metav1.Time`: whole seconds (truncated), UTC."""
    return _utc(t).strftime(_SECONDS)


def rfc3339_micro(t: datetime | float) -> str:
    """`metav1.MicroTime`: microseconds, UTC."""
    return _utc(t).strftime(_MICROS)


def now_rfc3339() -> str:
    """The current time as `metav1.Time` (for code without an injected clock: servers, runners)."""
    return rfc3339(datetime.now(UTC))


def now_rfc3339_micro() -> str:
    """The current time as `metav1.MicroTime`."""
    return rfc3339_micro(datetime.now(UTC))


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 time (`Z` or an offset, optional fraction) as an aware UTC datetime.

    Raises ValueError (with the text) for anything else, as a date without a time.
    """
    if not isinstance(text, str) or "T" not in text.upper() or len(text) < 20:
        raise ValueError(f"{text!r} is not an RFC 3339 time (like 2024-05-01T12:00:00Z)")
    normalized = text.upper().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(normalized)
    except ValueError:
        raise ValueError(f"{text!r} is not an RFC 3339 time (like 2024-05-01T12:00:00Z)") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} is not an RFC 3339 time: it has no time zone (add Z)")
    return moment.astimezone(UTC)
