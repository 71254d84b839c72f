"""A failed JSON-patch `test` operation: the Status kube-apiserver answers, and how clients recognise it.

kube-apiserver applies a JSON patch with evanphx/json-patch and turns any apply error into
`NewGenericServerResponse(422, ...)`: code 422, reason `Invalid`, message "the server rejected our
request due to an error in our request", and the library's error text as the one cause, of type
`UnexpectedServerResponse`. A failed `test` is the error the library words
`testing value <path> failed: test failed` (`ErrTestFailed`). Components use `test` operations as
optimistic locks, so a failed one means "the object changed meanwhile; read it again", not a bug.

`patch_apply_failure` builds that body (virt-local's API server answers with it);
`is_test_failure` recognises it from the structured error (code, reason and the cause), never from
the top-level message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from virt_client.api.status import failure_status

APPLY_FAILURE_MESSAGE = "the server rejected our request due to an error in our request"
UNEXPECTED_SERVER_RESPONSE = "UnexpectedServerResponse"

_TEST_FAILED = re.compile(r"testing value .* failed: test failed")


def failed_test_message(path: str) -> str:
    """The json-patch library's text for a failed `test` of `path`."""
    return f"testing value {path} failed: test failed"


def patch_apply_failure(error: str) -> dict[str, Any]:
    """The 422 Status for a JSON patch that could not be applied (`error`: the library's text)."""
    return failure_status(422, APPLY_FAILURE_MESSAGE, "Invalid",
                          {"causes": [{"reason": UNEXPECTED_SERVER_RESPONSE, "message": error}]})


def is_test_failure(code: int, reason: str, causes: Iterable[tuple[str, str]]) -> bool:
    """Whether an error Status (its code, reason and (reason, message) causes) is a failed `test`."""
    return code == 422 and reason == "Invalid" and any(
        cause_reason == UNEXPECTED_SERVER_RESPONSE and _TEST_FAILED.fullmatch(message) is not None
        for cause_reason, message in causes)
