"""Status conditions as plain lists of dicts, as every KubeVirt object carries them: find, set, remove.

Pure: the caller passes `now` (RFC 3339, see `times`). Inputs are never mutated; `set_condition` and
`remove_condition` return new lists (the other conditions copied, in their order).

Invariant: setting a condition to the status it already has keeps its `lastTransitionTime` (or sets
`now` if it had none), so repeated reconciles do not churn the object; a status change moves it to
`now`. Reason and message always follow the latest call (empty ones are left out). `lastProbeTime`
is written as null, as upstream's controllers leave it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Conditions = Sequence[Mapping[str, Any]] | None


def find(conditions: Conditions, type_: str) -> Mapping[str, Any] | None:
    """The condition of `type_`, or None."""
    for c in conditions or ():
        if c.get("type") == type_:
            return c
    return None


def has(conditions: Conditions, type_: str, status: str, reason: str | None = None) -> bool:
    """Whether `type_` is present with `status` (and `reason`, when given)."""
    c = find(conditions, type_)
    return c is not None and c.get("status") == status and (reason is None or c.get("reason") == reason)


def condition_status(value: bool) -> str:
    """A bool as the wire's "True"/"False"."""
    return "True" if value else "False"


def set_condition(conditions: Conditions, type_: str, status: str, now: str,
                  reason: str = "", message: str = "") -> list[dict[str, Any]]:
    """A new list with `type_` set (appended when absent, replaced in place otherwise)."""
    out: list[dict[str, Any]] = []
    placed = False
    for c in conditions or ():
        if c.get("type") != type_:
            out.append(dict(c))
            continue
        placed = True
        kept = c.get("lastTransitionTime") if c.get("status") == status else None
        out.append(_condition(type_, status, kept or now, reason, message))
    if not placed:
        out.append(_condition(type_, status, now, reason, message))
    return out


def remove_condition(conditions: Conditions, type_: str) -> list[dict[str, Any]]:
    """A new list without `type_`."""
    return [dict(c) for c in conditions or () if c.get("type") != type_]


def _condition(type_: str, status: str, transition: str, reason: str, message: str) -> dict[str, Any]:
    new: dict[str, Any] = {"type": type_, "status": status, "lastProbeTime": None,
                           "lastTransitionTime": transition}
    if reason:
        new["reason"] = reason
    if message:
        new["message"] = message
    return new
