"""Matching of Kubernetes label selectors and node selector terms against plain dicts, for the
workload controllers and the scheduler.

`matches_label_selector` is `metav1.LabelSelector` as `virt_client.selectors` parses it (an empty
selector matches everything, a missing one nothing); a selector that does not parse matches nothing,
as the controllers upstream skip an object whose selector they cannot convert.
`matches_node_selector_term` is `v1.NodeSelectorTerm` (expressions on labels with
In/NotIn/Exists/DoesNotExist/Gt/Lt, and `matchFields` on `metadata.name`), its operators evaluated by
the same `Requirement` the label selectors use; a term with no requirements matches nothing, as in
the scheduler.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from virt_client.selectors import Operator, Requirement, SelectorError, label_selector_from_dict

_NODE_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
    "Gt": Operator.GREATER_THAN,
    "Lt": Operator.LESS_THAN,
}


def _requirement(labels: Mapping[str, str], expr: Mapping[str, Any]) -> bool:
    operator = _NODE_OPERATORS.get(expr.get("operator", ""))
    values = tuple(str(v) for v in expr.get("values") or [])
    if operator is None or (operator in (Operator.GREATER_THAN, Operator.LESS_THAN) and len(values) != 1):
        return False
    return Requirement(str(expr.get("key", "")), operator, values).matches(labels)


def matches_label_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether `labels` satisfy a LabelSelector (None matches nothing, `{}` everything)."""
    try:
        return label_selector_from_dict(selector).matches(labels)
    except SelectorError:
        return False


def matches_node_selector_term(term: Mapping[str, Any], labels: Mapping[str, str], node_name: str) -> bool:
    exprs = list(term.get("matchExpressions") or [])
    fields = list(term.get("matchFields") or [])
    if not exprs and not fields:
        return False
    if not all(_requirement(labels, expr) for expr in exprs):
        return False
    return all(expr.get("key") == "metadata.name" and _requirement({"metadata.name": node_name}, expr)
               for expr in fields)


def matches_node_selector(selector: Mapping[str, Any], labels: Mapping[str, str], node_name: str) -> bool:
    """A NodeSelector: the terms are ORed."""
    return any(matches_node_selector_term(t, labels, node_name) for t in selector.get("nodeSelectorTerms") or [])
