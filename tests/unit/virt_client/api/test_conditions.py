"""Conditions: find/has, set (transition time kept while the status holds), remove; inputs never mutated."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from virt_client.api.conditions import condition_status, find, has, remove_condition, set_condition

READY_T1: dict[str, Any] = {"type": "Ready", "status": "True", "lastProbeTime": None, "lastTransitionTime": "t1"}
PAUSED: dict[str, Any] = {"type": "Paused", "status": "True", "lastTransitionTime": "t0", "reason": "PausedByUser"}


@pytest.mark.parametrize(("before", "args", "expected"), [
    pytest.param(None, ("Ready", "True", "t2"),
                 [{"type": "Ready", "status": "True", "lastProbeTime": None, "lastTransitionTime": "t2"}],
                 id="added-to-none"),
    pytest.param([READY_T1], ("Ready", "True", "t2"), [READY_T1], id="same-status-keeps-time"),
    pytest.param([READY_T1], ("Ready", "True", "t2", "Why", "msg"),
                 [{**READY_T1, "reason": "Why", "message": "msg"}], id="same-status-new-reason-keeps-time"),
    pytest.param([READY_T1], ("Ready", "False", "t2", "GuestNotRunning"),
                 [{"type": "Ready", "status": "False", "lastProbeTime": None, "lastTransitionTime": "t2",
                   "reason": "GuestNotRunning"}], id="status-change-moves-time"),
    pytest.param([{"type": "Ready", "status": "True"}], ("Ready", "True", "t2"),
                 [{"type": "Ready", "status": "True", "lastProbeTime": None, "lastTransitionTime": "t2"}],
                 id="same-status-without-time-gets-now"),
    pytest.param([{**READY_T1, "reason": "Old", "message": "old"}], ("Ready", "True", "t2"),
                 [READY_T1], id="reason-and-message-follow-latest"),
    pytest.param([PAUSED, READY_T1], ("Ready", "False", "t2"),
                 [PAUSED, {"type": "Ready", "status": "False", "lastProbeTime": None, "lastTransitionTime": "t2"}],
                 id="others-kept-in-order"),
    pytest.param([PAUSED], ("Ready", "True", "t2"),
                 [PAUSED, {"type": "Ready", "status": "True", "lastProbeTime": None, "lastTransitionTime": "t2"}],
                 id="appended-after-others"),
])
def test_set_condition(before: list[dict[str, Any]] | None, args: tuple[str, ...],
                       expected: list[dict[str, Any]]) -> None:
    frozen = copy.deepcopy(before)
    assert set_condition(before, *args) == expected
    assert before == frozen


@pytest.mark.parametrize(("before", "type_", "expected"), [
    pytest.param([PAUSED, READY_T1], "Paused", [READY_T1], id="present"),
    pytest.param([READY_T1], "Paused", [READY_T1], id="absent"),
    pytest.param(None, "Paused", [], id="none"),
])
def test_remove_condition(before: list[dict[str, Any]] | None, type_: str, expected: list[dict[str, Any]]) -> None:
    frozen = copy.deepcopy(before)
    assert remove_condition(before, type_) == expected
    assert before == frozen


@pytest.mark.parametrize(("type_", "status", "reason", "expected"), [
    pytest.param("Paused", "True", None, True, id="status"),
    pytest.param("Paused", "True", "PausedByUser", True, id="status-and-reason"),
    pytest.param("Paused", "True", "Other", False, id="other-reason"),
    pytest.param("Paused", "False", None, False, id="other-status"),
    pytest.param("Ready", "True", None, False, id="absent"),
])
def test_has(type_: str, status: str, reason: str | None, expected: bool) -> None:
    assert has([PAUSED], type_, status, reason) is expected


def test_find_and_status_words() -> None:
    assert find([PAUSED, READY_T1], "Ready") == READY_T1
    assert find(None, "Ready") is None
    assert (condition_status(True), condition_status(False)) == ("True", "False")
