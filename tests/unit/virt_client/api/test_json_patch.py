"""A failed JSON-patch `test`: kube-apiserver's 422 body, and recognition from the structured error only."""

from __future__ import annotations

import pytest

from virt_client.api.json_patch import (
    APPLY_FAILURE_MESSAGE,
    failed_test_message,
    is_test_failure,
    patch_apply_failure,
)

FAILED = failed_test_message("/status/stateChangeRequests")


def test_apply_failure_body_is_kube_apiservers() -> None:
    assert patch_apply_failure(FAILED) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "the server rejected our request due to an error in our request", "reason": "Invalid",
        "details": {"causes": [{"reason": "UnexpectedServerResponse",
                                "message": "testing value /status/stateChangeRequests failed: test failed"}]},
        "code": 422,
    }


@pytest.mark.parametrize(("code", "reason", "causes", "expected"), [
    pytest.param(422, "Invalid", [("UnexpectedServerResponse", FAILED)], True, id="kube-apiserver-test-failure"),
    pytest.param(422, "Invalid", [("UnexpectedServerResponse",
                                   'add operation does not apply: doc is missing path: "/x"')], False,
                 id="other-apply-error"),
    pytest.param(422, "Invalid", [("FieldValueInvalid", FAILED)], False, id="validation-cause"),
    pytest.param(422, "Invalid", [], False, id="no-causes"),
    pytest.param(409, "Conflict", [("UnexpectedServerResponse", FAILED)], False, id="conflict-code"),
    pytest.param(500, "InternalError", [("UnexpectedServerResponse", FAILED)], False, id="server-error"),
    pytest.param(422, "Invalid", [("UnexpectedServerResponse", "a test of something")], False,
                 id="word-test-in-message-is-not-enough"),
])
def test_is_test_failure(code: int, reason: str, causes: list[tuple[str, str]], expected: bool) -> None:
    assert is_test_failure(code, reason, causes) is expected


def test_round_trip_through_the_body() -> None:
    body = patch_apply_failure(FAILED)
    causes = [(c["reason"], c["message"]) for c in body["details"]["causes"]]
    assert is_test_failure(body["code"], body["reason"], causes)
    assert body["message"] == APPLY_FAILURE_MESSAGE
