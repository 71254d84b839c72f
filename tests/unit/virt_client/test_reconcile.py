"""The controller contract: `Plan` values and how the runner treats a `ReconcileError`."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from enum import StrEnum

import orjson
import pytest

from virt_client.clock import FakeClock
from virt_client.controller import Controller, Result
from virt_client.logs import JsonFormatter
from virt_client.rate_limiter import ItemExponentialFailureRateLimiter
from virt_client.reconcile import Plan, ReconcileError


class Reason(StrEnum):
    FAILED_PVC_NOT_FOUND = "FailedPvcNotFound"


def test_plans_compare_by_value_and_keep_actions_as_a_tuple() -> None:
    plan: Plan[str, dict[str, str]] = Plan.of(["create-pod"], {"phase": "Scheduling"}, 1.5)
    assert plan == Plan(("create-pod",), {"phase": "Scheduling"}, 1.5)
    assert Plan[str, None]().actions == () and Plan[str, None]().status is None
    with pytest.raises(AttributeError):
        plan.requeue_after = 2.0  # type: ignore[misc]


def test_reconcile_error_carries_its_reason() -> None:
    e = ReconcileError(Reason.FAILED_PVC_NOT_FOUND, 'PVC "disk" not found')
    assert (e.reason, e.message, str(e)) == ("FailedPvcNotFound", 'PVC "disk" not found',
                                            'FailedPvcNotFound: PVC "disk" not found')


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger("virt_client.controller")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


@pytest.mark.parametrize(
    ("error", "traceback"),
    [(ReconcileError(Reason.FAILED_PVC_NOT_FOUND, 'PVC "disk" not found'), False), (KeyError("bug"), True)],
    ids=["expected-failure-one-line", "unexpected-exception-keeps-traceback"],
)
async def test_runner_logs_and_requeues_with_backoff(log_lines: io.StringIO, error: Exception,
                                                     traceback: bool) -> None:
    clock = FakeClock()

    async def reconcile(key: str) -> Result:
        raise error

    ctrl = Controller(name="vmi", reconcile=reconcile, clock=clock,
                      rate_limiter=ItemExponentialFailureRateLimiter(base_delay=1, max_delay=60))
    await ctrl.process("ns/a")
    await ctrl.process("ns/a")
    assert ctrl.queue.num_requeues("ns/a") == 2, "requeued through the rate limiter each time"
    assert len(ctrl.queue) == 0, "not due before its backoff"
    lines = [orjson.loads(line) for line in log_lines.getvalue().splitlines()]
    assert len(lines) == 2
    assert ("reason" in lines[0] and "Traceback" in lines[0]["reason"]) is traceback
    if not traceback:
        assert lines[0]["reason"] == "FailedPvcNotFound" and lines[0]["key"] == "ns/a"
        assert lines[1]["retry"] == 2
        assert lines[0]["msg"] == 'controller vmi: reconcile ns/a: FailedPvcNotFound: PVC "disk" not found'
