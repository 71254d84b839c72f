"""Label and field selectors with the syntax and meaning of k8s.io/apimachinery.

Label selectors (`?labelSelector=`, `metav1.LabelSelector`) follow pkg/labels: the operators
`=`, `==`, `!=`, `in`, `notin`, `>`, `<`, bare `key` (exists) and `!key` (does not exist), with
label keys validated as qualified names and values as label values (`virt_client.names`). Field selectors
(`?fieldSelector=`) follow pkg/fields: comma-separated `field=value`, `field==value`,
`field!=value` terms with `\\`, `\\,` and `\\=` escapes in values.

Invariants: pure; selectors are immutable; parsing fails only with `SelectorError`, whose
message says what is wrong; a missing label never equals a value, a missing field equals "".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from virt_client.field_selectors import FieldRequirement, FieldSelector, parse_field_selector
from virt_client.names import label_value, qualified_name
from virt_client.selector_tokens import SelectorError, Token, tokenize

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "LabelSelector",
    "Operator",
    "Requirement",
    "SelectorError",
    "label_selector_from_dict",
    "parse_field_selector",
    "parse_label_selector",
    "selector_from_set",
]


class Operator(StrEnum):
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


_INTEGER = re.compile(r"-?[0-9]+")


def validate_label_key(key: str) -> None:
    """Raise `SelectorError` unless `key` is a qualified name (`[prefix/]name`)."""
    if problems := qualified_name(key):
        raise SelectorError(f'key: Invalid value: "{key}": {"; ".join(problems)}')


def validate_label_value(key: str, value: str) -> None:
    """Raise `SelectorError` unless `value` is a valid label value (63 characters at most)."""
    if problems := label_value(value):
        raise SelectorError(f'values[0][{key}]: Invalid value: "{value}": {"; ".join(problems)}')


@dataclass(frozen=True)
class Requirement:
    """One term of a label selector; `values` are kept sorted and unique."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    @classmethod
    def build(cls, key: str, operator: Operator, values: list[str] | tuple[str, ...]) -> Requirement:
        """Validate like labels.NewRequirement and return the requirement."""
        validate_label_key(key)
        if operator in (Operator.IN, Operator.NOT_IN) and not values:
            raise SelectorError(
                f"values: Invalid value: {list(values)}: for 'in', 'notin' operators, values set can't be empty"
            )
        if operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS) and len(values) != 1:
            raise SelectorError(
                f"values: Invalid value: {list(values)}: exact-match compatibility requires one single value"
            )
        if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
            raise SelectorError(
                f"values: Invalid value: {list(values)}: values set must be empty for exists and does not exist"
            )
        if operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
            if len(values) != 1 or not _INTEGER.fullmatch(values[0]):
                raise SelectorError(
                    f"values[0]: Invalid value: {list(values)}: for 'Gt', 'Lt' operators, the value must be an integer"
                )
        else:
            for value in values:
                validate_label_value(key, value)
        return cls(key, operator, tuple(sorted(set(values))))

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key, "")
        match self.operator:
            case Operator.IN | Operator.EQUALS | Operator.DOUBLE_EQUALS:
                return present and value in self.values
            case Operator.NOT_IN | Operator.NOT_EQUALS:
                return not present or value not in self.values
            case Operator.EXISTS:
                return present
            case Operator.DOES_NOT_EXIST:
                return not present
            case _:
                if not present or not _INTEGER.fullmatch(value):
                    return False
                limit = int(self.values[0])
                return int(value) > limit if self.operator is Operator.GREATER_THAN else int(value) < limit

    def __str__(self) -> str:
        match self.operator:
            case Operator.EXISTS:
                return self.key
            case Operator.DOES_NOT_EXIST:
                return "!" + self.key
            case Operator.IN | Operator.NOT_IN:
                return f"{self.key} {self.operator.value} ({','.join(self.values)})"
            case Operator.GREATER_THAN:
                return f"{self.key}>{self.values[0]}"
            case Operator.LESS_THAN:
                return f"{self.key}<{self.values[0]}"
            case _:
                return f"{self.key}{self.operator.value}{self.values[0]}"


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of requirements; `nothing` selectors (from a nil selector) match no object."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @classmethod
    def everything(cls) -> LabelSelector:
        return cls()

    @classmethod
    def match_nothing(cls) -> LabelSelector:
        return cls(nothing=True)

    @classmethod
    def of(cls, requirements: list[Requirement]) -> LabelSelector:
        return cls(tuple(sorted(requirements, key=lambda r: r.key)))

    @property
    def empty(self) -> bool:
        """True when the selector selects everything."""
        return not self.requirements and not self.nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        found = labels or {}
        return all(r.matches(found) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def selector_from_set(labels: Mapping[str, str]) -> LabelSelector:
    """`key=value` for every label (labels.SelectorFromValidatedSet after validation)."""
    return LabelSelector.of([Requirement.build(k, Operator.EQUALS, [v]) for k, v in labels.items()])


_OPERATORS: dict[Token, Operator] = {
    Token.EQUALS: Operator.EQUALS,
    Token.DOUBLE_EQUALS: Operator.DOUBLE_EQUALS,
    Token.NOT_EQUALS: Operator.NOT_EQUALS,
    Token.IN: Operator.IN,
    Token.NOT_IN: Operator.NOT_IN,
    Token.GREATER_THAN: Operator.GREATER_THAN,
    Token.LESS_THAN: Operator.LESS_THAN,
}


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self) -> tuple[Token, str]:
        return self.tokens[self.pos]

    def take(self) -> tuple[Token, str]:
        token = self.tokens[self.pos]
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return token

    def selector(self) -> LabelSelector:
        requirements: list[Requirement] = []
        while True:
            kind, text = self.peek()
            if kind is Token.END and not requirements:
                return LabelSelector.everything()
            if kind not in (Token.IDENTIFIER, Token.BANG):
                expected = "identifier after ','" if requirements else "!, identifier, or 'end of string'"
                raise SelectorError(f"found '{text}', expected: {expected}")
            try:
                requirements.append(self.requirement())
            except SelectorError as err:
                raise SelectorError(f"unable to parse requirement: {err.message}") from None
            kind, text = self.take()
            if kind is Token.END:
                return LabelSelector.of(requirements)
            if kind is not Token.COMMA:
                raise SelectorError(f"found '{text}', expected: ',' or 'end of string'")

    def requirement(self) -> Requirement:
        negated = self.peek()[0] is Token.BANG
        if negated:
            self.take()
        kind, key = self.take()
        if kind is not Token.IDENTIFIER:
            raise SelectorError(f"found '{key}', expected: identifier")
        after = self.peek()[0]
        if after in (Token.END, Token.COMMA):
            return Requirement.build(key, Operator.DOES_NOT_EXIST if negated else Operator.EXISTS, [])
        kind, text = self.take()
        if negated or kind not in _OPERATORS:
            raise SelectorError(f"found '{text}', expected: =, !=, ==, in, notin, >, <")
        operator = _OPERATORS[kind]
        if operator in (Operator.IN, Operator.NOT_IN):
            return Requirement.build(key, operator, self.value_set())
        kind, text = self.peek()
        if kind in (Token.END, Token.COMMA):
            return Requirement.build(key, operator, [""])
        if kind not in (Token.IDENTIFIER, Token.IN, Token.NOT_IN):
            raise SelectorError(f"found '{text}', expected: identifier")
        self.take()
        return Requirement.build(key, operator, [text])

    def value_set(self) -> list[str]:
        kind, text = self.take()
        if kind is not Token.OPEN:
            raise SelectorError(f"found '{text}', expected: '('")
        values: list[str] = []
        expect_value = True
        while True:
            kind, text = self.take()
            if kind is Token.CLOSE:
                if expect_value:
                    values.append("")
                return values
            if kind is Token.COMMA:
                if expect_value:
                    values.append("")
                expect_value = True
            elif kind in (Token.IDENTIFIER, Token.IN, Token.NOT_IN) and expect_value:
                values.append(text)
                expect_value = False
            else:
                raise SelectorError(f"found '{text}', expected: ',', ')' or identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse the string form of a label selector; "" selects everything."""
    return _Parser(text).selector()


def label_selector_from_dict(sel: Mapping[str, Any] | None) -> LabelSelector:
    """Turn a metav1.LabelSelector into a selector: None matches nothing, {} matches everything."""
    if sel is None:
        return LabelSelector.match_nothing()
    if not isinstance(sel, Mapping):
        raise SelectorError(f"a label selector must be an object, got {type(sel).__name__}")
    match_labels = sel.get("matchLabels") or {}
    expressions = sel.get("matchExpressions") or []
    if not isinstance(match_labels, Mapping) or not isinstance(expressions, list):
        raise SelectorError("matchLabels must be an object and matchExpressions a list")
    requirements: list[Requirement] = []
    for key, value in match_labels.items():
        if not isinstance(value, str):
            raise SelectorError(f"matchLabels[{key}] must be a string")
        requirements.append(Requirement.build(key, Operator.EQUALS, [value]))
    operators = {
        "In": Operator.IN,
        "NotIn": Operator.NOT_IN,
        "Exists": Operator.EXISTS,
        "DoesNotExist": Operator.DOES_NOT_EXIST,
    }
    for expr in expressions:
        if not isinstance(expr, Mapping):
            raise SelectorError(f"matchExpressions items must be objects, got {expr!r}")
        operator = operators.get(expr.get("operator", ""))
        if operator is None:
            raise SelectorError(f'"{expr.get("operator", "")}" is not a valid label selector operator')
        values = expr.get("values") or []
        key = expr.get("key", "")
        if (
            not isinstance(key, str)
            or not isinstance(values, list)
            or not all(isinstance(v, str) for v in values)
        ):
            raise SelectorError("matchExpressions key must be a string and values a list of strings")
        requirements.append(Requirement.build(key, operator, values))
    return LabelSelector.of(requirements)
