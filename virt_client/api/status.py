"""The `Status` object (meta/v1) every API error and some subresources answer with, built in one place.

`failure_status` is the body kube-apiserver (and an aggregated API server such as virt-api) sends
with a non-2xx code; `success_status` the body of a subresource that answers `Status` on success
(`pods/binding`, `pods/eviction`). `reason_for_code` gives upstream's default reason for a code when
the caller has none (`StatusReason` values in apimachinery's `metav1` types).

Invariants: pure (returns plain dicts; callers serialise); key order is kube-apiserver's (kind,
apiVersion, metadata, status, message, reason, details, code), so bodies compare byte for byte.
`details` is left out when empty, as `omitempty` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REASONS_BY_CODE: Mapping[int, str] = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    406: "NotAcceptable", 409: "Conflict", 410: "Expired", 413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
    503: "ServiceUnavailable", 504: "Timeout",
}


def reason_for_code(code: int) -> str:
    """Upstream's reason for an HTTP code without a more specific one."""
    return REASONS_BY_CODE.get(code, "Unknown")


def failure_status(code: int, message: str, reason: str = "",
                   details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A `Status` with `status: Failure`; `reason` defaults from `code`."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": reason or reason_for_code(code)}
    if details:
        body["details"] = dict(details)
    body["code"] = code
    return body


def success_status(code: int = 200) -> dict[str, Any]:
    """A `Status` with `status: Success` (a subresource that answers with no object)."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}
