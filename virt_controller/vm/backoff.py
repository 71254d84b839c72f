"""Crash-loop backoff of VM starts (upstream `calculateStartBackoffTime`, `syncStartFailureStatus`).

A VMI that ends (Succeeded or Failed) without ever reaching Running is a start failure. The n-th
consecutive failure delays the next start by max(10, 300/30) × n² seconds plus a jitter of up to
half of that, capped at 300 s. A VMI that reached Running, or a run strategy that does not restart
on its own, resets the count.

Pure: the caller passes `now` and the jitter fraction in [0, 1).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from virt_client.api.constants import RunStrategy
from virt_client.api.constants import VirtualMachineInstancePhase as Phase
from virt_client.api.times import parse_rfc3339, rfc3339
from virt_client.api.views import StartFailureView, VirtualMachineInstanceView

MAX_DELAY_SECONDS = 300
MIN_INTERVAL_SECONDS = 10
BACKOFF_STRATEGIES = frozenset({RunStrategy.ALWAYS, RunStrategy.RERUN_ON_FAILURE, RunStrategy.ONCE})


def backoff_seconds(fail_count: int, jitter: float, max_delay: int = MAX_DELAY_SECONDS) -> int:
    interval = max(MIN_INTERVAL_SECONDS, max_delay // 30)
    delay = interval * fail_count * fail_count
    delay += int((delay // 2) * jitter)
    return min(delay, max_delay)


def reached_running(vmi: VirtualMachineInstanceView) -> bool:
    if vmi.phase is Phase.RUNNING:
        return True
    return any(t.phase == Phase.RUNNING for t in vmi.status.phase_transition_timestamps)


def failed_early(vmi: VirtualMachineInstanceView | None) -> bool:
    return vmi is not None and vmi.is_final and not reached_running(vmi)


def next_start_failure(current: StartFailureView | None, vmi: VirtualMachineInstanceView | None,
                       strategy: RunStrategy, now: datetime, jitter: float) -> StartFailureView | None:
    """The `status.startFailure` after looking at the current VMI (a view over a new object when it changes)."""
    if strategy not in BACKOFF_STRATEGIES:
        return None
    if vmi is not None and failed_early(vmi):
        if current is not None and current.last_failed_vmi_uid == vmi.uid:
            return current
        count = (current.consecutive_fail_count if current is not None else 0) + 1
        retry = now + timedelta(seconds=backoff_seconds(count, jitter))
        return StartFailureView({"consecutiveFailCount": count, "lastFailedVMIUID": vmi.uid,
                                 "retryAfterTimestamp": rfc3339(retry)})
    if vmi is not None and reached_running(vmi):
        return None
    return current


def seconds_until_retry(start_failure: StartFailureView | None, now: datetime) -> float:
    """Seconds left before a new start is allowed (0 when none)."""
    if start_failure is None or not start_failure.retry_after_timestamp:
        return 0.0
    retry = parse_rfc3339(start_failure.retry_after_timestamp)
    return max(0.0, (retry - now).total_seconds())
