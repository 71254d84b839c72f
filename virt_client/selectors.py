"""Label and field selector strings (`?labelSelector=`, `?fieldSelector=`) as predicates.

The syntax of k8s.io/apimachinery: label terms `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`,
`k` (exists) and `!k` (does not exist), comma-separated and all required; field terms `path=value`,
`path==value`, `path!=value` over dotted paths (`metadata.name`, `spec.nodeName`, `status.phase`).

Invariants: pure; a malformed selector raises `ValueError` saying which term; a missing label never
equals a value (but satisfies `!=` and `notin`); a missing field equals "".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

LabelPredicate = Callable[[Mapping[str, str]], bool]
ObjectPredicate = Callable[[Mapping[str, Any]], bool]

_SET_TERM = re.compile(r"^\s*(?P<key>[^\s!=,()]+)\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)\s*$")
_EQ_TERM = re.compile(r"^\s*(?P<key>[^\s!=,()]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=,()]*)\s*$")
_EXISTS_TERM = re.compile(r"^\s*(?P<neg>!?)\s*(?P<key>[^\s!=,()]+)\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split on commas outside parentheses."""
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(selector):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    return [t for t in terms if t.strip()]


def _label_term(term: str) -> LabelPredicate:
    if m := _SET_TERM.match(term):
        key, values = m["key"], {v.strip() for v in m["values"].split(",") if v.strip()}
        if m["op"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if m := _EQ_TERM.match(term):
        key, value = m["key"], m["value"]
        if m["op"] == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _EXISTS_TERM.match(term):
        key = m["key"]
        if m["neg"]:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise ValueError(f"unable to parse requirement: {term.strip()!r}")


def label_matcher(selector: str | None) -> LabelPredicate:
    """A predicate over a label map; no selector (or an empty one) matches everything."""
    terms = [_label_term(t) for t in _split_terms(selector or "")]
    return lambda labels: all(term(labels) for term in terms)


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string value of a dotted field path ("" when missing)."""
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def field_matcher(selector: str | None) -> ObjectPredicate:
    """A predicate over an object; no selector (or an empty one) matches everything."""
    terms: list[tuple[str, bool, str]] = []
    for term in _split_terms(selector or ""):
        m = _EQ_TERM.match(term)
        if not m:
            raise ValueError(f"invalid selector: {term.strip()!r}; can't understand it")
        terms.append((m["key"], m["op"] == "!=", m["value"]))
    return lambda obj: all((field_value(obj, path) == value) != negate for path, negate, value in terms)


def object_matcher(label_selector: str | None, field_selector: str | None) -> ObjectPredicate:
    """Both selectors over a whole object (labels from `metadata.labels`)."""
    labels, fields = label_matcher(label_selector), field_matcher(field_selector)
    return lambda obj: labels((obj.get("metadata") or {}).get("labels") or {}) and fields(obj)
