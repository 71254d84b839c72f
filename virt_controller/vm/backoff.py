"""Crash-loop backoff of VM starts (upstream `calculateStartBackoffTime`, `syncStartFailureStatus`).

A VMI that ends (Succeeded or Failed) without ever reaching Running is a start failure. The n-th
consecutive failure delays the next start by max(10, 300/30) × n² seconds plus a jitter of up to
half of that, capped at 300 s. A VMI that reached Running, or a run strategy that does not restart
on its own, resets the count.

Pure: the caller passes `now` and the jitter fraction in [0, 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from virt_client.api.constants import RunStrategy
from virt_client.api.objects import is_final
from virt_client.api.times import parse_rfc3339, rfc3339

MAX_DELAY_SECONDS = 300
MIN_INTERVAL_SECONDS = 10
BACKOFF_STRATEGIES = frozenset({RunStrategy.ALWAYS, RunStrategy.RERUN_ON_FAILURE, RunStrategy.ONCE})


def backoff_seconds(fail_count: int, jitter: float, max_delay: int = MAX_DELAY_SECONDS) -> int:
    interval = max(MIN_INTERVAL_SECONDS, max_delay // 30)
    delay = interval * fail_count * fail_count
    delay += int((delay // 2) * jitter)
    return min(delay, max_delay)


def reached_running(vmi: Mapping[str, Any]) -> bool:
    status = vmi.get("status") or {}
    if status.get("phase") == "Running":
        return True
    return any(t.get("phase") == "Running" for t in status.get("phaseTransitionTimestamps") or ())


def failed_early(vmi: Mapping[str, Any] | None) -> bool:
    return vmi is not None and is_final(vmi) and not reached_running(vmi)


def next_start_failure(current: Mapping[str, Any] | None, vmi: Mapping[str, Any] | None, strategy: RunStrategy,
                       now: datetime, jitter: float) -> Mapping[str, Any] | None:
    """The `status.startFailure` after looking at the current VMI."""
    if strategy not in BACKOFF_STRATEGIES:
        return None
    if vmi is not None and failed_early(vmi):
        uid = str((vmi.get("metadata") or {}).get("uid"))
        if current is not None and current.get("lastFailedVMIUID") == uid:
            return current
        count = int((current or {}).get("consecutiveFailCount") or 0) + 1
        retry = now + timedelta(seconds=backoff_seconds(count, jitter))
        return {"consecutiveFailCount": count, "lastFailedVMIUID": uid, "retryAfterTimestamp": rfc3339(retry)}
    if vmi is not None and reached_running(vmi):
        return None
    return current


def seconds_until_retry(start_failure: Mapping[str, Any] | None, now: datetime) -> float:
    """Seconds left before a new start is allowed (0 when none)."""
    if not start_failure or not start_failure.get("retryAfterTimestamp"):
        return 0.0
    retry = parse_rfc3339(str(start_failure["retryAfterTimestamp"]))
    return max(0.0, (retry - now).total_seconds())
