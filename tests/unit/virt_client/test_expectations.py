"""Controller expectations: counts, observation, expiry, UID tracking."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from virt_client.clock import FakeClock
from virt_client.expectations import Expectations, UIDTrackingExpectations

Step = Callable[[Expectations, FakeClock], None]


@pytest.mark.parametrize(
    ("steps", "satisfied"),
    [
        ([], True),
        ([lambda e, c: e.expect_creations("k", 2)], False),
        ([lambda e, c: e.expect_creations("k", 2), lambda e, c: e.creation_observed("k")], False),
        ([lambda e, c: e.expect_creations("k", 2)] + [lambda e, c: e.creation_observed("k")] * 2, True),
        ([lambda e, c: e.expect_deletions("k", 1), lambda e, c: e.deletion_observed("k")], True),
        ([lambda e, c: e.expect_creations("k", 1), lambda e, c: c.advance(301)], True),
        ([lambda e, c: e.expect_creations("k", 1), lambda e, c: c.advance(299)], False),
        ([lambda e, c: e.expect_creations("k", 1), lambda e, c: e.delete_expectations("k")], True),
        ([lambda e, c: e.raise_expectations("k", add=1), lambda e, c: e.raise_expectations("k", add=1),
          lambda e, c: e.creation_observed("k")], False),
        ([lambda e, c: e.set_expectations("k", add=1, delete=1), lambda e, c: e.creation_observed("k")], False),
        ([lambda e, c: e.creation_observed("k")], True),
        ([lambda e, c: e.expect_creations("other", 1)], True),
    ],
    ids=[
        "no-record", "pending", "partly-observed", "all-observed", "deletion-observed", "expired",
        "not-yet-expired", "deleted", "raised-twice", "deletion-still-pending", "observed-without-record",
        "other-key",
    ],
)
def test_satisfied(steps: list[Step], satisfied: bool) -> None:
    clock = FakeClock()
    exp = Expectations(clock=clock)
    for step in steps:
        step(exp, clock)
    assert exp.satisfied("k") is satisfied


def test_pending_counts() -> None:
    exp = Expectations(clock=FakeClock())
    exp.set_expectations("k", add=3, delete=1)
    exp.creation_observed("k")
    assert exp.pending("k") == (2, 1)
    assert exp.pending("none") == (0, 0)


def test_uid_tracking_counts_each_deletion_once() -> None:
    exp = UIDTrackingExpectations(clock=FakeClock())
    exp.expect_deletions("k", ["u1", "u2"])
    exp.deletion_observed("k", "u1")
    exp.deletion_observed("k", "u1")  # seen again on relist
    exp.deletion_observed("k", "unknown")
    assert not exp.satisfied("k")
    assert exp.pending_deletions("k") == {"u2"}
    exp.deletion_observed("k", "u2")
    assert exp.satisfied("k")
