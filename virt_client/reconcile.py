"""The controller contract: what a pure `plan()` returns and how it says a reconcile cannot proceed.

Every controller (and virt-handler's VMI reconciler) is written the same way:

    plan(snapshot, now: datetime) -> Plan(actions, status, requeue_after)

`plan` is pure and table-tested. The shell reads its caches into the snapshot, calls `plan`, performs
`actions` in order, then writes `status` (when not None), and asks the runner to look again after
`requeue_after` seconds (when not None). An expected failure - a state the user can fix or the
system will leave by itself (a missing PVC, an unschedulable Pod, a write refused by a webhook) -
raises `ReconcileError(reason, message)`: the shell records a Warning Event and a condition with that
reason, and the runner (`controller.Controller`) logs it as one structured line and retries the key
with its rate-limited backoff. Anything else is a bug and keeps its traceback.

Invariants: `Plan` is frozen and its `actions` a tuple, so a plan can be compared in table tests;
`ReconcileError.reason` is an upstream-style CamelCase reason (a `StrEnum` member or a str).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

ActionT = TypeVar("ActionT")
StatusT = TypeVar("StatusT")


@dataclass(frozen=True)
class Plan(Generic[ActionT, StatusT]):
    """What one reconcile must do: writes in order, the status to write after them, when to look again."""

    actions: tuple[ActionT, ...] = ()
    status: StatusT | None = None
    requeue_after: float | None = None

    @classmethod
    def of(cls, actions: Sequence[ActionT] = (), status: StatusT | None = None,
           requeue_after: float | None = None) -> Plan[ActionT, StatusT]:
        """A plan from any sequence of actions (kept as a tuple)."""
        return cls(tuple(actions), status, requeue_after)


class ReconcileError(Exception):
    """An expected failure: becomes a Warning Event and a condition with `reason`, never a traceback."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason, message)
        self.reason = str(reason)
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"
