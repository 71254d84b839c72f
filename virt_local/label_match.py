"""Matching of Kubernetes label selectors and node selector terms against plain dicts.

`matches_label_selector` implements `metav1.LabelSelector` (matchLabels + matchExpressions with
In/NotIn/Exists/DoesNotExist; an empty selector matches everything, a missing one nothing when the
caller says so). `matches_node_selector_term` implements `v1.NodeSelectorTerm` (expressions on labels
with In/NotIn/Exists/DoesNotExist/Gt/Lt, and `matchFields` on `metadata.name`); a term with no
requirements matches nothing, as in the scheduler.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _requirement(labels: Mapping[str, str], key: str, op: str, values: Sequence[str]) -> bool:
    present = key in labels
    if op == "In":
        return present and labels[key] in values
    if op == "NotIn":
        return not present or labels[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt"):
        if not present or len(values) != 1:
            return False
        try:
            have, want = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def matches_label_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether `labels` satisfy a LabelSelector (None matches nothing, `{}` everything)."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        if not _requirement(labels, expr.get("key", ""), expr.get("operator", ""), list(expr.get("values") or [])):
            return False
    return True


def matches_node_selector_term(term: Mapping[str, Any], labels: Mapping[str, str], node_name: str) -> bool:
    exprs = list(term.get("matchExpressions") or [])
    fields = list(term.get("matchFields") or [])
    if not exprs and not fields:
        return False
    for expr in exprs:
        if not _requirement(labels, expr.get("key", ""), expr.get("operator", ""), list(expr.get("values") or [])):
            return False
    for expr in fields:
        if expr.get("key") != "metadata.name":
            return False
        if not _requirement({"metadata.name": node_name}, "metadata.name", expr.get("operator", ""),
                            list(expr.get("values") or [])):
            return False
    return True


def matches_node_selector(selector: Mapping[str, Any], labels: Mapping[str, str], node_name: str) -> bool:
    """A NodeSelector: the terms are ORed."""
    return any(matches_node_selector_term(t, labels, node_name) for t in selector.get("nodeSelectorTerms") or [])
