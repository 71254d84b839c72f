"""The one Status builder: kube-apiserver's body shape, default reasons, details left out when empty."""

from __future__ import annotations

import json
from typing import Any

import pytest

from virt_client.api.status import failure_status, reason_for_code, success_status


@pytest.mark.parametrize(("args", "kwargs", "expected"), [
    pytest.param((404, 'pods "p" not found'), {"reason": "NotFound", "details": {"name": "p", "kind": "pods"}},
                 '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
                 '"message":"pods \\"p\\" not found","reason":"NotFound",'
                 '"details":{"name":"p","kind":"pods"},"code":404}', id="not-found-with-details"),
    pytest.param((409, "conflict"), {},
                 '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
                 '"message":"conflict","reason":"Conflict","code":409}', id="reason-from-code"),
    pytest.param((418, "teapot"), {"details": {}},
                 '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
                 '"message":"teapot","reason":"Unknown","code":418}', id="unknown-code-empty-details"),
])
def test_failure_status(args: tuple[Any, ...], kwargs: dict[str, Any], expected: str) -> None:
    assert json.dumps(failure_status(*args, **kwargs), separators=(",", ":")) == expected


@pytest.mark.parametrize(("code", "reason"), [
    pytest.param(400, "BadRequest", id="400"),
    pytest.param(403, "Forbidden", id="403"),
    pytest.param(422, "Invalid", id="422"),
    pytest.param(500, "InternalError", id="500"),
    pytest.param(503, "ServiceUnavailable", id="503"),
    pytest.param(599, "Unknown", id="unmapped"),
])
def test_reason_for_code(code: int, reason: str) -> None:
    assert reason_for_code(code) == reason


def test_success_status() -> None:
    assert success_status(201) == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                   "code": 201}
