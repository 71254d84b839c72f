"""When and how a Pod's containers are stopped (pure): the grace period each gets, and the reason its
end is reported with.

Grace periods follow the kubelet: a deleted Pod gets its `deletionGracePeriodSeconds`, otherwise (virt-local
stopping) its `terminationGracePeriodSeconds` (30 by default), never less than 2 s (the kubelet's minimum);
a Pod already gone from the API (force-deleted) gets 2 s. While virt-local stops, no Pod waits longer than
the shutdown grace period (`virt-local up --shutdown-grace-period`), as a node's graceful shutdown caps
its Pods'.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .status import Reason

DEFAULT_GRACE_SECONDS = 30.0
MINIMUM_GRACE_SECONDS = 2.0
#: how long `virt-local up` waits at most for a Pod's containers when it stops (Ctrl-C)
DEFAULT_SHUTDOWN_GRACE_SECONDS = 300.0


def grace_period(pod: Mapping[str, Any], *, gone: bool, stopping: bool, shutdown_grace: float) -> float:
    """Seconds between SIGTERM and SIGKILL for the containers of `pod`."""
    if gone:
        return MINIMUM_GRACE_SECONDS
    md = pod.get("metadata") or {}
    grace = md.get("deletionGracePeriodSeconds") if md.get("deletionTimestamp") else None
    if grace is None:
        grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    seconds = DEFAULT_GRACE_SECONDS if grace is None else float(grace)
    seconds = max(seconds, MINIMUM_GRACE_SECONDS)
    return min(seconds, shutdown_grace) if stopping else seconds


def exit_reason(code: int, oom_kills: int) -> str:
    """The reason a terminated container is reported with, as a container runtime gives it."""
    if oom_kills > 0:
        return Reason.OOM_KILLED
    return Reason.COMPLETED if code == 0 else Reason.ERROR
