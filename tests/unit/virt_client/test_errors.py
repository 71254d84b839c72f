"""Mapping of Kubernetes Status answers to the exception tree."""

from __future__ import annotations

import orjson
import pytest

from virt_client import errors


def status(code: int, reason: str, **details: object) -> bytes:
    return orjson.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
                         "reason": reason, "message": f"{reason} message", "details": details})


@pytest.mark.parametrize(
    ("code", "body", "expected"),
    [
        (404, status(404, "NotFound"), errors.NotFound),
        (409, status(409, "AlreadyExists"), errors.AlreadyExists),
        (409, status(409, "Conflict"), errors.Conflict),
        (410, status(410, "Expired"), errors.Gone),
        (410, status(410, "Gone"), errors.Gone),
        (422, status(422, "Invalid", causes=[{"reason": "FieldValueRequired", "message": "req", "field": "spec.x"}]),
         errors.Invalid),
        (403, status(403, "Forbidden"), errors.Forbidden),
        (401, status(401, "Unauthorized"), errors.Unauthorized),
        (429, status(429, "TooManyRequests", retryAfterSeconds=3), errors.TooManyRequests),
        (500, status(500, "InternalError"), errors.ServerError),
        (503, b"service unavailable", errors.ServerError),
        (504, b"", errors.ServerTimeout),
        (400, b"<html>bad</html>", errors.BadRequest),
        (418, b"teapot", errors.ApiError),
    ],
    ids=["not-found", "already-exists", "conflict", "expired", "gone", "invalid", "forbidden", "unauthorized",
         "too-many", "internal", "5xx-text", "timeout-empty", "bad-request-html", "unknown"],
)
def test_error_from_response(code: int, body: bytes, expected: type[errors.ApiError]) -> None:
    err = errors.error_from_response(code, body)
    assert type(err) is expected
    assert err.status == code
    assert isinstance(err, errors.ClientError)


def test_status_fields_are_kept() -> None:
    body = status(422, "Invalid", causes=[{"reason": "FieldValueInvalid", "message": "bad", "field": "spec.a"}])
    err = errors.error_from_response(422, body)
    assert err.reason == "Invalid"
    assert err.message == "Invalid message"
    assert err.causes == (errors.StatusCause("FieldValueInvalid", "bad", "spec.a"),)
    assert "422 Invalid" in str(err)


def test_already_exists_is_a_conflict_and_too_old_is_gone() -> None:
    assert issubclass(errors.AlreadyExists, errors.Conflict)
    assert errors.TooOld is errors.Gone
    assert not issubclass(errors.TransportError, errors.ApiError)


def test_retry_after() -> None:
    err = errors.error_from_response(429, status(429, "TooManyRequests", retryAfterSeconds=3))
    assert isinstance(err, errors.TooManyRequests) and err.retry_after == 3.0


def test_watch_error_event_status_code_wins() -> None:
    err = errors.error_from_status(200, {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"})
    assert isinstance(err, errors.Gone) and err.status == 410
