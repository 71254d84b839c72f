"""Status conditions as plain lists of dicts: read, set and remove, keeping transition times.

Pure: the caller passes `now` (RFC 3339). Setting a condition to the status it already has keeps
its `lastTransitionTime`, so repeated reconciles do not churn the object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any


def rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def find(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    for c in conditions or ():
        if c.get("type") == type_:
            return c
    return None


def has(conditions: Sequence[Mapping[str, Any]] | None, type_: str, status: str, reason: str | None = None) -> bool:
    c = find(conditions, type_)
    return c is not None and c.get("status") == status and (reason is None or c.get("reason") == reason)


def set_condition(
    conditions: Sequence[Mapping[str, Any]] | None,
    type_: str,
    status: str,
    now: str,
    reason: str = "",
    message: str = "",
) -> list[dict[str, Any]]:
    """A new list with `type_` set; the transition time moves only when the status changes."""
    out: list[dict[str, Any]] = []
    placed = False
    for c in conditions or ():
        if c.get("type") != type_:
            out.append(dict(c))
            continue
        placed = True
        same = c.get("status") == status
        new: dict[str, Any] = {"type": type_, "status": status,
                               "lastProbeTime": None,
                               "lastTransitionTime": c.get("lastTransitionTime") if same else now}
        if reason:
            new["reason"] = reason
        if message:
            new["message"] = message
        out.append(new)
    if not placed:
        new = {"type": type_, "status": status, "lastProbeTime": None, "lastTransitionTime": now}
        if reason:
            new["reason"] = reason
        if message:
            new["message"] = message
        out.append(new)
    return out


def remove_condition(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> list[dict[str, Any]]:
    return [dict(c) for c in conditions or () if c.get("type") != type_]
