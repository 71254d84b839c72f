"""Errors raised by `virt_client`, mapped from Kubernetes `Status` objects.

Every non-2xx answer from the API server becomes exactly one `ApiError` subclass, chosen by the
HTTP code first and the Status `reason` second, so callers write `except NotFound:` instead of
comparing numbers. Failures below HTTP (connection refused, reset, timeouts) are `TransportError`,
which is not an `ApiError`: it says nothing about the object, only that the server was not reached.

Invariants: `ApiError.status` is the HTTP code; `reason`, `message` and `causes` come from the
Status body when there is one, and from the code otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson


class ClientError(Exception):
    """Base of everything `virt_client` raises on purpose."""


class TransportError(ClientError):
    """The API server could not be reached or the connection broke; retrying may help."""


@dataclass(frozen=True)
class StatusCause:
    """One entry of `Status.details.causes` (for example a field that failed validation)."""

    reason: str
    message: str
    field: str


class ApiError(ClientError):
    """The API server answered with an error `Status`."""

    default_reason = "Unknown"

    def __init__(
        self,
        status: int,
        reason: str = "",
        message: str = "",
        causes: Sequence[StatusCause] = (),
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.reason = reason or self.default_reason
        self.message = message or self.reason
        self.causes = tuple(causes)
        self.details: Mapping[str, Any] = details or {}
        super().__init__(f"{status} {self.reason}: {self.message}")


class BadRequest(ApiError):
    default_reason = "BadRequest"


class Unauthorized(ApiError):
    default_reason = "Unauthorized"


class Forbidden(ApiError):
    default_reason = "Forbidden"


class NotFound(ApiError):
    default_reason = "NotFound"


class MethodNotAllowed(ApiError):
    default_reason = "MethodNotAllowed"


class Conflict(ApiError):
    """A write lost an optimistic-concurrency race (stale resourceVersion or failed `test`)."""

    default_reason = "Conflict"


class AlreadyExists(Conflict):
    """A create named an object that exists (HTTP 409 with reason AlreadyExists)."""

    default_reason = "AlreadyExists"


class Gone(ApiError):
    """HTTP 410: the requested resourceVersion is older than the server keeps; relist."""

    default_reason = "Expired"


TooOld = Gone


class Invalid(ApiError):
    """HTTP 422: the object failed validation; `causes` names the fields."""

    default_reason = "Invalid"


class TooManyRequests(ApiError):
    default_reason = "TooManyRequests"

    @property
    def retry_after(self) -> float | None:
        value = self.details.get("retryAfterSeconds")
        return float(value) if isinstance(value, int | float) else None


class ServerError(ApiError):
    """HTTP 5xx: the server failed; the request may be retried."""

    default_reason = "InternalError"


class ServerTimeout(ServerError):
    default_reason = "Timeout"


_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
    504: ServerTimeout,
}


def error_class(status: int, reason: str) -> type[ApiError]:
    """The exception class for an HTTP code and Status reason."""
    if status == 409 and reason == "AlreadyExists":
        return AlreadyExists
    if reason == "Expired" or reason == "Gone":
        return Gone
    cls = _BY_CODE.get(status)
    if cls is not None:
        return cls
    if status >= 500:
        return ServerError
    return ApiError


def error_from_status(status: int, body: Mapping[str, Any] | None) -> ApiError:
    """Build the exception for a decoded `Status` object (or any JSON body, or none)."""
    body = body or {}
    code = body.get("code")
    if body.get("kind") == "Status" and isinstance(code, int) and code >= 400:
        status = code
    reason = str(body.get("reason") or "")
    message = str(body.get("message") or "")
    details = body.get("details") or {}
    if not isinstance(details, Mapping):
        details = {}
    causes = [
        StatusCause(str(c.get("reason", "")), str(c.get("message", "")), str(c.get("field", "")))
        for c in details.get("causes") or ()
        if isinstance(c, Mapping)
    ]
    return error_class(status, reason)(status, reason, message, causes, details)


def error_from_response(status: int, body: bytes) -> ApiError:
    """Build the exception for a raw HTTP error response."""
    try:
        decoded = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        decoded = None
    if isinstance(decoded, Mapping):
        return error_from_status(status, decoded)
    text = body.decode("utf-8", "replace").strip()[:500]
    return error_class(status, "")(status, "", text)
