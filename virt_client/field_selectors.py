"""Field selectors (`?fieldSelector=`) with the syntax and meaning of k8s.io/apimachinery/pkg/fields.

A selector is a comma-separated list of `field=value`, `field==value` or `field!=value` terms;
in values, `\\`, `\\,` and `\\=` stand for a backslash, comma and equals sign. The server
decides which field names a resource supports (see `FieldSelector.fields`).

Invariants: pure; selectors are immutable; parsing fails only with `SelectorError`; a field the
object does not have reads as "" (so `spec.nodeName=` selects unscheduled pods).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from virt_client.selector_tokens import SelectorError

_TERM_OPERATORS = ("!=", "==", "=")


def escape_field_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_field_value(value: str) -> str:
    """Undo `escape_field_value`; reject unknown escapes and bare `,` or `=`."""
    out: list[str] = []
    escaped = False
    for char in value:
        if escaped:
            if char not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{char}")
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            raise SelectorError(f"invalid field selector: unescaped character in value: {char}")
        else:
            out.append(char)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    equal: bool  # True for = and ==, False for !=
    value: str

    def matches(self, get: Callable[[str], str | None]) -> bool:
        return ((get(self.field) or "") == self.value) == self.equal

    def __str__(self) -> str:
        return f"{self.field}{'=' if self.equal else '!='}{escape_field_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    """A conjunction of field terms; the empty selector matches everything."""

    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    @property
    def fields(self) -> tuple[str, ...]:
        """The distinct field names the selector uses, sorted."""
        return tuple(sorted({r.field for r in self.requirements}))

    def matches(self, get: Callable[[str], str | None]) -> bool:
        """`get(field)` returns the object's value for a field name, or None when it has none."""
        return all(r.matches(get) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _split_terms(text: str) -> list[str]:
    terms: list[str] = []
    start = 0
    escaped = False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in _TERM_OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def parse_field_selector(text: str) -> FieldSelector:
    """Parse a field selector; "" selects everything."""
    if not text:
        return FieldSelector()
    requirements: list[FieldRequirement] = []
    for term in sorted(_split_terms(text)):
        if not term:
            continue
        parts = _split_term(term)
        if parts is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, value = parts
        requirements.append(FieldRequirement(field, op != "!=", unescape_field_value(value)))
    return FieldSelector(tuple(requirements))
