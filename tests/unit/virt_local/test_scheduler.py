"""When the scheduler repeats a Pod's FailedScheduling event: a new message at once, the same one at most
every interval, and a Pod that was bound or deleted starts afresh."""

from __future__ import annotations

import pytest

from virt_local.scheduler import FailureReports

FULL = "0/2 nodes are available: 2 Insufficient memory."
TAINTED = "0/2 nodes are available: 2 node(s) had untolerated taint {a: b}."


@pytest.mark.parametrize(("steps", "want"), [
    ([("p1", FULL, 0)], [True]),
    ([("p1", FULL, 0), ("p1", FULL, 1), ("p1", FULL, 29.9)], [True, False, False]),
    ([("p1", FULL, 0), ("p1", FULL, 30)], [True, True]),
    ([("p1", FULL, 0), ("p1", FULL, 10), ("p1", FULL, 30), ("p1", FULL, 45)], [True, False, True, False]),
    ([("p1", FULL, 0), ("p1", TAINTED, 1), ("p1", FULL, 2)], [True, True, True]),
    ([("p1", FULL, 0), ("p2", FULL, 1)], [True, True]),
    ([("p1", FULL, 0), ("forget", "p1", 0), ("p1", FULL, 1)], [True, None, True]),
], ids=["first", "same-within-interval", "same-after-interval", "interval-from-last-report", "message-changes",
        "per-pod", "forgotten"])
def test_failure_reports(steps: list[tuple[str, str, float]], want: list[bool | None]) -> None:
    reports = FailureReports(interval=30)
    got: list[bool | None] = []
    for uid, message, now in steps:
        if uid == "forget":
            reports.forget(message)
            got.append(None)
        else:
            got.append(reports.due(uid, message, now))
    assert got == want
